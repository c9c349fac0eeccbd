"""The «Моя школа» ``Schedule`` a regional journal gives the federal system, as lessons, homework and marks.

Contract followed: the methodical recommendations on exchanging data with ФГИС «Моя школа»
(Минцифры, protocol of 01.12.2022 N 52; «Единые требования к взаимодействию ФГИС "Моя
школа" с региональными информационными системами», the Schedule exchange of Приложение 5):
the federal side pulls ``GET [base]/Schedule/{id}?start=YYYY-MM-DD&end=YYYY-MM-DD`` from the
regional journal with OAuth 2 client credentials (RFC 6749 §4.4). The annex's full field tables
were not at hand; the names below are those the recommendations' summary gives (``school[]``,
``class[]``, ``lesson[]``, ``subject``, ``topic``, ``homework``, ``period``, ``classroom``,
``attendance.code``, ``score[{code, weight, score, scoreSystem}]``, ``OperationOutcome``), and
where they stop this module chooses and says so ("chosen:").

Config (``type: myschool``)::

    name: region-journal
    org: gym5
    url: https://journal.region.example/fhir      # [base]
    token_url: https://journal.region.example/oauth/token
    client_id: parta
    client_secret: ...
    scope: ""                                     # optional
    students: ["1000123456", "1000123457"]        # the ids Schedule is asked for (roster ids)
    timezone: Europe/Moscow                       # for times given without an offset
    days_ahead: 14
    days_back: 7
    now: 2026-09-07T08:00:00+03:00                # tests only

Response (one per student)::

    {"resourceType": "Schedule", "id": "...",
     "school": [{"id": "...", "name": "...",
       "class": [{"id": "...", "name": "5А",
         "lesson": [{"id": "L-1", "date": "2026-09-07",
                     "start": "09:00" | "2026-09-07T09:00:00+03:00", "end": "09:45",   # or ...
                     "period": 1 | {"number": 1, "start": "09:00", "end": "09:45"},     # chosen
                     "subject": "Математика" | {"name": "Математика", "code": "..."},
                     "topic": "...", "homework": "..." | [{"id", "text"|"description", "dueDate"}],
                     "classroom": "12" | {"name": "12"},
                     "teacher": "Орлова В. П." | {"lastName", "firstName", "middleName"} | {"name"},
                     "status": "cancelled",                                           # chosen
                     "attendance": {"code": "н"},
                     "score": [{"id"?, "code": "...", "weight": 2, "score": "5", "scoreSystem": "5"}]}]}]}]}

Mapping:

- each lesson → :class:`Lesson` (``item_id`` = the lesson's ``id``; the class by title,
  ``class_title`` = the class's ``name``). Lessons of a class appear in every pupil's Schedule;
  they are kept once (the first reading wins).
- its ``homework`` → a :class:`LineItem` (``item_id`` = ``"{lesson id}/homework"``, or
  ``"{lesson id}/homework/{homework id}"`` for a list); chosen: ``due`` = the homework's
  ``dueDate`` when given, else the lesson's date (an e-diary writes homework on the lesson it is
  for); ``assigned`` = ``assignDate`` when given.
- each ``score`` → a :class:`Result` for the pupil asked for (``student_id`` = that id;
  ``item_id`` = ``"{lesson id}/{student id}/{score id or position}"``; ``line_item_id`` = the
  lesson's id, as a «Моя школа» mark is given at a lesson). ``text_score`` = ``score`` (or
  ``code`` when ``score`` is absent) as written, ``score`` = its number when it is one ("5",
  "4.5"; not "зачёт"); ``weight`` and ``scoreSystem`` have no place in the model and are dropped.
- ``attendance``: chosen: not mapped. An absence is not a mark (a Result with ``text_score`` "н"
  would count as graded) and the model has no attendance record; marks written as an absence
  code ("н", "нб", "б", "у", "п", "оп") are likewise skipped.

Errors: an ``OperationOutcome`` body (``issue[].severity/code/diagnostics``, FHIR R4 style), with
any HTTP status, → :class:`SourceError` with the diagnostics; ``retry`` only for the issue codes
``transient``/``timeout``/``throttled`` or a 5xx without a body. A 401 is retried once with a
new token. (``HttpClient.get`` raises on 4xx before the body can be read, so this module makes
its own request through the shared session; see :func:`fetch_schedule`.)

Validators: per student ``"{id}.etag"``/``"{id}.last_modified"``, ``"hash"`` (sha256 of all the
bodies) and ``"window"`` (its first day); None when nothing changed in the same window.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping
from datetime import date, datetime, time, tzinfo
from typing import Any
from urllib.parse import quote

from bridge.model import Lesson, LessonStatus, LineItem, Record, Result, ScoreStatus, Snapshot, SourceError
from bridge.sources.base import DayWindow, source_type
from bridge.sources.http import HttpClient, OAuth2ClientCredentials

#: attendance codes that journals also write in the marks column; never a mark
ABSENCE_CODES = frozenset({"н", "нб", "б", "у", "п", "оп", "ув", "бол"})
_RETRY_ISSUES = frozenset({"transient", "timeout", "throttled", "lock-error", "no-store"})
_NUMBER = re.compile(r"^\s*\d+(?:[.,]\d+)?\s*$")


def _s(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _name(value: Any, *keys: str) -> str:
    """A string, or the first non-empty of ``keys`` of a mapping."""
    if isinstance(value, Mapping):
        for key in keys:
            if _s(value.get(key)):
                return _s(value[key])
        return ""
    return _s(value)


def person_name(value: Any) -> str:
    """``"Орлова Вера Павловна"`` from a string, ``{"name"}`` or ``{"lastName", "firstName", "middleName"}``."""
    if isinstance(value, Mapping) and not _s(value.get("name")):
        return " ".join(_s(value.get(k)) for k in ("lastName", "firstName", "middleName") if _s(value.get(k)))
    return _name(value, "name", "fullName", "title")


def number(text: str) -> float | None:
    """The mark as a number when it is one ("5", "4,5"), else None."""
    return float(text.replace(",", ".")) if _NUMBER.match(text) else None


def outcome_error(place: str, body: Any, status: int) -> SourceError | None:
    """A SourceError from an ``OperationOutcome`` body, or None when ``body`` is not one."""
    if not isinstance(body, Mapping) or body.get("resourceType") != "OperationOutcome":
        return None
    issues = [i for i in body.get("issue") or [] if isinstance(i, Mapping)]
    errors = [i for i in issues if _s(i.get("severity")).lower() in ("fatal", "error")] or issues
    text = "; ".join(f"{_s(i.get('code')) or 'error'}: {_s(i.get('diagnostics')) or _s(i.get('details'))}"
                     for i in errors) or "no diagnostics"
    retry = any(_s(i.get("code")).lower() in _RETRY_ISSUES for i in errors) or status >= 500
    fix = "it will be asked again" if retry else "check the source's url, students and credentials in the " \
        "bridge's config, or ask the journal's operator"
    return SourceError(f"{place}: the journal answered (HTTP {status}) {text}; {fix}", retry=retry)


async def fetch_schedule(http: HttpClient, auth: OAuth2ClientCredentials, url: str, params: Mapping[str, str],
                         validators: Mapping[str, str]) -> tuple[Any, bytes, dict] | None:
    """GET one Schedule: ``(json, raw body, validators)``, or None on 304.

    Through :meth:`HttpClient.fetch` (conditional headers, one retry with a new token after 401),
    reading the body of 4xx/5xx answers, where the journal puts its ``OperationOutcome``.
    Raises :class:`SourceError`.
    """
    # HttpClient.fetch asks again once with a new token after a 401 itself
    a = await http.fetch(url, validators=validators, params=params, auth=auth,
                         headers={"Accept": "application/fhir+json, application/json"})
    if a.status == 304:
        return None
    raw, out, status = a.body, a.validators, a.status
    try:
        body = json.loads(raw) if raw.strip() else None
    except ValueError:
        body = None
    error = outcome_error(url, body, status)
    if error is not None:
        raise error
    if status >= 400:
        raise SourceError(f"{url}: HTTP {status}; " + ("it will be asked again" if status >= 500 or status in
                          (408, 429) else "check the url, students and credentials in the bridge's config"),
                          retry=status >= 500 or status in (408, 429))
    if not isinstance(body, Mapping) or body.get("resourceType") != "Schedule":
        raise SourceError(f"{url}: the answer is not a «Моя школа» Schedule (resourceType "
                          f"{body.get('resourceType') if isinstance(body, Mapping) else None!r}); check 'url' "
                          "in the bridge's config", retry=False)
    return body, raw, out


@source_type("myschool")
class MySchoolSource:
    """The «Моя школа» Schedule of each configured student; see the module docstring."""

    def __init__(self, config: Mapping, now: Callable[[], datetime] | None = None):
        self.name: str = str(config.get("name", "myschool"))
        self.org: str = str(config.get("org", ""))
        missing = [k for k in ("url", "token_url", "client_id", "client_secret") if not config.get(k)]
        if missing:
            raise ValueError(f"sources[{self.name}]: missing {', '.join(missing)}")
        self.url = str(config["url"]).rstrip("/")
        self.auth = OAuth2ClientCredentials(str(config["token_url"]), str(config["client_id"]),
                                            str(config["client_secret"]), str(config.get("scope") or ""))
        self.students = [str(s) for s in config.get("students") or []]
        if not self.students:
            raise ValueError(f"sources[{self.name}]: 'students' must list the ids the Schedule is asked for")
        self.days = DayWindow.from_config(config, now)
        self.tz: tzinfo = self.days.tz
        self._now = self.days.now

    def window(self) -> tuple[date, date]:
        """``(first, last)`` day asked for, both included."""
        return self.days.dates()

    async def read(self, http: HttpClient, validators: Mapping[str, str]) -> Snapshot | None:
        """Lessons, homework and marks of every student, or None when nothing changed.

        Raises :class:`SourceError` (with the journal's diagnostics for an OperationOutcome).
        """
        start, end = self.window()
        params = {"start": start.isoformat(), "end": end.isoformat()}
        same_window = validators.get("window") == start.isoformat()
        bodies: dict[str, tuple[Any, bytes]] = {}
        out: dict[str, str] = {"window": start.isoformat()}
        for conditional in (same_window, False):
            for student in self.students:
                if student in bodies:
                    continue
                v = {k: validators.get(f"{student}.{k}", "") for k in ("etag", "last_modified")} if conditional \
                    else {}
                got = await fetch_schedule(http, self.auth, f"{self.url}/Schedule/{quote(student, safe='')}",
                                           params, v)
                if got is None:
                    continue
                body, raw, student_validators = got
                bodies[student] = (body, raw)
                out.update({f"{student}.{k}": val for k, val in student_validators.items()})
            if not bodies:
                return None          # every Schedule answered 304
            if len(bodies) == len(self.students):
                break
            # some answered 304 and some changed: the 304 ones have no body, ask them again plainly
        lost = [s for s in self.students if s not in bodies]
        if lost:
            raise SourceError(f"{self.url}/Schedule: no Schedule for {', '.join(lost)} even unconditionally "
                              "(HTTP 304); it will be asked again")
        digest = hashlib.sha256(b"\0".join(bodies[s][1] for s in self.students)).hexdigest()
        out["hash"] = digest
        if same_window and validators.get("hash") == digest:
            return None
        records: dict[tuple[str, str, str], Record] = {}
        for student in self.students:
            for record in self.parse(bodies[student][0], student):
                records.setdefault(record.key, record)
        return Snapshot(records=tuple(records.values()), complete=True, validators=out, since=self.window()[0])

    # -- mapping --------------------------------------------------------------------------------

    def _moment(self, day: date | None, value: Any) -> datetime | None:
        text = _s(value)
        if not text:
            return None
        try:
            if "T" in text or len(text) > 8 and text[4] == "-":
                moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
            elif day is not None:
                moment = datetime.combine(day, time.fromisoformat(text))
            else:
                return None
        except ValueError:
            return None
        return (moment if moment.tzinfo else moment.replace(tzinfo=self.tz)).astimezone(self.tz)

    def parse(self, body: Mapping, student: str) -> list[Record]:
        """The records of one Schedule answer for ``student`` (see the module docstring)."""
        out: list[Record] = []
        for school in body.get("school") or []:
            for klass in (school.get("class") or []) if isinstance(school, Mapping) else []:
                if not isinstance(klass, Mapping):
                    continue
                class_title = _name(klass, "name", "title") or _s(klass.get("id"))
                for lesson in klass.get("lesson") or []:
                    if isinstance(lesson, Mapping) and _s(lesson.get("id")):
                        out.extend(self._lesson(lesson, class_title, student))
        return out

    def _lesson(self, raw: Mapping, class_title: str, student: str) -> list[Record]:
        lesson_id = _s(raw["id"])
        period = raw.get("period")
        start_raw, end_raw = raw.get("start"), raw.get("end")
        if isinstance(period, Mapping):
            start_raw, end_raw = start_raw or period.get("start"), end_raw or period.get("end")
        day: date | None = None
        try:
            day = date.fromisoformat(_s(raw.get("date"))[:10]) if _s(raw.get("date")) else None
        except ValueError:
            day = None
        start = self._moment(day, start_raw)
        if day is None and start is not None:
            day = start.date()
        if start is None and day is not None:
            start = datetime.combine(day, time(), self.tz)      # the day is known, not the time
        subject = _name(raw.get("subject"), "name", "title", "code")
        topic = _s(raw.get("topic"))
        homework = raw.get("homework")
        homeworks: list[Mapping] = []
        if isinstance(homework, str) and homework.strip():
            homeworks = [{"text": homework}]
        elif isinstance(homework, Mapping):
            homeworks = [homework]
        elif isinstance(homework, list):
            homeworks = [h if isinstance(h, Mapping) else {"text": h} for h in homework if _s(h)]
        texts = [_name(h, "text", "description", "value", "name") for h in homeworks]
        status = _s(raw.get("status")).lower()
        records: list[Record] = [Lesson(
            source=self.name, item_id=lesson_id, class_title=class_title, start=start,
            end=self._moment(day, end_raw), subject=subject, topic=topic,
            teacher=person_name(raw.get("teacher")),
            location=_name(raw.get("classroom"), "name", "number", "title"),
            status=LessonStatus.CANCELLED if status in ("cancelled", "canceled", "отменён", "отменен")
            else LessonStatus.SCHEDULED,
            homework="\n".join(t for t in texts if t))]
        for i, (hw, text) in enumerate(zip(homeworks, texts, strict=True)):
            if not text:
                continue
            hw_id = f"{lesson_id}/homework" if len(homeworks) == 1 and not _s(hw.get("id")) \
                else f"{lesson_id}/homework/{_s(hw.get('id')) or i}"
            due = self._date(hw.get("dueDate") or hw.get("due")) or day
            records.append(LineItem(
                source=self.name, item_id=hw_id, class_title=class_title, title=text.splitlines()[0][:120],
                description=text, subject=subject, category="homework",
                assigned=self._date(hw.get("assignDate") or hw.get("assigned")), due=due,
                teacher_id=_s(raw.get("teacherId")) or None))
        for i, score in enumerate(raw.get("score") or []):
            if not isinstance(score, Mapping):
                continue
            text = _s(score.get("score")) or _s(score.get("code"))
            if not text or text.lower() in ABSENCE_CODES:
                continue
            records.append(Result(
                source=self.name, item_id=f"{lesson_id}/{student}/{_s(score.get('id')) or i}",
                line_item_id=lesson_id, student_id=student, class_title=class_title,
                status=ScoreStatus.FULLY_GRADED, score=number(text), text_score=text,
                comment=_s(score.get("comment")), score_date=day, title=topic or subject, subject=subject))
        return records

    @staticmethod
    def _date(value: Any) -> date | None:
        try:
            return date.fromisoformat(_s(value)[:10]) if _s(value) else None
        except ValueError:
            return None

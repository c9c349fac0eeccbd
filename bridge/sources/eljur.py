"""ЭлЖур's published API (v1.4) as an optional source: timetable, homework and marks of given pupils.

Sources followed: ЭлЖур API v1.4 as published at eljur.ru/api (not at hand; the shapes below were
checked against two public clients: BetterJournal/EljurAPI, zod models of the answers written from
observation, and serezk4/eljurbot_public, a Java client; their code is not copied). Every call is
``GET {base}{method}`` with ``devkey`` (issued by ЭлЖур to the developer), ``vendor`` (the
school's sub-domain), ``auth_token`` and ``out_format=json``; ``getschedule``, ``gethomework`` and
``getmarks`` also take ``student`` and ``days=YYYYMMDD-YYYYMMDD``. Every answer is
``{"response": {"state": 200, "error": null, "result": {...}}}``; a failure has ``state`` ≠ 200
and ``error`` a sentence ("не удалось авторизовать разработчика").

Config (``type: eljur``)::

    name: eljur-gym5
    org: gym5
    vendor: gym5                  # https://gym5.eljur.ru
    devkey: ...
    auth_token: ...               # preferred; else login + password (the ``auth`` method)
    students: ["12345", {"id": "12346", "class": "6Б"}]
    url: https://api.eljur.ru/api/   # default; or https://{vendor}.eljur.ru/apiv3/
    timezone: Europe/Moscow
    days_ahead: 14
    days_back: 7
    now: 2026-09-07T08:00:00+03:00   # tests only

Result shapes (``students`` is an object keyed by the pupil's id; a list of objects with
``name`` = the id is accepted too; ``items`` likewise an object or a list)::

    getschedule (rings=true): {"students": {"12345": {"name": "12345", "title": "Иванов Иван",
        "days": {"20260907": {"name": "20260907", "title": "Понедельник", "alert": "...",
            "items": {"1": {"num": "1", "name": "Алгебра", "room": "12", "teacher": "Орлова В. П.",
                            "starttime": "08:30:00", "endtime": "09:15:00", "topic": "...", "grp": "..."}}}}}}}
    gethomework: {"students": {"12345": {..., "days": {"20260907": {"name": "20260907", "items": {
        "Алгебра": {"name": "Алгебра", "grp": "", "homework": {"1": {"id": 1, "value": "§1",
                    "individual": false}}, "files": [...]}}}}}}}
    getmarks: {"students": {"12345": {..., "lessons": [{"name": "Алгебра", "average": "4.5",
        "marks": [{"value": "5", "weight": 1, "date": "2026-09-07", "lesson_id": "…", "nm": "1",
                   "comment": "", "lesson_comment": "…", "mtype": {"type": "Контрольная работа"}}]}]}}}
    getrules: {"relations": {"students": {"12345": {"class": "5А", "title": "..."}}}}

Mapping (chosen where the API says nothing):

- the class: a student entry's ``class``, else ``relations.students[id].class`` from one
  ``getrules`` call (``class_title``; the router resolves it).
- each timetable item → :class:`Lesson`, ``item_id`` = ``"{class}/{YYYYMMDD}/{num}[/{grp}]"``
  (one per class slot, so pupils of one class share it); times from ``starttime``/``endtime``
  in ``timezone``; ЭлЖур has no cancellation flag, a removed lesson simply disappears.
- each homework → :class:`LineItem`, ``item_id`` = ``"{class}/{YYYYMMDD}/{subject}/{id}"``,
  ``due`` = the day it is listed under (the lesson it is for). Individual homework
  (``individual: true``) is left out: a LineItem is for the whole class.
- each mark → :class:`Result`, ``item_id`` = ``"{student}/{date}/{lesson_id or subject}/{nm or
  position}"``, ``line_item_id`` = ``"{class}/{YYYYMMDD}/{subject}"``; ``text_score`` = ``value``
  as written ("5", "4/5"), ``score`` its number when it is one; ``comment`` = ``comment``; the
  title is ``mtype.type`` or ``lesson_comment`` or the subject. Absences in the marks column
  ("н", "оп"...) are not marks and are skipped.

Validators: ``{"hash": sha256 of the answers, "window": first day}`` (ЭлЖур sends no ETag): None
when both are unchanged. Errors: :class:`SourceError` with ЭлЖур's ``error`` text; ``retry``
only for ``state`` ≥ 500 or a network failure.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime, time, tzinfo
from typing import Any

import aiohttp

from bridge.model import Lesson, LineItem, Record, Result, ScoreStatus, Snapshot, SourceError
from bridge.sources.base import DayWindow, source_type
from bridge.sources.http import HttpClient

DEFAULT_URL = "https://api.eljur.ru/api/"
ABSENCE_VALUES = frozenset({"н", "нб", "оп", "б", "у", "п", "ув"})
_NUMBER = re.compile(r"^\s*\d+(?:[.,]\d+)?\s*$")


def _s(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _entries(value: Any, key: str = "name") -> Iterable[tuple[str, Mapping]]:
    """``(key, entry)`` pairs of an object keyed by ids, or of a list of objects carrying ``key``."""
    if isinstance(value, Mapping):
        return [(str(k), v) for k, v in value.items() if isinstance(v, Mapping)]
    if isinstance(value, list):
        return [(_s(v.get(key)), v) for v in value if isinstance(v, Mapping)]
    return []


def _day(text: str) -> date | None:
    try:
        return datetime.strptime(text[:10].replace("-", ""), "%Y%m%d").date()
    except ValueError:
        return None


@source_type("eljur")
class EljurSource:
    """ЭлЖур's timetable, homework and marks of the configured pupils; see the module docstring."""

    def __init__(self, config: Mapping, now: Callable[[], datetime] | None = None):
        self.name: str = str(config.get("name", "eljur"))
        self.org: str = str(config.get("org", ""))
        missing = [k for k in ("vendor", "devkey") if not config.get(k)]
        if not config.get("auth_token") and not (config.get("login") and config.get("password")):
            missing.append("auth_token (or login and password)")
        if missing:
            raise ValueError(f"sources[{self.name}]: missing {', '.join(missing)}")
        self.url = str(config.get("url") or DEFAULT_URL)
        if not self.url.endswith("/"):
            self.url += "/"
        self.vendor, self.devkey = str(config["vendor"]), str(config["devkey"])
        self.auth_token: str | None = _s(config.get("auth_token")) or None
        self.login, self.password = _s(config.get("login")), _s(config.get("password"))
        self.students: list[tuple[str, str]] = []        # (id, class title or "")
        for entry in config.get("students") or []:
            if isinstance(entry, Mapping):
                self.students.append((_s(entry.get("id")), _s(entry.get("class") or entry.get("class_title"))))
            else:
                self.students.append((_s(entry), ""))
        if not self.students or not all(s for s, _ in self.students):
            raise ValueError(f"sources[{self.name}]: 'students' must list ЭлЖур pupil ids")
        self.days = DayWindow.from_config(config, now)
        self.tz: tzinfo = self.days.tz
        self._now = self.days.now
        self._classes: dict[str, str] = {s: c for s, c in self.students if c}

    def window(self) -> tuple[date, date]:
        """``(first, last)`` day asked for, both included."""
        return self.days.dates()

    async def call(self, http: HttpClient, method: str, **params: str) -> tuple[Mapping, bytes]:
        """``(result, raw body)`` of one API method. Raises :class:`SourceError` with ЭлЖур's error text."""
        url = self.url + method
        query = {"devkey": self.devkey, "vendor": self.vendor, "out_format": "json", **params}
        if method != "auth":
            query["auth_token"] = await self._token(http)
        try:
            async with http.session.get(url, params=query) as r:
                raw, status = await r.read(), r.status
        except aiohttp.ClientError as e:
            raise SourceError(f"{url}: {e}") from e
        # ЭлЖур puts its error into the body with an HTTP 4xx too, so the body is read first
        try:
            response = json.loads(raw).get("response")
        except (ValueError, AttributeError):
            response = None
        if not isinstance(response, Mapping):
            raise SourceError(f"{url}: HTTP {status}, not an ЭлЖур API answer; "
                              + ("it will be asked again" if status >= 500 else "check 'url' in the bridge's config"),
                              retry=status >= 500)
        state = int(response["state"]) if _s(response.get("state")).isdigit() else status
        if state != 200 or response.get("error"):
            retry = state >= 500
            fix = "it will be asked again" if retry else "check devkey, vendor, auth_token and students in the " \
                "bridge's config"
            raise SourceError(f"{url} ({method}): ЭлЖур answered {state}: {_s(response.get('error'))}; {fix}",
                              retry=retry)
        result = response.get("result")
        return (result if isinstance(result, Mapping) else {}), raw

    async def _token(self, http: HttpClient) -> str:
        if self.auth_token is None:
            result, _ = await self.call(http, "auth", login=self.login, password=self.password)
            if not _s(result.get("token")):
                raise SourceError(f"{self.url}auth: no token for login {self.login}; check login and password",
                                  retry=False)
            self.auth_token = _s(result["token"])
        return self.auth_token

    async def read(self, http: HttpClient, validators: Mapping[str, str]) -> Snapshot | None:
        """Lessons, homework and marks of the window, or None when the answers are unchanged.

        Raises :class:`SourceError`.
        """
        first, last = self.window()
        days = f"{first:%Y%m%d}-{last:%Y%m%d}"
        if any(not c for _, c in self.students) and len(self._classes) < len(self.students):
            rules, _ = await self.call(http, "getrules")
            for sid, pupil in _entries((rules.get("relations") or {}).get("students")):
                self._classes.setdefault(sid, _s(pupil.get("class")))
        answers: list[tuple[str, str, Mapping]] = []
        raws: list[bytes] = []
        for student, _ in self.students:
            for method, extra in (("getschedule", {"rings": "true"}), ("gethomework", {}), ("getmarks", {})):
                result, raw = await self.call(http, method, student=student, days=days, **extra)
                answers.append((student, method, result))
                raws.append(raw)
        digest = hashlib.sha256(b"\0".join(raws)).hexdigest()
        out = {"hash": digest, "window": first.isoformat()}
        if validators.get("hash") == digest and validators.get("window") == out["window"]:
            return None
        records: dict[tuple[str, str, str], Record] = {}
        for student, method, result in answers:
            for record in self.parse(method, result, student):
                records.setdefault(record.key, record)
        return Snapshot(records=tuple(records.values()), complete=True, validators=out, since=first)

    def parse(self, method: str, result: Mapping, student: str) -> list[Record]:
        """The records of one method's ``result`` for ``student``."""
        klass = self._classes.get(student, "")
        out: list[Record] = []
        for sid, pupil in _entries(result.get("students")):
            if sid and sid != student:
                continue
            if method == "getmarks":
                out.extend(self._marks(pupil, student, klass))
                continue
            for day_key, day in _entries(pupil.get("days")):
                when = _day(day_key or _s(day.get("name")))
                if when is None:
                    continue
                for item_key, item in _entries(day.get("items")):
                    if method == "getschedule":
                        out.append(self._lesson(item, item_key, when, klass or student))
                    else:
                        out.extend(self._homework(item, item_key, when, klass or student))
        return out

    def _moment(self, day: date, value: Any) -> datetime | None:
        try:
            return datetime.combine(day, time.fromisoformat(_s(value)), self.tz) if _s(value) else None
        except ValueError:
            return None

    def _lesson(self, item: Mapping, key: str, day: date, klass: str) -> Lesson:
        num = _s(item.get("num")) or key
        grp = _s(item.get("grp"))
        start = self._moment(day, item.get("starttime")) or datetime.combine(day, time(), self.tz)
        return Lesson(source=self.name, item_id=f"{klass}/{day:%Y%m%d}/{num}" + (f"/{grp}" if grp else ""),
                      class_title=klass, start=start, end=self._moment(day, item.get("endtime")),
                      subject=_s(item.get("name")), topic=_s(item.get("topic")), teacher=_s(item.get("teacher")),
                      location=_s(item.get("room")))

    def _homework(self, item: Mapping, key: str, day: date, klass: str) -> list[LineItem]:
        subject = _s(item.get("name")) or key
        out = []
        for hw_key, hw in _entries(item.get("homework"), key="id"):
            text = _s(hw.get("value"))
            if not text or hw.get("individual"):
                continue
            hw_id = _s(hw.get("id")) or hw_key
            out.append(LineItem(source=self.name, item_id=f"{klass}/{day:%Y%m%d}/{subject}/{hw_id}", class_title=klass,
                                title=text.splitlines()[0][:120], description=text,
                                subject=subject, category="homework", due=day))
        return out

    def _marks(self, pupil: Mapping, student: str, klass: str) -> list[Result]:
        out = []
        for _, lesson in _entries(pupil.get("lessons")):
            subject = _s(lesson.get("name"))
            for i, mark in enumerate(lesson.get("marks") or []):
                if not isinstance(mark, Mapping):
                    continue
                value = _s(mark.get("value"))
                if not value or value.lower() in ABSENCE_VALUES:
                    continue
                when = _day(_s(mark.get("date")))
                day = f"{when:%Y%m%d}" if when else _s(mark.get("date"))
                mtype = mark.get("mtype")
                title = (_s(mtype.get("type")) if isinstance(mtype, Mapping) else "") \
                    or _s(mark.get("lesson_comment")) or subject
                out.append(Result(
                    source=self.name,
                    item_id=f"{student}/{day}/{_s(mark.get('lesson_id')) or subject}/{_s(mark.get('nm')) or i}",
                    line_item_id=f"{klass or student}/{day}/{subject}", student_id=student, class_title=klass,
                    status=ScoreStatus.FULLY_GRADED, score=float(value.replace(",", ".")) if _NUMBER.match(value)
                    else None, text_score=value, comment=_s(mark.get("comment")), score_date=when, title=title,
                    subject=subject))
        return out

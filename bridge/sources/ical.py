"""An iCalendar (RFC 5545) timetable as :class:`~bridge.model.Lesson` records.

Config (one entry of the bridge's ``sources:`` list, ``type: ical``)::

    name: gym5-5a-timetable      # unique in the config
    org: gym5
    path: /srv/timetables/5a.ics # a file ...
    url: https://journal.example/ical/5a.ics   # ... or a subscribed feed (exactly one of the two)
    class_id: class-5a           # or class_title: "5А"; when both are absent, each VEVENT's
                                 # first CATEGORIES value is taken as the class title
    timezone: Europe/Moscow      # for floating times (RFC 5545 §3.3.5 form #1); default Europe/Moscow
    days_ahead: 14               # the window read, in days after today (default 14) ...
    days_back: 1                 # ... and before it (default 1)
    now: 2026-09-07T08:00:00+03:00   # tests only: the moment the window is relative to

What one reading gives: every occurrence whose time overlaps the window
``[midnight(today - days_back), midnight(today + days_ahead + 1))`` in ``timezone``, as a
:class:`Lesson`, in a complete :class:`Snapshot` (a lesson missing from it was withdrawn or
left the window). All datetimes are timezone-aware, in ``timezone``.

Mapping (RFC 5545 §3.6.1 VEVENT, §3.8):

- RRULE/RDATE series are expanded by ``recurring_ical_events`` (which applies RECURRENCE-ID
  overrides, §3.8.4.4, and EXDATE, §3.8.5.1). It keeps an override with ``STATUS:CANCELLED``
  in the expansion (it does not drop it), and so does this module: the occurrence stays, with
  :attr:`LessonStatus.CANCELLED`, so that the room can be told the lesson is off.
- One-off VEVENTs (no RRULE, RDATE or RECURRENCE-ID) are read as they are: the expansion would
  fold several one-offs sharing a UID into one, which one-event-per-lesson exporters produce.
- ``X-WR-TIMEZONE`` (Google, Apple) is applied first with ``x_wr_timezone.to_standard``.
- ``item_id``: ``"{UID}/{RECURRENCE-ID in UTC, ISO 8601}"`` for an occurrence of a series (the
  RECURRENCE-ID is the original start, so a moved occurrence keeps its id), and
  ``"{UID}/{DTSTART in UTC}"`` for a one-off (its start is all that tells such lessons apart
  when an exporter reuses a UID). E.g. ``"math-5a@school/2026-09-07T06:00:00+00:00"``.
- ``sequence``: the SEQUENCE of the component the occurrence comes from (the override, or the
  series' main component); not the highest of the series, which ``recurring_ical_events``
  writes into every occurrence and which would change every lesson when one is edited.
- SUMMARY → ``subject``; DESCRIPTION → ``topic``, except the part after a homework label
  ("Домашнее задание:", "ДЗ:", "Homework:") which goes to ``homework``; LOCATION → ``location``;
  STATUS:CANCELLED → ``status``.
- ``online_url``: the first ``https://`` URL found in URL, X-GOOGLE-CONFERENCE, LOCATION,
  DESCRIPTION, in that order (plain ``http`` links are not offered as call links).
- ``teacher``, first that gives a name: an ``X-…TEACHER…`` property (``X-TEACHER``,
  ``X-UNTIS-TEACHER``...), the ORGANIZER's CN, the CN of an ATTENDEE with ``ROLE=CHAIR``.
  Other attendees are not taken (in school feeds they are often the pupils), nor are e-mail
  addresses when there is no CN.

Validators: ``{"hash": sha256 of the bytes, "window": first day of the window}`` plus, for a
URL, the ``etag``/``last_modified`` the server sent. :meth:`IcalSource.read` returns None when
the content and the window's first day are both unchanged; once the day changes the feed is
read (and, for a URL, fetched unconditionally) again so that the window moves on.

Errors: :class:`SourceError` naming the file or URL (and the line when it can be found) and the
fix; ``retry=False`` for a malformed calendar or a missing file.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import icalendar
import recurring_ical_events
import x_wr_timezone

from bridge.model import Lesson, LessonStatus, Snapshot, SourceError
from bridge.sources.base import source_type
from bridge.sources.http import HttpClient

DEFAULT_TIMEZONE = "Europe/Moscow"
_URL_RE = re.compile(r"https://[^\s<>\"'{}|\\^`]+", re.IGNORECASE)
_HOMEWORK_RE = re.compile(r"(?im)^\s*(?:домашнее\s+задание|д/з|дз|homework)\s*[:\-—]\s*")
_URL_PROPERTIES = ("URL", "X-GOOGLE-CONFERENCE", "LOCATION", "DESCRIPTION")


def _as_aware(value: date | datetime, tz: tzinfo) -> datetime:
    """A DATE becomes midnight in ``tz``; a floating DATE-TIME is read in ``tz``; all end in ``tz``."""
    if not isinstance(value, datetime):
        value = datetime.combine(value, time())
    if value.tzinfo is None:
        value = value.replace(tzinfo=tz)
    return value.astimezone(tz)


def _utc_iso(value: date | datetime, tz: tzinfo) -> str:
    return _as_aware(value, tz).astimezone(UTC).isoformat()


def _text(component: icalendar.Component, name: str) -> str:
    value = component.get(name)
    if value is None:
        return ""
    if isinstance(value, list):          # a property given twice: take the first
        value = value[0]
    return str(value).strip()


def find_online_url(component: icalendar.Component) -> str | None:
    """The first ``https://`` URL in URL, X-GOOGLE-CONFERENCE, LOCATION, DESCRIPTION, or None."""
    for name in _URL_PROPERTIES:
        match = _URL_RE.search(_text(component, name))
        if match:
            return match.group(0).rstrip(".,;:)]")
    return None


def find_teacher(component: icalendar.Component) -> str:
    """The teacher's name: an ``X-…TEACHER…`` property, else ORGANIZER CN, else a CHAIR attendee's CN."""
    for name, value in component.property_items(recursive=False):
        if name.startswith("X-") and "TEACHER" in name and str(value).strip():
            return str(value).strip()
    organizer = component.get("ORGANIZER")
    if organizer is not None and str(organizer.params.get("CN", "")).strip():
        return str(organizer.params["CN"]).strip()
    attendees = component.get("ATTENDEE", [])
    for attendee in attendees if isinstance(attendees, list) else [attendees]:
        if str(attendee.params.get("ROLE", "")).upper() == "CHAIR" and str(attendee.params.get("CN", "")).strip():
            return str(attendee.params["CN"]).strip()
    return ""


def split_description(description: str) -> tuple[str, str]:
    """``(topic, homework)`` from a DESCRIPTION: the text after a homework label is the homework."""
    match = _HOMEWORK_RE.search(description)
    if not match:
        return description.strip(), ""
    return description[:match.start()].strip(), description[match.end():].strip()


def _categories(component: icalendar.Component) -> list[str]:
    value = component.get("CATEGORIES")
    if value is None:
        return []
    out: list[str] = []
    for category in value if isinstance(value, list) else [value]:
        out.extend(str(c).strip() for c in getattr(category, "cats", [category]))
    return [c for c in out if c]


def _line_of(text: str, needle: str, prefix: str = "") -> int | None:
    """1-based number of the first line containing ``needle`` (and starting with ``prefix``)."""
    if not needle and not prefix:
        return None
    for number, line in enumerate(text.splitlines(), start=1):
        if line.upper().startswith(prefix) and needle in line:
            return number
    return None


@source_type("ical")
class IcalSource:
    """An iCalendar file or feed; see the module docstring for the config and the mapping.

    ``now``: a callable giving the current moment (tests inject one); the config key ``now``
    (an ISO 8601 string) does the same. Raises ValueError for a config missing ``path``/``url``
    or with an unknown ``timezone``.
    """

    def __init__(self, config: Mapping, now: Callable[[], datetime] | None = None):
        self.name: str = str(config.get("name", "ical"))
        self.org: str = str(config.get("org", ""))
        self.path: str | None = config.get("path")
        self.url: str | None = config.get("url")
        if bool(self.path) == bool(self.url):
            raise ValueError(f"sources[{self.name}]: give exactly one of 'path' (a file) or 'url' (a feed)")
        self.class_id: str = str(config.get("class_id") or "")
        self.class_title: str = str(config.get("class_title") or "")
        tz_name = str(config.get("timezone") or DEFAULT_TIMEZONE)
        try:
            self.tz: tzinfo = ZoneInfo(tz_name)
        except (ZoneInfoNotFoundError, ValueError) as e:
            raise ValueError(f"sources[{self.name}]: unknown timezone {tz_name!r}; use an IANA name "
                             "such as Europe/Moscow") from e
        self.days_ahead = int(config.get("days_ahead", 14))
        self.days_back = int(config.get("days_back", 1))
        if now is None and config.get("now"):
            fixed = _as_aware(datetime.fromisoformat(str(config["now"])), self.tz)
            now = lambda: fixed  # noqa: E731 - a constant clock for tests
        self._now = now or (lambda: datetime.now(self.tz))

    @property
    def place(self) -> str:
        """The file or URL, as error messages name it."""
        return str(self.path or self.url)

    def window(self) -> tuple[datetime, datetime]:
        """``(start, stop)`` of the window read, aware datetimes in the source's timezone."""
        today = _as_aware(self._now(), self.tz).date()
        start = datetime.combine(today - timedelta(days=self.days_back), time(), self.tz)
        stop = datetime.combine(today + timedelta(days=self.days_ahead + 1), time(), self.tz)
        return start, stop

    async def read(self, http: HttpClient, validators: Mapping[str, str]) -> Snapshot | None:
        """The lessons in the window, or None when neither the content nor the window's first day changed.

        Raises :class:`SourceError` (file missing or malformed, feed unreachable).
        """
        start, stop = self.window()
        window_key = start.date().isoformat()
        same_window = validators.get("window") == window_key
        out: dict[str, str] = {"window": window_key}
        if self.path:
            body = await asyncio.to_thread(self._read_file)
        else:
            assert self.url is not None
            # Conditional only within the same window: a 304 leaves no body to expand anew.
            response = await http.get(self.url, validators=validators if same_window else None)
            if response is None:
                return None
            body = response.body
            out.update(response.validators)
        digest = hashlib.sha256(body).hexdigest()
        out["hash"] = digest
        if same_window and validators.get("hash") == digest:
            return None
        lessons = self.parse(body, start, stop)
        return Snapshot(records=tuple(lessons), complete=True, validators=out, since=self.window()[0].date())

    def _read_file(self) -> bytes:
        try:
            return Path(str(self.path)).read_bytes()
        except FileNotFoundError as e:
            raise SourceError(f"{self.path}: no such file; check 'path' of source {self.name} in the bridge's "
                              "config", retry=False) from e
        except OSError as e:
            raise SourceError(f"{self.path}: cannot be read ({e.strerror}); it will be read again") from e

    # -- parsing -------------------------------------------------------------------------------

    def _broken(self, text: str, what: str, line: int | None) -> SourceError:
        where = f"{self.place}:{line}" if line else self.place
        return SourceError(f"{where}: not a valid iCalendar (RFC 5545) timetable: {what}; fix the calendar "
                           "or export it again from the timetable program", retry=False)

    def _calendar(self, body: bytes) -> icalendar.Calendar:
        text = body.decode("utf-8", errors="replace")
        try:
            calendar = icalendar.Calendar.from_ical(body)
        except ValueError as e:
            quoted = re.search(r"'([^']+)'", str(e))
            raise self._broken(text, str(e), _line_of(text, quoted.group(1)) if quoted else None) from e
        if not isinstance(calendar, icalendar.Calendar):
            raise self._broken(text, "no VCALENDAR", None)
        for component in calendar.walk():
            # icalendar 7 is lenient: a bad value (DTSTART:2026xx) or an unparsable line inside a
            # component lands in component.errors instead of raising; a timetable must not lose it
            for prop_name, message in component.errors:
                prop = str(prop_name or "")
                raw = component.get(prop) if prop else None
                if raw is not None:
                    line = _line_of(text, str(raw[0] if isinstance(raw, list) else raw), prop.upper())
                else:
                    quoted = re.search(r"'([^']+)'", str(message))
                    line = _line_of(text, quoted.group(1) if quoted else "", prop.upper())
                uid = _text(component, "UID")
                what = f"{prop or 'a line'} of {component.name}" + (f" {uid}" if uid else "")
                raise self._broken(text, f"{what}: {message}", line)
        for component in calendar.walk("VEVENT"):
            if component.get("UID") is None or component.get("DTSTART") is None:
                uid = _text(component, "UID")
                missing = "UID" if not uid else "DTSTART"
                raise self._broken(text, f"an event without {missing}" + (f" ({uid})" if uid else ""),
                                   _line_of(text, uid, "UID") if uid else None)
        return calendar

    def parse(self, body: bytes, start: datetime, stop: datetime) -> list[Lesson]:
        """The lessons of the calendar ``body`` overlapping ``[start, stop)``, ordered by start.

        Raises :class:`SourceError` (``retry=False``) for a malformed calendar.
        """
        calendar = x_wr_timezone.to_standard(self._calendar(body))
        events = calendar.walk("VEVENT")
        series_uids = {str(e["UID"]) for e in events
                       if e.get("RRULE") is not None or e.get("RDATE") is not None
                       or e.get("RECURRENCE-ID") is not None}
        lessons: list[Lesson] = []
        one_offs = [e for e in events if str(e["UID"]) not in series_uids]
        for event in one_offs:
            ev_start = _as_aware(event.decoded("DTSTART"), self.tz)
            ev_end = self._end(event, ev_start)
            if ev_start < stop and ev_end > start or ev_start == ev_end and start <= ev_start < stop:
                lessons.append(self._lesson(event, f"{event['UID']}/{_utc_iso(ev_start, self.tz)}",
                                            ev_start, ev_end, event.get("SEQUENCE", 0)))
        if series_uids:
            sub = icalendar.Calendar()
            for name, value in calendar.property_items(recursive=False):
                if name not in ("BEGIN", "END"):
                    sub.add(name, value)
            for component in calendar.subcomponents:
                if component.name == "VTIMEZONE" or (component.name == "VEVENT"
                                                     and str(component["UID"]) in series_uids):
                    sub.add_component(component)
            sequences = self._sequences(e for e in events if str(e["UID"]) in series_uids)
            try:
                occurrences = list(recurring_ical_events.of(sub).between(start, stop))
            except (recurring_ical_events.InvalidCalendar, ValueError) as e:
                raise self._broken("", f"a recurring event cannot be expanded: {e}", None) from e
            for occurrence in occurrences:
                uid = str(occurrence["UID"])
                oc_start = _as_aware(occurrence.decoded("DTSTART"), self.tz)
                rid = occurrence.get("RECURRENCE-ID")
                rid_iso = _utc_iso(rid.dt, self.tz) if rid is not None else _utc_iso(oc_start, self.tz)
                sequence = sequences.get((uid, rid_iso), sequences.get((uid, ""), 0))
                lessons.append(self._lesson(occurrence, f"{uid}/{rid_iso}", oc_start,
                                            self._end(occurrence, oc_start), sequence))
        lessons.sort(key=lambda lesson: (lesson.start or start, lesson.item_id))
        return lessons

    def _sequences(self, events: Iterable[icalendar.Component]) -> dict[tuple[str, str], int]:
        """``(UID, RECURRENCE-ID in UTC or "")`` → the highest SEQUENCE of that component."""
        out: dict[tuple[str, str], int] = {}
        for event in events:
            rid = event.get("RECURRENCE-ID")
            key = (str(event["UID"]), _utc_iso(rid.dt, self.tz) if rid is not None else "")
            out[key] = max(out.get(key, 0), int(event.get("SEQUENCE", 0)))
        return out

    def _end(self, event: icalendar.Component, start: datetime) -> datetime:
        if event.get("DTEND") is not None:
            return _as_aware(event.decoded("DTEND"), self.tz)
        if event.get("DURATION") is not None:
            return start + event.decoded("DURATION")
        # RFC 5545 §3.6.1: no DTEND/DURATION → a DATE lasts one day, a DATE-TIME has no length
        return start + timedelta(days=1) if not isinstance(event.decoded("DTSTART"), datetime) else start

    def _lesson(self, event: icalendar.Component, item_id: str, start: datetime, end: datetime,
                sequence: Any) -> Lesson:
        topic, homework = split_description(_text(event, "DESCRIPTION"))
        class_title = self.class_title
        if not self.class_id and not class_title:
            categories = _categories(event)
            class_title = categories[0] if categories else ""
        cancelled = _text(event, "STATUS").upper() == "CANCELLED"
        return Lesson(
            source=self.name, item_id=item_id, class_id=self.class_id, class_title=class_title,
            start=start, end=end, subject=_text(event, "SUMMARY"), topic=topic, homework=homework,
            teacher=find_teacher(event), location=_text(event, "LOCATION"),
            status=LessonStatus.CANCELLED if cancelled else LessonStatus.SCHEDULED,
            online_url=find_online_url(event), sequence=int(sequence or 0))

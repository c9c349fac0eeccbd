"""Writing model records out as a journal would export them: OneRoster 1.2 gradebook CSV and iCalendar.

The demo writes its generated journal this way, and tests write the journals they read back
through the real adapters (``oneroster_csv``, ``ical``). Files follow the OneRoster 1.2 CSV
binding (lineItems.csv, results.csv, categories.csv; UTF-8, "\\n" line ends) and RFC 5545
(one VEVENT per lesson; ``STATUS:CANCELLED``, ``SEQUENCE``, the call link in ``URL``).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

from icalendar import Calendar, Event

from bridge.model import Lesson, LessonStatus, LineItem, Result

LINE_ITEM_COLUMNS = ("sourcedId", "status", "dateLastModified", "title", "description", "assignDate", "dueDate",
                     "classSourcedId", "categorySourcedId", "gradingPeriodSourcedId", "resultValueMin",
                     "resultValueMax")
RESULT_COLUMNS = ("sourcedId", "status", "dateLastModified", "lineItemSourcedId", "studentSourcedId",
                  "scoreStatus", "score", "textScore", "scoreDate", "comment", "classSourcedId", "late", "missing")
CATEGORY_COLUMNS = ("sourcedId", "status", "dateLastModified", "title")


def _csv(columns: tuple[str, ...], rows: Iterable[dict]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: ("" if v is None else v) for k, v in r.items()})
    return buf.getvalue()


def write_gradebook(folder: Path, line_items: Iterable[LineItem], results: Iterable[Result]) -> Path:
    """Write ``lineItems.csv``, ``results.csv`` and ``categories.csv`` (one category per subject) into
    ``folder`` (created when missing; files replaced whole, as a drop folder receives them)."""
    folder.mkdir(parents=True, exist_ok=True)
    items = list(line_items)
    subjects = sorted({li.subject for li in items if li.subject})
    cat = {s: f"cat-{i + 1}" for i, s in enumerate(subjects)}
    files = {
        "categories.csv": _csv(CATEGORY_COLUMNS, ({"sourcedId": cat[s], "status": "active", "title": s}
                                                  for s in subjects)),
        "lineItems.csv": _csv(LINE_ITEM_COLUMNS, ({
            "sourcedId": li.item_id, "status": "active", "title": li.title, "description": li.description,
            "assignDate": li.assigned.isoformat() if li.assigned else "",
            "dueDate": li.due.isoformat() if li.due else "", "classSourcedId": li.class_id,
            "categorySourcedId": cat.get(li.subject, ""), "gradingPeriodSourcedId": "",
            "resultValueMin": "1", "resultValueMax": "5"} for li in items)),
        "results.csv": _csv(RESULT_COLUMNS, ({
            "sourcedId": r.item_id, "status": "active", "lineItemSourcedId": r.line_item_id,
            "studentSourcedId": r.student_id, "scoreStatus": r.status.value,
            "score": "" if r.score is None else f"{r.score:g}", "textScore": r.text_score,
            "scoreDate": r.score_date.isoformat() if r.score_date else "", "comment": r.comment,
            "classSourcedId": r.class_id, "late": str(r.late).lower(), "missing": str(r.missing).lower()}
            for r in results)),
    }
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def write_timetable(path: Path, lessons: Iterable[Lesson], name: str = "Расписание") -> Path:
    """Write lessons as an iCalendar file, one VEVENT each (UID = the lesson's id)."""
    cal = Calendar()
    cal.add("prodid", "-//Parta//journal sample//RU")
    cal.add("version", "2.0")
    cal.add("x-wr-calname", name)
    for ls in lessons:
        ev = Event()
        ev.add("uid", ls.item_id)
        ev.add("dtstamp", datetime.now(UTC).replace(microsecond=0))
        ev.add("dtstart", ls.start)
        ev.add("dtend", ls.end)
        ev.add("summary", ls.subject)
        if ls.topic:
            ev.add("description", ls.topic)
        if ls.location:
            ev.add("location", ls.location)
        if ls.teacher:
            ev.add("x-teacher", ls.teacher)
        if ls.online_url:
            ev.add("url", ls.online_url)
        if ls.class_title:
            ev.add("categories", [ls.class_title])
        ev.add("sequence", ls.sequence)
        ev.add("status", "CANCELLED" if ls.status == LessonStatus.CANCELLED else "CONFIRMED")
        cal.add_component(ev)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(cal.to_ical())
    return path

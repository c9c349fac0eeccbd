"""The demo's electronic journal: generated homework, grades and a timetable for school A.

Written into ``DATA_DIR/journal/`` as a school's journal would export them (a OneRoster 1.2
gradebook drop folder, an iCalendar timetable, through ``bridge.sources.write``), and listed
as the sources of the installation's journal bridge, so that the demo's pupil and parent see,
minutes after ``make demo``:

- homework in the class chat (due tomorrow, and another in two days);
- a grade with the teacher's comment in the pupil's diary (the pupil, the guardians, the bridge);
- who has not handed in the homework, in the teacher's own journal room;
- a lesson starting in ten minutes with its call link, and tomorrow's cancelled lesson, in the
  class announcements.

Grades and homework keep their ids from run to run (a re-run posts nothing twice); the
timetable is drawn around the time of the run.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from ruamel.yaml import YAML

from bridge.model import Lesson, LessonStatus, LineItem, Result, ScoreStatus
from bridge.sources.write import write_gradebook, write_timetable
from spaces_provisioner.install.journal_bridge import bridge_config_path
from spaces_provisioner.roster.generate import GeneratedSchool

TZ = ZoneInfo("Europe/Moscow")


def write_demo_journal(data_dir: Path, school: GeneratedSchool, org: str, now: datetime | None = None) -> dict:
    """Write the journal files for ``school`` (organization ``org``) and point the bridge's config at
    them; returns ``{"class_id", "class_title", "student", "sources": [names]}``."""
    now = (now or datetime.now(TZ)).astimezone(TZ).replace(second=0, microsecond=0)
    today = now.date()
    demo = school.demo_people()
    pupils = school.pupil_by_id()
    student = pupils[demo["student"]]
    cls = school.class_by_id()[student.class_id]
    classmates = [p for p in school.pupils if p.class_id == cls.source_id and p.source_id != student.source_id]
    folder = data_dir / "journal"
    items = [
        LineItem(source="demo-gradebook", item_id="demo-li-1", class_id=cls.source_id, title="Упражнение 12",
                 description="Учебник, с. 40: письменно, с разбором по составу", subject="Русский язык",
                 assigned=today, due=today + timedelta(days=1), teacher_id=demo["teacher"]),
        LineItem(source="demo-gradebook", item_id="demo-li-2", class_id=cls.source_id, title="Задачи 1–5",
                 description="Параграф 7", subject="Математика", assigned=today, due=today + timedelta(days=2),
                 teacher_id=demo["teacher"]),
    ]
    results = [Result(source="demo-gradebook", item_id=f"demo-res-{student.source_id}", line_item_id="demo-li-1",
                      student_id=student.source_id, class_id=cls.source_id, status=ScoreStatus.FULLY_GRADED,
                      score=5, comment="Аккуратно и без ошибок", score_date=today)]
    results += [Result(source="demo-gradebook", item_id=f"demo-res-{p.source_id}", line_item_id="demo-li-1",
                       student_id=p.source_id, class_id=cls.source_id, status=ScoreStatus.FULLY_GRADED,
                       score=4 + i % 2, score_date=today) for i, p in enumerate(classmates[:3])]
    # one classmate has not handed it in: the class teacher (the demo's teacher) reads who, alone
    results += [Result(source="demo-gradebook", item_id=f"demo-res-{p.source_id}", line_item_id="demo-li-1",
                       student_id=p.source_id, class_id=cls.source_id, status=ScoreStatus.NOT_SUBMITTED,
                       missing=True) for p in classmates[3:4]]
    write_gradebook(folder / "gradebook", items, results)
    soon = now + timedelta(minutes=10)
    tomorrow = datetime.combine(today + timedelta(days=1), datetime.min.time(), TZ).replace(hour=10)
    write_timetable(folder / "timetable.ics", [
        Lesson(source="demo-timetable", item_id=f"demo-lesson-{soon:%Y%m%d%H%M}", class_title=cls.title, start=soon,
               end=soon + timedelta(minutes=45), subject="Физика", topic="Законы Ньютона", teacher="Учитель физики",
               online_url="https://call.parta.localhost/" + cls.source_id),
        Lesson(source="demo-timetable", item_id=f"demo-lesson-{tomorrow:%Y%m%d}", class_title=cls.title,
               start=tomorrow, end=tomorrow + timedelta(minutes=45), subject="Химия", location="305",
               status=LessonStatus.CANCELLED),
    ], name=f"Расписание {cls.title}")
    sources = [{"name": "demo-gradebook", "type": "oneroster_csv", "org": org, "path": str(folder / "gradebook")},
               {"name": "demo-timetable", "type": "ical", "org": org, "path": str(folder / "timetable.ics"),
                "class_title": cls.title}]
    set_bridge_sources(data_dir, sources)
    return {"class_id": cls.source_id, "class_title": cls.title, "student": student.source_id,
            "sources": [s["name"] for s in sources]}


def set_bridge_sources(root: Path, sources: list[dict]) -> None:
    """Replace the ``sources`` of the installation's bridge config (comments kept)."""
    path = bridge_config_path(root)
    y = YAML()
    data = y.load(path.read_text(encoding="utf-8"))
    data["sources"] = sources
    with path.open("w", encoding="utf-8") as f:
        y.dump(data, f)


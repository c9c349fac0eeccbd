"""The router's privacy, proven over generated schools (hypothesis): no family ever receives
another family's grades, and grades never reach a group room.

For every generated school (classes, pupils, guardians shared by siblings, teachers) and every
generated reading of a gradebook (line items, results of any status for any pupil, unknown
pupils and classes among them), each delivery of a result goes to the diary of that result's own
pupil and nowhere else; the "not handed in" summary goes only to teachers; homework only to its
class chat; and no delivered text names a pupil other than the one whose diary it is in, except
the teachers' summaries.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from bridge import render
from bridge.directory import Directory
from bridge.model import LineItem, MissingSummary, Result, ScoreStatus
from bridge.router import route

SURNAMES = ["Иванов", "Петров", "Сидоров", "Кузнецов", "Смирнов", "Попов", "Волков", "Зайцев"]


@st.composite
def schools(draw) -> Directory:
    n_classes = draw(st.integers(1, 3))
    classes, students, teachers = {}, {}, {}
    pid = 0
    for c in range(n_classes):
        cid = f"class-{c}"
        pupils = []
        for _ in range(draw(st.integers(1, 5))):
            pid += 1
            pupils.append(f"p{pid}")
        t_user = f"@t{c}:hs"
        teachers[f"t{c}"] = {"user_id": t_user, "name": f"Учитель {c}", "classes": [cid]}
        classes[cid] = {"title": f"{c + 5}А", "rooms": {"class_chat": f"!chat-{cid}", "class_announcements":
                                                        f"!ann-{cid}", "class_parents": f"!par-{cid}"},
                        "teachers": [t_user], "students": pupils}
        for p in pupils:
            students[p] = {"user_id": draw(st.sampled_from([f"@{p}:hs", None])),
                           "name": f"{draw(st.sampled_from(SURNAMES))} {p}", "classes": [cid], "guardians": [],
                           "diary": draw(st.sampled_from([f"!diary-{p}", None]))}
    ids = sorted(students)
    # guardians: some families have several children (siblings share their guardians)
    for g in range(draw(st.integers(0, len(ids) + 2))):
        for p in draw(st.lists(st.sampled_from(ids), min_size=1, max_size=3, unique=True)):
            students[p]["guardians"].append(f"@g{g}:hs")
    return Directory.from_json({"org": "o", "name": "Школа", "classes": classes, "students": students,
                                "teachers": teachers})


@st.composite
def readings(draw, d: Directory) -> list:
    pupils = sorted(d.students) + ["stranger"]
    class_ids = sorted(d.classes) + ["no-such-class"]
    items = [LineItem(source="gb", item_id=f"li{i}", class_id=draw(st.sampled_from(class_ids)), title=f"Задание {i}",
                      teacher_id=draw(st.sampled_from([None, "t0", "t1", "nobody"])))
             for i in range(draw(st.integers(0, 3)))]
    results = []
    for i in range(draw(st.integers(0, 12))):
        status = draw(st.sampled_from(list(ScoreStatus)))
        student = draw(st.sampled_from(pupils))
        li = draw(st.sampled_from([li.item_id for li in items] or ["li-x"]))
        results.append(Result(source="gb", item_id=f"r{i}", line_item_id=li, student_id=student,
                              class_id=(d.students[student].classes[0] if student in d.students else "no-such-class"),
                              status=status, score=draw(st.sampled_from([None, 2.0, 5.0])),
                              missing=draw(st.booleans()), title=f"Задание {li}", subject="Математика",
                              comment=draw(st.sampled_from(["", "Молодец"]))))
    return items + results


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_no_family_receives_another_familys_grades(data):
    d = data.draw(schools())
    records = data.draw(readings(d))
    group_rooms = {r for c in d.classes.values() for r in c.rooms.values()}
    teacher_ids = set(d.teachers)
    for dl in route(records, d):
        rec = dl.record
        if isinstance(rec, Result):
            # a result: only its own pupil's diary, never a room id chosen by the router
            assert dl.room_id is None and dl.diary_of == rec.student_id, dl
            assert rec.student_id in d.students
            text = "\n".join(render.delivery_lines(dl.what, rec, "ru", "Europe/Moscow"))
            for other, s in d.students.items():
                if other != rec.student_id and s.name not in d.students[rec.student_id].name:
                    assert s.name not in text, (other, text)
        elif isinstance(rec, MissingSummary):
            # who has not handed in: teachers only
            assert dl.room_id is None and dl.diary_of in teacher_ids, dl
        elif isinstance(rec, LineItem):
            # homework: the class chat of its class, never a diary
            assert dl.diary_of is None and dl.room_id == d.classes[rec.class_id].rooms["class_chat"], dl
        else:
            raise AssertionError(f"unexpected record {rec!r}")
        if dl.room_id is not None:
            assert dl.room_id in group_rooms and isinstance(rec, LineItem)

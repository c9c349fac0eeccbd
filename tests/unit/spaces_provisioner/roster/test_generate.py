"""The school generator: Russian names done right, families and teachers, and a OneRoster 1.2 roster
that the project's own importer reads without a single problem."""

from __future__ import annotations

import csv
import dataclasses
import os
import re
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from policies.model import Role

from spaces_provisioner.roster import generate, load_roster
from spaces_provisioner.roster.generate import (
    DATA_FILE,
    SIZES,
    GeneratedSchool,
    SchoolSize,
    feminine_surname,
    generate_school,
    write_oneroster,
)
from spaces_provisioner.roster.oneroster import COMMON_HEADERS, HEADERS, ONEROSTER_12

REPO = Path(__file__).resolve().parents[4]
DATA = YAML(typ="safe").load(DATA_FILE.read_text(encoding="utf-8"))
PATRONYMICS = {name: tuple(pair) for name, pair in DATA["male_names"].items()}
FILES = [
    "manifest.csv", "orgs.csv", "academicSessions.csv", "courses.csv", "classes.csv", "users.csv", "roles.csv",
    "enrollments.csv",
]  # fmt: skip


@pytest.fixture(scope="module", params=list(SIZES))
def built(request, tmp_path_factory):
    """(size name, school, roster folder, loaded roster) for each preset, seed 7."""
    school = generate_school(request.param)
    folder = tmp_path_factory.mktemp(f"roster-{request.param}")
    write_oneroster(school, folder)
    return request.param, school, folder, load_roster(folder)


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


# -- feminine surnames and the name data --------------------------------------------------


@pytest.mark.parametrize(
    "masculine, feminine",
    [
        ("Иванов", "Иванова"),
        ("Лебедев", "Лебедева"),
        ("Соловьёв", "Соловьёва"),
        ("Кузьмин", "Кузьмина"),
        ("Птицын", "Птицына"),
        ("Достоевский", "Достоевская"),
        ("Троицкий", "Троицкая"),
        ("Толстой", "Толстая"),
        ("Донской", "Донская"),
        ("Белый", "Белая"),
        ("Долгий", "Долгая"),
        ("Шевченко", "Шевченко"),
        ("Черных", "Черных"),
        ("Долгих", "Долгих"),
        ("Ковальчук", "Ковальчук"),
        ("Романюк", "Романюк"),
        ("Петрович", "Петрович"),
        ("Гогидзе", "Гогидзе"),
        ("Гелашвили", "Гелашвили"),
        ("Акопян", "Акопян"),
        ("Петров-Водкин", "Петрова-Водкина"),
    ],
)
def test_feminine_surname(masculine, feminine):
    assert feminine_surname(masculine) == feminine


def test_name_data_is_rich_enough():
    assert len(PATRONYMICS) >= 40
    for name, (masc, fem) in PATRONYMICS.items():
        assert masc.endswith("ич") and fem.endswith("на"), name
    for name, pair in {
        "Иван": ("Иванович", "Ивановна"),
        "Илья": ("Ильич", "Ильинична"),
        "Никита": ("Никитич", "Никитична"),
        "Лев": ("Львович", "Львовна"),
        "Пётр": ("Петрович", "Петровна"),
        "Павел": ("Павлович", "Павловна"),
        "Сергей": ("Сергеевич", "Сергеевна"),
    }.items():
        assert PATRONYMICS[name] == pair
    assert len(set(DATA["female_names"])) == len(DATA["female_names"]) >= 40
    surnames = DATA["surnames"]
    assert len(set(surnames)) == len(surnames) >= 120
    patterns = {
        "-ов/-ев/-ёв": r"(ов|ев|ёв)$", "-ин/-ын": r"(ин|ын)$", "-ский/-цкий": r"(ский|цкий)$", "-ой": r"ой$",
        "-ый/-ий": r"(?<!ск)(?<!ц)(ый|ий)$", "-ко": r"ко$", "-ых/-их": r"(ых|их)$", "-ук/-юк": r"(ук|юк)$",
        "-ич": r"ич$", "-дзе": r"дзе$", "-ян": r"ян$",
    }  # fmt: skip
    for label, pattern in patterns.items():
        assert any(re.search(pattern, s) for s in surnames), label
    for subject in [
        "Русский язык", "Литература", "Математика", "Алгебра", "Геометрия", "Физика", "Химия", "Биология", "История",
        "Обществознание", "География", "Английский язык", "Немецкий язык", "Информатика", "Физическая культура",
        "Музыка", "Изобразительное искусство", "Технология", "ОБЗР", "Окружающий мир",
    ]:  # fmt: skip
        assert subject in DATA["subjects"], subject


# -- the roster loads cleanly ---------------------------------------------------------------


def test_roster_loads_without_problems(built):
    _name, school, _folder, roster = built
    assert roster.format == ONEROSTER_12
    assert roster.problems == []
    assert set(roster.classes) == {c.source_id for c in school.classes}
    roles = Counter(p.role for p in roster.people.values())
    assert roles == {
        Role.TEACHER: len(school.teachers), Role.STUDENT: len(school.pupils), Role.PARENT: len(school.guardians)
    }  # fmt: skip
    for pupil in school.pupils:
        assert roster.people[pupil.source_id].name == pupil.name
    for c in school.classes:
        assert roster.classes[c.source_id].title == c.title
        assert roster.classes[c.source_id].grades == (f"{c.grade:02d}",)


def test_small_has_every_class_1a_to_11b():
    school = generate_school("small")
    titles = [c.title for c in school.classes]
    assert titles == [f"{g}{letter}" for g in range(1, 12) for letter in "АБ"]
    assert [c.source_id for c in school.classes[8:10]] == ["class-05a", "class-05b"]
    assert generate_school("large").classes[3].source_id == "class-01g"
    assert generate_school("large").classes[2].source_id == "class-01v"


def test_every_pupil_has_one_or_two_guardians(built):
    _name, school, _folder, roster = built
    per_pupil = Counter(g.student_id for g in roster.guardianships)
    assert set(per_pupil) == {p.source_id for p in school.pupils}
    assert set(per_pupil.values()) <= {1, 2}
    relations = {g.source_id: g.relation for g in school.guardians}
    for g in roster.guardianships:
        assert roster.people[g.guardian_id].role is Role.PARENT
        assert g.relation == ("guardian" if relations[g.guardian_id] == "grandmother" else "parent")


def test_some_guardian_has_children_in_two_classes(built):
    _name, _school, _folder, roster = built
    class_of = {e.person_id: e.class_id for e in roster.enrollments if e.role is Role.STUDENT}
    classes_of_guardian = defaultdict(set)
    for g in roster.guardianships:
        classes_of_guardian[g.guardian_id].add(class_of[g.student_id])
    assert any(len(classes) == 2 for classes in classes_of_guardian.values())
    assert all(len(classes) <= 2 for classes in classes_of_guardian.values())


def test_each_class_has_exactly_one_homeroom_teacher(built):
    _name, school, _folder, roster = built
    primary = defaultdict(list)
    for e in roster.enrollments:
        if e.primary:
            assert e.role is Role.TEACHER
            primary[e.class_id].append(e.person_id)
    assert set(primary) == set(roster.classes)
    for c in school.classes:
        assert primary[c.source_id] == [c.homeroom_teacher_id]
        assert c.homeroom_teacher_id in roster.teachers_of(c.source_id)
    homerooms = [c.homeroom_teacher_id for c in school.classes]
    assert len(set(homerooms)) == len(homerooms)


# -- the school is realistic ----------------------------------------------------------------


def test_teachers(built):
    _name, school, _folder, _roster = built
    teachers = {t.source_id: t for t in school.teachers}
    taught_by = defaultdict(list)
    for t in school.teachers:
        for class_id in t.class_ids:
            taught_by[class_id].append(t)
    for c in school.classes:
        homeroom = teachers[c.homeroom_teacher_id]
        subjects = {s for t in taught_by[c.source_id] for s in t.subjects}
        if c.grade <= 4:
            assert homeroom.subjects == ("Начальные классы",)
            assert homeroom.class_ids == (c.source_id,)
            assert {"Физическая культура", "Музыка"} <= subjects
            assert ("Английский язык" in subjects) == (c.grade >= 2)
        else:
            assert homeroom.subjects != ("Начальные классы",)
            assert c.source_id in homeroom.class_ids
            assert {"Русский язык", "Литература", "История", "Английский язык", "Физическая культура"} <= subjects
            assert ({"Алгебра", "Геометрия"} <= subjects) == (c.grade >= 7)
    for t in school.teachers:
        assert t.middle_name and t.subjects and t.class_ids
        if t.subjects != ("Начальные классы",):
            assert 1 <= len(t.subjects) <= 2
            assert len(t.class_ids) >= 2
    women = sum(t.sex == "female" for t in school.teachers)
    assert women >= 0.7 * len(school.teachers)
    names = [t.name for t in school.teachers]
    assert len(set(names)) == len(names)


def test_names_follow_the_family(built):
    _name, school, _folder, _roster = built
    guardians = school.guardian_by_id()
    feminine = {fem for _m, fem in PATRONYMICS.values()}
    masculine = {masc for masc, _f in PATRONYMICS.values()}
    seen_father = False
    for pupil in school.pupils:
        relations = {guardians[g].relation: guardians[g] for g in pupil.guardian_ids}
        assert len(relations) == len(pupil.guardian_ids)
        assert sorted(relations) in (["father", "mother"], ["mother"], ["grandmother"])
        assert pupil.middle_name in (feminine if pupil.sex == "female" else masculine)
        father, mother = relations.get("father"), relations.get("mother")
        if father:
            seen_father = True
            expected = PATRONYMICS[father.given_name][1 if pupil.sex == "female" else 0]
            assert pupil.middle_name == expected
            surname = feminine_surname(father.family_name) if pupil.sex == "female" else father.family_name
            assert pupil.family_name == surname
        if mother:
            masculine_family = father.family_name if father else None
            if masculine_family:
                assert mother.family_name == feminine_surname(masculine_family)
            girl = pupil.sex == "female"
            assert mother.family_name == (pupil.family_name if girl else feminine_surname(pupil.family_name))
        for adult in relations.values():
            assert adult.middle_name.endswith("ич" if adult.sex == "male" else "на")
        if "grandmother" in relations:
            grandma = relations["grandmother"]
            assert grandma.family_name not in (pupil.family_name, feminine_surname(pupil.family_name))
    assert seen_father


def test_no_two_pupils_of_a_class_share_a_full_name(built):
    _name, school, _folder, _roster = built
    names = Counter((p.class_id, p.name) for p in school.pupils)
    assert max(names.values()) == 1


def test_families_link_both_ways(built):
    _name, school, _folder, _roster = built
    pupils, guardians = school.pupil_by_id(), school.guardian_by_id()
    for p in school.pupils:
        assert 1 <= len(p.guardian_ids) <= 2
        for g in p.guardian_ids:
            assert p.source_id in guardians[g].child_ids
    for g in school.guardians:
        assert 1 <= len(g.child_ids) <= 2
        assert len({pupils[c].class_id for c in g.child_ids}) == len(g.child_ids)
        for c in g.child_ids:
            assert g.source_id in pupils[c].guardian_ids


def test_demo_people(built):
    _name, school, _folder, roster = built
    demo = school.demo_people()
    assert demo == school.demo_people()
    student = school.pupil_by_id()[demo["student"]]
    cls = school.class_by_id()[student.class_id]
    assert 5 <= cls.grade <= 9
    assert roster.people[demo["teacher"]].role is Role.TEACHER
    homeroom = [e for e in roster.enrollments if e.class_id == cls.source_id and e.primary]
    assert [e.person_id for e in homeroom] == [demo["teacher"]]
    assert demo["teacher_unconfirmed"] not in roster.teachers_of(cls.source_id)
    assert roster.people[demo["teacher_unconfirmed"]].role is Role.TEACHER
    guardians_of_student = {g.guardian_id for g in roster.guardianships if g.student_id == student.source_id}
    assert len(guardians_of_student) == 2 and demo["parent"] in guardians_of_student
    children = {g.student_id for g in roster.guardianships if g.guardian_id == demo["parent"]}
    other_children = children - {student.source_id}
    assert other_children
    assert all(school.pupil_by_id()[c].class_id != cls.source_id for c in other_children)


def test_source_ids_are_readable(built):
    _name, school, folder, _roster = built
    assert all(re.fullmatch(r"class-(0[1-9]|1[01])[abvg]", c.source_id) for c in school.classes)
    assert [t.source_id for t in school.teachers] == [f"teacher-{i:03d}" for i in range(1, len(school.teachers) + 1)]
    assert [p.source_id for p in school.pupils] == [f"pupil-{i:04d}" for i in range(1, len(school.pupils) + 1)]
    assert [g.source_id for g in school.guardians] == [f"guardian-{i:04d}" for i in range(1, len(school.guardians) + 1)]
    enrollments = read_csv(folder / "enrollments.csv")
    assert [e["sourcedId"] for e in enrollments] == [f"enr-{i:05d}" for i in range(1, len(enrollments) + 1)]
    assert {o["sourcedId"] for o in read_csv(folder / "orgs.csv")} == {"org-1"}


# -- the OneRoster 1.2 CSV files --------------------------------------------------------------


def test_oneroster_files(tmp_path):
    school = generate_school("small")
    paths = write_oneroster(school, tmp_path / "new" / "roster")
    assert [p.name for p in paths] == FILES
    expected_headers = {
        "users.csv": HEADERS[ONEROSTER_12]["users.csv"],
        "roles.csv": HEADERS[ONEROSTER_12]["roles.csv"],
        "classes.csv": COMMON_HEADERS["classes.csv"],
        "enrollments.csv": COMMON_HEADERS["enrollments.csv"],
        "manifest.csv": "propertyName,value",
        # The binding's headers of the files the importer does not read.
        "orgs.csv": "sourcedId,status,dateLastModified,name,type,identifier,parentSourcedId",
        "academicSessions.csv": "sourcedId,status,dateLastModified,title,type,startDate,endDate,parentSourcedId,"
        "schoolYear",
        "courses.csv": "sourcedId,status,dateLastModified,schoolYearSourcedId,title,courseCode,grades,orgSourcedId,"
        "subjects,subjectCodes",
    }
    for path in paths:
        data = path.read_bytes()
        assert not data.startswith(b"\xef\xbb\xbf") and b"\r" not in data and data.endswith(b"\n")
        header = data.decode("utf-8").split("\n", 1)[0]
        assert header == expected_headers[path.name]
        if path.name != "manifest.csv":
            rows = read_csv(path)
            assert all(r["status"] == "" and r["dateLastModified"] == "" for r in rows)

    manifest = {r["propertyName"]: r["value"] for r in read_csv(tmp_path / "new" / "roster" / "manifest.csv")}
    assert manifest["oneroster.version"] == "1.2"
    for name in FILES[1:]:
        assert manifest[f"file.{name[:-4]}"] == "bulk"
    assert manifest["file.demographics"] == manifest["file.userProfiles"] == manifest["file.results"] == "absent"

    folder = tmp_path / "new" / "roster"
    session = read_csv(folder / "academicSessions.csv")[0]
    assert (session["title"], session["type"], session["startDate"], session["endDate"]) == (
        "2026/2027 учебный год", "schoolYear", "2026-09-01", "2027-05-31"
    )  # fmt: skip
    courses = {c["grades"]: c["title"] for c in read_csv(folder / "courses.csv")}
    assert courses["05"] == "5 класс" and len(courses) == 11
    for c in read_csv(folder / "classes.csv"):
        assert c["classType"] == "homeroom" and re.fullmatch(r"\d\d", c["grades"])
        assert c["schoolSourcedId"] == "org-1" and c["termSourcedIds"] == session["sourcedId"]

    users = {u["sourcedId"]: u for u in read_csv(folder / "users.csv")}
    for u in users.values():
        assert u["enabledUser"] == "true"
        assert u["username"] == u["email"] == u["phone"] == u["sms"] == u["password"] == ""
        assert u["givenName"] and u["familyName"] and u["middleName"]
    for p in school.pupils:
        assert users[p.source_id]["agentSourcedIds"] == ",".join(p.guardian_ids)
        assert users[p.source_id]["grades"] == school.class_by_id()[p.class_id].grade_code
    for g in school.guardians:
        assert users[g.source_id]["agentSourcedIds"] == ",".join(g.child_ids)
        assert users[g.source_id]["grades"] == ""

    roles = read_csv(folder / "roles.csv")
    assert {r["roleType"] for r in roles} == {"primary"}
    assert Counter(r["role"] for r in roles)["teacher"] == len(school.teachers)
    grandmothers = {g.source_id for g in school.guardians if g.relation == "grandmother"}
    assert grandmothers
    for r in roles:
        if r["userSourcedId"].startswith("guardian-"):
            assert r["role"] == ("guardian" if r["userSourcedId"] in grandmothers else "parent")

    enrolled = read_csv(folder / "enrollments.csv")
    assert not {e["userSourcedId"] for e in enrolled} & {g.source_id for g in school.guardians}
    assert all(e["primary"] == "false" for e in enrolled if e["role"] == "student")
    assert sum(e["primary"] == "true" for e in enrolled) == len(school.classes)


def test_same_seed_same_bytes_other_seed_differs(tmp_path):
    first = write_oneroster(generate_school("small", seed=7), tmp_path / "a")
    again = write_oneroster(generate_school("small", seed=7), tmp_path / "b")
    other = write_oneroster(generate_school("small", seed=8), tmp_path / "c")
    assert [p.read_bytes() for p in first] == [p.read_bytes() for p in again]
    assert [p.read_bytes() for p in first] != [p.read_bytes() for p in other]
    # Another process with another string hash seed: no set order may leak into the output.
    code = (
        "import sys, pathlib; from spaces_provisioner.roster.generate import generate_school, write_oneroster;"
        "write_oneroster(generate_school('small', seed=7), pathlib.Path(sys.argv[1]))"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    subprocess.run([sys.executable, "-c", code, str(tmp_path / "d")], check=True, cwd=REPO, env=env, timeout=60)
    assert [p.read_bytes() for p in first] == [(tmp_path / "d" / p.name).read_bytes() for p in first]


def test_large_preset(tmp_path):
    started = time.perf_counter()
    school = generate_school("large")
    write_oneroster(school, tmp_path)
    roster = load_roster(tmp_path)
    elapsed = time.perf_counter() - started
    assert 950 <= len(school.pupils) <= 1100
    assert 38 <= len(school.classes) <= 42
    assert {c.letter for c in school.classes} == set("АБВГ")
    assert len(roster.students_of("class-05g")) >= 23
    assert roster.problems == []
    assert elapsed < 5


def test_medium_preset_sizes():
    school = generate_school("medium")
    per_class = Counter(p.class_id for p in school.pupils)
    assert len(per_class) == 22 and min(per_class.values()) >= 20 and max(per_class.values()) <= 28


# -- arguments ------------------------------------------------------------------------------------


def test_custom_size_and_bad_arguments(tmp_path):
    school = generate_school(SchoolSize((5, 6, 7, 8, 9), 1, (3, 3)), seed=1)
    assert isinstance(school, GeneratedSchool)
    assert [c.title for c in school.classes] == ["5А", "6А", "7А", "8А", "9А"]
    write_oneroster(school, tmp_path)
    assert load_roster(tmp_path).problems == []
    assert school.demo_people()["student"] in school.pupil_by_id()
    with pytest.raises(ValueError, match="unknown school size"):
        generate_school("huge")
    with pytest.raises(ValueError):
        generate_school(SchoolSize((1, 2), 5, (3, 4)))
    with pytest.raises(ValueError):
        generate_school(SchoolSize((0, 12), 1, (3, 4)))
    with pytest.raises(ValueError):
        generate_school(SchoolSize((1,), 1, (4, 3)))


def test_names_stay_unique_in_a_class_when_names_are_few(monkeypatch):
    real = generate._data()
    generations = {**real.generations, "parents": {"male": ("Иван",), "female": real.generations["parents"]["female"]}}
    few = dataclasses.replace(real, surnames=("Иванов", "Петров"), generations=generations)
    monkeypatch.setattr(generate, "_data", lambda: few)
    school = generate_school(SchoolSize((5, 6), 1, (30, 30)), seed=3)
    names = Counter((p.class_id, p.name) for p in school.pupils)
    assert len(school.pupils) == 60 and max(names.values()) == 1

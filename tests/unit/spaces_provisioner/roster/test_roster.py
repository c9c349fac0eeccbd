"""The roster reader: real samples, the school B demo roster, zips, bad files and bad rows."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import pytest

from policies.i18n import set_language
from policies.model import Guardianship, Role

from spaces_provisioner.cli.demo import DEMO_DATA
from spaces_provisioner.roster import RosterError, load_roster
from tests.samples import shared_rosters_dir

REPO = Path(__file__).resolve().parents[4]
SAMPLES = shared_rosters_dir() or REPO.parent / "shared" / "data" / "rosters"
ONEROSTER_12 = SAMPLES / "oneroster-v1p2-sample"
SDS_21 = SAMPLES / "sds-v2.1-sample"
SCHOOL_B = DEMO_DATA / "school-b-roster"

needs_samples = pytest.mark.skipif(not SAMPLES.is_dir(), reason=f"roster samples not found at {SAMPLES}")


def copy(src: Path, tmp_path: Path, name: str = "roster") -> Path:
    dst = tmp_path / name
    shutil.copytree(src, dst)
    return dst


def zip_folder(folder: Path, target: Path, sub: str = "") -> Path:
    with zipfile.ZipFile(target, "w") as z:
        for f in sorted(folder.iterdir()):
            z.write(f, f"{sub}/{f.name}" if sub else f.name)
    return target


def problem_texts(roster) -> list[str]:
    return [str(p) for p in roster.problems]


# -- the real samples --------------------------------------------------------------------


@needs_samples
def test_sds_sample_loads():
    r = load_roster(SDS_21)
    assert r.format == "sds-2.1"
    assert set(r.classes) == {"112001", "112002"}
    assert r.classes["112002"].title == "Biology 10"
    assert len(r.people) == 8
    assert r.people["114002"].role is Role.PARENT
    assert r.people["114002"].name.display == "Craig Jean"
    assert r.people["114006"].role is Role.TEACHER  # professor
    assert r.people["114007"].role is Role.TEACHER
    assert r.people["114001"].role is Role.STUDENT
    assert Guardianship("114001", "114002", "guardian") in r.guardianships
    assert Guardianship("114003", "114002", "relative") in r.guardianships
    assert Guardianship("114004", "114005", "guardian") in r.guardianships
    assert len(r.guardianships) == 3
    assert r.teachers_of("112002") == ["114007"]
    assert r.teachers_of("112001") == ["114006"]
    assert sorted(r.students_of("112002")) == ["114001", "114003", "114004"]
    assert len(r.enrollments) == 6
    assert r.problems == []


@needs_samples
def test_oneroster_12_sample_loads_with_its_oddities():
    r = load_roster(ONEROSTER_12)
    assert r.format == "oneroster-1.2"
    # the tobedeleted class is left out and reported, and so are its three enrollments
    assert set(r.classes) == {"cls-222-123456"}
    assert r.classes["cls-222-123456"].grades == ("09", "10", "11")
    texts = problem_texts(r)
    assert "classes.csv:3: marked tobedeleted" in texts
    tbd = [p for p in r.problems if p.file == "enrollments.csv"]
    assert [p.line for p in tbd] == [5, 6, 7]
    assert all("cls-222-123478" in p.reason for p in tbd)
    assert len(r.problems) == 4
    # misspelled headers and empty header columns do not fail; blank status is active
    assert len(r.people) == 6
    mary = r.people["usr-222-66778899"]
    assert mary.role is Role.STUDENT and mary.name.display == "Jones Mary Jane"
    assert r.people["usr-222-123456"].role is Role.TEACHER  # primary teacher, secondary guardian
    assert r.people["usr-222-1234561"].role is Role.ADMIN  # only a secondary siteAdministrator role
    assert r.teachers_of("cls-222-123456") == ["usr-222-123456"]
    assert len(r.enrollments) == 3
    # agents of students are guardians; agents on other rows are not
    pairs = {(g.student_id, g.guardian_id) for g in r.guardianships}
    assert pairs == {
        ("usr-222-66778899", "usr-222-123456"),
        ("usr-222-1234561232", "usr-222-123456"),
        ("usr-222-567891", "usr-222-987654"),
    }


@needs_samples
@pytest.mark.parametrize("sample", ["oneroster-v1p2-sample", "sds-v2.1-sample"])
@pytest.mark.parametrize("sub", ["", "export"])
def test_zip_loads_like_the_folder(tmp_path, sample, sub):
    archive = zip_folder(SAMPLES / sample, tmp_path / "roster.zip", sub)
    assert load_roster(archive) == load_roster(SAMPLES / sample)


# -- the school B demo roster ------------------------------------------------------------


def test_school_b_demo_roster():
    r = load_roster(SCHOOL_B)
    assert r.format == "oneroster-1.1"
    assert r.problems == []
    assert len(r.classes) == 1
    (cls,) = r.classes.values()
    assert cls.title == "7Б" and cls.grades == ("07",)
    assert len(r.teachers_of(cls.source_id)) == 1
    assert len(r.students_of(cls.source_id)) == 3
    roles = sorted(p.role.value for p in r.people.values())
    assert roles == ["parent", "student", "student", "student", "teacher"]
    teacher = r.people[r.teachers_of(cls.source_id)[0]]
    assert teacher.name.display == "Соколова Мария Игоревна"
    (g,) = r.guardianships
    assert r.people[g.student_id].role is Role.STUDENT
    assert r.people[g.guardian_id].role is Role.PARENT
    assert g.relation == "parent"
    assert all(p.source_id.startswith("b-usr-") for p in r.people.values())


def test_school_b_has_no_contacts():
    text = (SCHOOL_B / "users.csv").read_text(encoding="utf-8")
    assert "@" not in text
    header, *rows = text.splitlines()
    cols = header.split(",")
    for row in rows:
        values = dict(zip(cols, row.split(","), strict=False))
        assert values["email"] == values["sms"] == values["phone"] == ""


# -- whole-file failures -----------------------------------------------------------------


def test_missing_users_csv(tmp_path):
    roster = copy(SCHOOL_B, tmp_path)
    (roster / "users.csv").unlink()
    with pytest.raises(RosterError) as e:
        load_roster(roster)
    assert e.value.file == "users.csv" and e.value.line is None
    assert "required file is missing" in e.value.reason
    assert str(e.value).startswith("users.csv: required file is missing. ")


@needs_samples
def test_missing_users_csv_without_manifest(tmp_path):
    roster = copy(SDS_21, tmp_path)
    (roster / "users.csv").unlink()
    with pytest.raises(RosterError) as e:
        load_roster(roster)
    assert e.value.file == "users.csv"
    assert "SDS v2.1" in e.value.hint


@needs_samples
def test_missing_required_column(tmp_path):
    roster = copy(SDS_21, tmp_path)
    (roster / "enrollments.csv").write_text("classSourcedId,userSourcedId\n112001,114008\n", encoding="utf-8")
    with pytest.raises(RosterError) as e:
        load_roster(roster)
    err = e.value
    assert (err.file, err.line) == ("enrollments.csv", 1)
    assert "role" in err.reason
    assert "classSourcedId,userSourcedId,role" in err.hint
    assert str(err) == f"enrollments.csv:1: {err.reason}. {err.hint}"


def test_cp1251_file_is_refused_with_the_line(tmp_path):
    roster = copy(SCHOOL_B, tmp_path)
    text = (roster / "users.csv").read_text(encoding="utf-8")
    (roster / "users.csv").write_bytes(text.replace("ё", "е").encode("cp1251"))
    with pytest.raises(RosterError) as e:
        load_roster(roster)
    assert (e.value.file, e.value.line) == ("users.csv", 2)
    assert "UTF-8" in e.value.reason and "UTF-8" in e.value.hint


def test_bom_and_spaces_in_header_are_accepted(tmp_path):
    roster = copy(SCHOOL_B, tmp_path)
    text = (roster / "users.csv").read_text(encoding="utf-8")
    header, rest = text.split("\n", 1)
    header = ", ".join(header.split(",")) + ",,"
    (roster / "users.csv").write_bytes(b"\xef\xbb\xbf" + (header + "\r\n" + rest).encode("utf-8"))
    assert load_roster(roster) == load_roster(SCHOOL_B)


def test_empty_file(tmp_path):
    roster = copy(SCHOOL_B, tmp_path)
    (roster / "classes.csv").write_bytes(b"")
    with pytest.raises(RosterError) as e:
        load_roster(roster)
    assert e.value.file == "classes.csv"
    assert "empty" in e.value.reason
    assert "sourcedId,status,dateLastModified,title" in e.value.hint


def test_not_a_zip(tmp_path):
    fake = tmp_path / "roster.zip"
    fake.write_text("sourcedId,status\n", encoding="utf-8")
    with pytest.raises(RosterError) as e:
        load_roster(fake)
    assert e.value.file == "roster.zip"
    assert "zip" in e.value.reason


def test_unknown_format(tmp_path):
    roster = tmp_path / "roster"
    roster.mkdir()
    (roster / "users.csv").write_text("id,name\n1,Иванов\n", encoding="utf-8")
    with pytest.raises(RosterError) as e:
        load_roster(roster)
    assert e.value.file == "users.csv"
    assert "unknown roster format" in e.value.reason
    assert "OneRoster" in e.value.hint and "SDS" in e.value.hint


def test_unsupported_manifest_version(tmp_path):
    roster = copy(SCHOOL_B, tmp_path)
    manifest = roster / "manifest.csv"
    manifest.write_text(manifest.read_text(encoding="utf-8").replace("oneroster.version,1.1", "oneroster.version,1.0"))
    with pytest.raises(RosterError) as e:
        load_roster(roster)
    assert (e.value.file, e.value.line) == ("manifest.csv", 3)


# -- bad rows ----------------------------------------------------------------------------


def append(path: Path, text: str) -> None:
    with path.open("a", encoding="utf-8") as f:
        f.write(text)


def test_bad_rows_are_reported_and_the_rest_imports(tmp_path):
    roster = copy(SCHOOL_B, tmp_path)
    # users.csv has a header + 5 rows: new rows are lines 7, 8 (two physical lines), 10, 11, 12
    append(
        roster / "users.csv",
        "b-usr-001,,,true,b-org-001,student,,,Копия,Соколовой,,,,,,,07,\n"  # 7: duplicate sourcedId
        'b-usr-006,,,true,b-org-001,student,,,Анна,Орлова,"Викторовна\nмногострочная",,,,,,07,\n'  # 8-9
        "b-usr-007,,,true,b-org-001,wizard,,,Олег,Петров,,,,,,,07,\n"  # 10: unknown role
        "b-usr-008,,,true,b-org-001,student,,,,Пустова,,,,,,,07,\n"  # 11: empty givenName
        "b-usr-009,,,true,b-org-001,parent,,,Ирина,Новикова,,,,,,b-usr-404,,\n",  # 12: unknown agent
    )
    append(
        roster / "enrollments.csv",
        "b-enr-005,,,b-cls-404,b-org-001,b-usr-006,student,false,,\n"  # 6: unknown class
        "b-enr-006,,,b-cls-001,b-org-001,b-usr-007,student,false,,\n"  # 7: person left out
        "b-enr-001,,,b-cls-001,b-org-001,b-usr-006,student,false,,\n"  # 8: duplicate sourcedId
        "b-enr-007,,,b-cls-001,b-org-001,b-usr-006,administrator,false,,\n"  # 9: not teacher/student
        "b-enr-008,,,b-cls-001,b-org-001,b-usr-006,student,false,,\n",  # 10: fine
    )
    r = load_roster(roster)
    texts = problem_texts(r)
    assert texts == [
        "enrollments.csv:6: unknown class b-cls-404",
        "enrollments.csv:7: person b-usr-007 was left out (see users.csv:10)",
        "enrollments.csv:8: duplicate sourcedId b-enr-001 (first at line 2)",
        "enrollments.csv:9: role administrator cannot be enrolled in a class (only teacher or student)",
        "users.csv:7: duplicate sourcedId b-usr-001 (first at line 2)",
        "users.csv:10: unknown role wizard",
        "users.csv:11: required field givenName is empty",
        "users.csv:12: agentSourcedIds: unknown person b-usr-404",
    ]
    # the rest imports: the original five, the student with a two-line middle name, the parent
    assert set(r.people) == {f"b-usr-00{i}" for i in (1, 2, 3, 4, 5, 6, 9)}
    assert r.people["b-usr-006"].name.middle_name == "Викторовна\nмногострочная"
    assert r.people["b-usr-001"].name.given_name == "Мария"
    assert len(r.students_of("b-cls-001")) == 4
    assert len(r.guardianships) == 1


def test_tobedeleted_person_and_references(tmp_path):
    roster = copy(SCHOOL_B, tmp_path)
    users = roster / "users.csv"
    users.write_text(
        users.read_text(encoding="utf-8").replace("b-usr-004,,,", "b-usr-004,tobedeleted,,"), encoding="utf-8"
    )
    r = load_roster(roster)
    assert problem_texts(r) == [
        "enrollments.csv:5: person b-usr-004 is marked tobedeleted",
        "users.csv:5: marked tobedeleted",
    ]
    assert "b-usr-004" not in r.people


@needs_samples
def test_sds_bad_rows(tmp_path):
    roster = copy(SDS_21, tmp_path)
    append(roster / "roles.csv", "114005,110003,wizard,SY2021K12,,FALSE,,\n")  # 9: unknown role
    append(roster / "relationships.csv", "114001,114005,doctor\n114404,114005,guardian\n114007,114005,parent\n")
    append(roster / "enrollments.csv", "112404,114001,student\n")  # 8: unknown class
    append(roster / "users.csv", "114009,nobody@example.org,No,Role,,,,,\n")  # 10: nobody names a role
    r = load_roster(roster)
    assert problem_texts(r) == [
        "enrollments.csv:8: unknown class 112404",
        "relationships.csv:5: relationship doctor does not make a guardian (expected guardian, parent or relative)",
        "relationships.csv:6: unknown person 114404",
        "relationships.csv:7: 114007 is not a student",
        "roles.csv:9: unknown role wizard",
        "users.csv:10: person 114009 has no role (no role row, enrollment or guardian relationship names it)",
    ]
    assert len(r.guardianships) == 3 and len(r.enrollments) == 6 and len(r.people) == 8


# -- languages ---------------------------------------------------------------------------


def test_russian_by_default_and_english_on_request(tmp_path):
    roster = copy(SCHOOL_B, tmp_path)
    append(roster / "enrollments.csv", "b-enr-009,,,b-cls-404,b-org-001,b-usr-002,student,false,,\n")
    (roster / "orgs.csv").unlink()  # optional
    set_language(None)
    try:
        r = load_roster(roster)
        assert str(r.problems[0]) == "enrollments.csv:6: неизвестный класс b-cls-404"
        (roster / "classes.csv").write_bytes(b"")
        with pytest.raises(RosterError) as e:
            load_roster(roster)
        assert e.value.reason == "файл пуст"
        assert str(e.value).startswith("classes.csv: файл пуст. Первая строка должна быть заголовком: ")
        set_language("en")
        with pytest.raises(RosterError) as e:
            load_roster(roster)
        assert e.value.reason == "the file is empty"
    finally:
        set_language(None)


def test_unquoted_comma_list_shifts_a_row_and_is_reported(tmp_path):
    roster = copy(SCHOOL_B, tmp_path)
    append(roster / "classes.csv", "b-cls-002,,,8А,08,09,b-crs-001,8А,homeroom,,b-org-001,b-as-2026,,,1\n")
    r = load_roster(roster)
    (p,) = r.problems
    assert (p.file, p.line) == ("classes.csv", 3)
    assert "quote values that contain commas" in p.reason
    assert set(r.classes) == {"b-cls-001"}


def test_quote_left_open_is_a_file_error(tmp_path):
    roster = copy(SCHOOL_B, tmp_path)
    append(roster / "classes.csv", 'b-cls-002,,,"8А,08\nb-cls-003,,,9А,09\n')
    with pytest.raises(RosterError) as e:
        load_roster(roster)
    assert (e.value.file, e.value.line) == ("classes.csv", 3)


def test_a_oneroster_delta_keeps_references_and_names_deletions(tmp_path):
    """A delta (manifest ``file.users,delta``) may name people and classes the school already has;
    its ``tobedeleted`` rows are deletions, not problems."""
    from spaces_provisioner.roster.generate import generate_school, write_oneroster

    full = tmp_path / "full"
    write_oneroster(generate_school("small"), full)
    d = tmp_path / "delta"
    d.mkdir()
    header = (full / "users.csv").read_text(encoding="utf-8").splitlines()[0]
    first_user = (full / "users.csv").read_text(encoding="utf-8").splitlines()[1].split(",")
    gone = ",".join([first_user[0], "tobedeleted", *first_user[2:]])
    (d / "users.csv").write_text(f"{header}\n{gone}\n", encoding="utf-8")
    for name in ("classes.csv", "roles.csv"):
        (d / name).write_text((full / name).read_text(encoding="utf-8").splitlines()[0] + "\n", encoding="utf-8")
    enr_header = (full / "enrollments.csv").read_text(encoding="utf-8").splitlines()[0]
    (d / "enrollments.csv").write_text(f"{enr_header}\nenr-x,,,class-05a,org-1,pupil-0001,student,false,,\n",
                                       encoding="utf-8")
    (d / "manifest.csv").write_text("propertyName,value\noneroster.version,1.2\nfile.users,delta\n"
                                    "file.enrollments,delta\n", encoding="utf-8")
    r = load_roster(d)
    assert r.delta and r.deleted["person"] == {first_user[0]}
    assert [(e.class_id, e.person_id) for e in r.enrollments] == [("class-05a", "pupil-0001")]
    assert r.problems == []

"""Microsoft School Data Sync classic (v1) CSV and SDS v2 CSV without roles.csv (generated people)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from policies.model import Role

from spaces_provisioner.roster import SDS_2, SDS_CLASSIC, RosterError, load_roster
from spaces_provisioner.roster.sds_classic import guardian_id
from tests.samples import shared_rosters_dir

SAMPLES = shared_rosters_dir()
needs_samples = pytest.mark.skipif(SAMPLES is None, reason="roster samples not found")

CLASSIC = {
    "School.csv": "SIS ID,Name\nS1,Школа 1\n",
    "Section.csv": "SIS ID,School SIS ID,Section Name\nSEC5A,S1,5А\nSEC6B,S1,6Б\n",
    "Student.csv": "SIS ID,School SIS ID,Username,First Name,Last Name,Middle Name,Grade\n"
                   "ST1,S1,st1,Пётр,Орлов,Ильич,5\nST2,S1,st2,Дарья,Белова,,6\nST3,S1,st3,,Волков,,6\n",
    "Teacher.csv": "SIS ID,School SIS ID,Username,First Name,Last Name\nT1,S1,t1,Анна,Смирнова\n",
    "StudentEnrollment.csv": "Section SIS ID,SIS ID\nSEC5A,ST1\nSEC6B,ST2\nSEC6B,NOBODY\n",
    "TeacherRoster.csv": "Section SIS ID,SIS ID\nSEC5A,T1\n",
    "User.csv": "Email,First Name,Last Name,Phone\nparent@example.org,Ольга,Орлова,\n",
    "GuardianRelationship.csv": "SIS ID,Email,Role\nST1,parent@example.org,Mother\n",
}


def classic(tmp_path: Path, drop: tuple[str, ...] = ()) -> Path:
    folder = tmp_path / "sds"
    folder.mkdir()
    for name, text in CLASSIC.items():
        if name not in drop:
            (folder / name).write_text(text, encoding="utf-8")
    return folder


def test_sds_classic(tmp_path):
    r = load_roster(classic(tmp_path))
    assert r.format == SDS_CLASSIC
    assert {c.source_id: c.title for c in r.classes.values()} == {"SEC5A": "5А", "SEC6B": "6Б"}
    assert {p.source_id: p.role for p in r.people.values()} == {
        "ST1": Role.STUDENT, "ST2": Role.STUDENT, "T1": Role.TEACHER, guardian_id("parent@example.org"): Role.PARENT}
    assert {(e.class_id, e.person_id, e.role) for e in r.enrollments} == {
        ("SEC5A", "ST1", Role.STUDENT), ("SEC6B", "ST2", Role.STUDENT), ("SEC5A", "T1", Role.TEACHER)}
    assert [(g.student_id, g.relation) for g in r.guardianships] == [("ST1", "guardian")]
    texts = [str(p) for p in r.problems]
    assert any(t.startswith("Student.csv:4:") for t in texts)          # no First Name
    assert any(t.startswith("StudentEnrollment.csv:4:") for t in texts)  # unknown student
    assert "parent@example.org" not in repr(r)  # the e-mail only links the two guardian files


def test_sds_classic_without_guardians_and_teachers(tmp_path):
    r = load_roster(classic(tmp_path, drop=("Teacher.csv", "TeacherRoster.csv", "User.csv",
                                            "GuardianRelationship.csv")))
    assert r.format == SDS_CLASSIC and not r.guardianships
    assert {p.role for p in r.people.values()} == {Role.STUDENT}


def test_sds_classic_missing_enrollments_stops(tmp_path):
    with pytest.raises(RosterError) as e:
        load_roster(classic(tmp_path, drop=("StudentEnrollment.csv",)))
    assert e.value.file.lower() == "studentenrollment.csv"


def test_sds_classic_format_forced(tmp_path):
    assert load_roster(classic(tmp_path), format=SDS_CLASSIC).format == SDS_CLASSIC


@needs_samples
def test_sds_v2_without_roles(tmp_path):
    folder = tmp_path / "v2"
    shutil.copytree(SAMPLES / "sds-v2.1-sample", folder)
    (folder / "roles.csv").unlink()
    r = load_roster(folder)
    assert r.format == SDS_2
    assert r.classes and r.enrollments
    roles = {p.source_id: p.role for p in r.people.values()}
    assert roles["114001"] is Role.STUDENT      # from enrollments
    assert roles["114002"] is Role.PARENT       # from relationships
    assert any(g.student_id == "114001" and g.guardian_id == "114002" for g in r.guardianships)

"""Microsoft School Data Sync "classic" (v1) CSV: sections, students, teachers and their rosters.

Follows "CSV files for School Data Sync" (Microsoft Learn, "SDS format CSV file examples"):
``Section.csv`` (``SIS ID``, ``Section Name``), ``Student.csv`` and ``Teacher.csv`` (``SIS ID``,
``First Name``, ``Last Name``, optional ``Middle Name``, ``Grade``), ``StudentEnrollment.csv`` and
``TeacherRoster.csv`` (``Section SIS ID``, ``SIS ID``), and for parents and guardians ``User.csv``
(``Email``, ``First Name``, ``Last Name``) with ``GuardianRelationship.csv`` (``SIS ID`` of the
student, ``Email`` of the guardian, ``Role``). School.csv is not read. A section is a class; the
guardian's e-mail links the two guardian files and is not kept: the guardian's id is a digest of it.
"""

from __future__ import annotations

import hashlib

from policies.i18n import _
from policies.model import FullName, Role, Roster

from .build import PARENTAL_WORDS, PRIMARY, RosterBuilder
from .source import RosterSource, Table

SDS_CLASSIC = "sds-classic"
TITLE = "SDS classic CSV"

HEADERS = {
    "section.csv": "SIS ID,School SIS ID,Section Name",
    "student.csv": "SIS ID,School SIS ID,Username,First Name,Last Name,Middle Name,Grade",
    "teacher.csv": "SIS ID,School SIS ID,Username,First Name,Last Name,Middle Name",
    "studentenrollment.csv": "Section SIS ID,SIS ID",
    "teacherroster.csv": "Section SIS ID,SIS ID",
    "user.csv": "Email,First Name,Last Name,Phone",
    "guardianrelationship.csv": "SIS ID,Email,Role",
}
REQUIRED_FILES = ("section.csv", "student.csv", "studentenrollment.csv")
REQUIRED_COLUMNS = {
    "section.csv": ("SIS ID", "Section Name"),
    "student.csv": ("SIS ID", "First Name", "Last Name"),
    "teacher.csv": ("SIS ID", "First Name", "Last Name"),
    "studentenrollment.csv": ("Section SIS ID", "SIS ID"),
    "teacherroster.csv": ("Section SIS ID", "SIS ID"),
    "user.csv": ("Email", "First Name", "Last Name"),
    "guardianrelationship.csv": ("SIS ID", "Email"),
}


def guardian_id(email: str) -> str:
    """A guardian's id from their e-mail, without keeping the address (``guardian-<12 hex>``)."""
    return "guardian-" + hashlib.sha256(email.strip().lower().encode()).hexdigest()[:12]


def read_sds_classic(source: RosterSource) -> Roster:
    """Read an SDS classic CSV roster from ``source``.

    Raises :class:`RosterError` for a missing required file (Section.csv, Student.csv,
    StudentEnrollment.csv), a missing required column or an unreadable file; every unusable
    row becomes a problem of the returned roster.
    """
    source.require(REQUIRED_FILES, TITLE)
    t: dict[str, Table] = {}
    for name in HEADERS:
        if source.has(name):
            t[name] = source.table(name, REQUIRED_COLUMNS[name], HEADERS[name])
    b = RosterBuilder(SDS_CLASSIC)
    _start(b, t["section.csv"])
    for row in t["section.csv"].rows:
        sid, title = row.get("SIS ID"), row.get("Section Name")
        if b.missing_fields(t["section.csv"].name, row.line, {"SIS ID": sid, "Section Name": title}):
            b.left_out("class", sid, t["section.csv"].name, row.line)
            continue
        b.add_class(t["section.csv"].name, row.line, sid, title, ())
    for name, role in (("student.csv", Role.STUDENT), ("teacher.csv", Role.TEACHER)):
        if name in t:
            _people(b, t[name], role)
    roles = {"student": Role.STUDENT, "teacher": Role.TEACHER}
    for name, word in (("studentenrollment.csv", "student"), ("teacherroster.csv", "teacher")):
        if name not in t:
            continue
        table = t[name]
        _start(b, table)
        for row in table.rows:
            section, person = row.get("Section SIS ID"), row.get("SIS ID")
            if b.missing_fields(table.name, row.line, {"Section SIS ID": section, "SIS ID": person}):
                continue
            b.add_enrollment(table.name, row.line, section, person, word, roles, primary=False)
    if "user.csv" in t and "guardianrelationship.csv" in t:
        _guardians(b, t["user.csv"], t["guardianrelationship.csv"])
    return b.build()


def _start(b: RosterBuilder, table: Table) -> None:
    for line, reason in table.problems:
        b.problem(table.name, line, reason)


def _people(b: RosterBuilder, table: Table, role: Role) -> None:
    _start(b, table)
    for row in table.rows:
        sid, given, family = row.get("SIS ID"), row.get("First Name"), row.get("Last Name")
        if b.missing_fields(table.name, row.line, {"SIS ID": sid, "First Name": given, "Last Name": family}):
            b.left_out("person", sid, table.name, row.line)
            continue
        grade = row.get("Grade")
        if b.add_person(table.name, row.line, sid, FullName(family, given, row.get("Middle Name")),
                        (grade,) if grade else ()):
            b.offer_role(sid, role, PRIMARY, role.value)


def _guardians(b: RosterBuilder, users: Table, relationships: Table) -> None:
    _start(b, users)
    for row in users.rows:
        email, given, family = row.get("Email"), row.get("First Name"), row.get("Last Name")
        if b.missing_fields(users.name, row.line, {"Email": email, "First Name": given, "Last Name": family}):
            continue
        gid = guardian_id(email)
        if b.add_person(users.name, row.line, gid, FullName(family, given)):
            b.offer_role(gid, Role.PARENT, PRIMARY, "guardian")
    _start(b, relationships)
    for row in relationships.rows:
        student, email = row.get("SIS ID"), row.get("Email")
        if b.missing_fields(relationships.name, row.line, {"SIS ID": student, "Email": email}):
            continue
        relation = (row.get("Role") or "guardian").lower()
        if relation not in PARENTAL_WORDS and relation not in ("mother", "father", "other"):
            b.problem(relationships.name, row.line, _("unknown role {role}").format(role=row.get("Role")))
            continue
        word = relation if relation in PARENTAL_WORDS else "guardian"
        b.add_relationship(relationships.name, row.line, student, guardian_id(email), word)

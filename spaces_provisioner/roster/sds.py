"""Microsoft School Data Sync v2.1 and v2 CSV: users, roles, classes, enrollments, relationships.

Follows "SDS v2.1 CSV file format" (Microsoft Learn): users.csv has no role (roles.csv
gives it, ``isPrimary`` marking the primary one), there is no ``status`` column, and
guardians appear only in users.csv and relationships.csv (``userSourcedId`` is the
student, ``relationshipUserSourcedId`` the guardian, ``relationshipRole`` the kind).
A class's grade comes from its course (courses.csv ``grade``) when courses.csv exists.
orgs.csv, academicSessions.csv, demographics.csv and userFlags.csv are not read.

SDS v2 exports come without roles.csv: a ``role`` column of users.csv gives the role when there
is one, else the enrollments (teacher, student) and the relationships (guardians) do.
"""

from __future__ import annotations

from policies.i18n import _
from policies.model import FullName, Roster

from .build import PRIMARY, SDS_ROLES, SECONDARY, RosterBuilder
from .source import RosterSource, Table

SDS_21 = "sds-2.1"
SDS_2 = "sds-2"
TITLE = "SDS v2.1 CSV"
TITLES = {SDS_21: "SDS v2.1 CSV", SDS_2: "SDS v2 CSV"}

HEADERS = {
    "users.csv": "sourcedId,username,givenName,familyName,password,activeDirectoryMatchId,email,phone,sms",
    "roles.csv": "userSourcedId,orgSourcedId,role,sessionSourcedId,grade,isPrimary,roleStartDate,roleEndDate",
    "classes.csv": "sourcedId,orgSourcedId,title,sessionSourcedIds,courseSourcedId",
    "enrollments.csv": "classSourcedId,userSourcedId,role",
    "relationships.csv": "userSourcedId,relationshipUserSourcedId,relationshipRole",
    "courses.csv": "sourcedId,orgSourcedId,title,code,schoolYearSourcedId,subject,grade",
}
REQUIRED_FILES = ("users.csv", "roles.csv", "classes.csv", "enrollments.csv")
REQUIRED_FILES_V2 = ("users.csv", "classes.csv", "enrollments.csv")
REQUIRED_COLUMNS = {
    "users.csv": ("sourcedId", "givenName", "familyName"),
    "roles.csv": ("userSourcedId", "role"),
    "classes.csv": ("sourcedId", "title"),
    "enrollments.csv": ("classSourcedId", "userSourcedId", "role"),
    "relationships.csv": ("userSourcedId", "relationshipUserSourcedId", "relationshipRole"),
    "courses.csv": ("sourcedId",),
}


def read_sds(source: RosterSource, version: str = SDS_21) -> Roster:
    """Read an SDS v2.1 (``sds-2.1``) or v2 (``sds-2``, no roles.csv) CSV roster from ``source``.

    Raises :class:`RosterError` for a missing required file (users.csv, classes.csv,
    enrollments.csv; v2.1 also roles.csv), a missing required column or an unreadable file;
    every unusable row becomes a problem of the returned roster.
    """
    source.require(REQUIRED_FILES if version == SDS_21 else REQUIRED_FILES_V2, TITLES[version])
    tables: dict[str, Table] = {}
    for name in (*REQUIRED_FILES, "relationships.csv", "courses.csv"):
        if source.has(name):
            tables[name] = source.table(name, REQUIRED_COLUMNS[name], HEADERS[name])

    b = RosterBuilder(version)
    _classes(b, tables["classes.csv"], _course_grades(tables.get("courses.csv")))
    _users(b, tables["users.csv"])
    if "roles.csv" in tables:
        _roles(b, tables["roles.csv"])
    _enrollments(b, tables["enrollments.csv"])
    if "relationships.csv" in tables:
        _relationships(b, tables["relationships.csv"])
    return b.build()


def _start(b: RosterBuilder, table: Table) -> None:
    for line, reason in table.problems:
        b.problem(table.name, line, reason)


def _course_grades(table: Table | None) -> dict[str, str]:
    if table is None:
        return {}
    return {row.get("sourcedId"): row.get("grade") for row in table.rows if row.get("sourcedId")}


def _classes(b: RosterBuilder, table: Table, course_grades: dict[str, str]) -> None:
    _start(b, table)
    for row in table.rows:
        source_id, title = row.get("sourcedId"), row.get("title")
        if b.missing_fields(table.name, row.line, {"sourcedId": source_id, "title": title}):
            b.left_out("class", source_id, table.name, row.line)
            continue
        grade = course_grades.get(row.get("courseSourcedId"), "")
        b.add_class(table.name, row.line, source_id, title, (grade,) if grade else ())


def _users(b: RosterBuilder, table: Table) -> None:
    _start(b, table)
    for row in table.rows:
        source_id = row.get("sourcedId")
        given, family = row.get("givenName"), row.get("familyName")
        if b.missing_fields(table.name, row.line, {"sourcedId": source_id, "givenName": given, "familyName": family}):
            b.left_out("person", source_id, table.name, row.line)
            continue
        if not b.add_person(table.name, row.line, source_id, FullName(family, given, row.get("middleName"))):
            continue
        role_word = row.get("role")  # SDS v2 exports carry it here when they have no roles.csv
        if role_word:
            role = SDS_ROLES.get(role_word.lower())
            if role is None:
                b.problem(table.name, row.line, _("unknown role {role}").format(role=role_word))
            else:
                b.offer_role(source_id, role, PRIMARY, role_word)


def _roles(b: RosterBuilder, table: Table) -> None:
    """roles.csv: the row with ``isPrimary`` true wins; the student's ``grade`` is kept."""
    _start(b, table)
    for row in table.rows:
        user_id, role_word = row.get("userSourcedId"), row.get("role")
        if b.missing_fields(table.name, row.line, {"userSourcedId": user_id, "role": role_word}):
            continue
        reason = b.person_ref_problem(user_id)
        if reason:
            b.problem(table.name, row.line, reason)
            continue
        role = SDS_ROLES.get(role_word.lower())
        if role is None:
            b.problem(table.name, row.line, _("unknown role {role}").format(role=role_word))
            continue
        primary = row.get("isPrimary").lower() in ("true", "1", "yes")
        b.offer_role(user_id, role, PRIMARY if primary else SECONDARY, role_word)
        b.add_grade(user_id, row.get("grade"))


def _enrollments(b: RosterBuilder, table: Table) -> None:
    _start(b, table)
    for row in table.rows:
        class_id, user_id, role_word = row.get("classSourcedId"), row.get("userSourcedId"), row.get("role")
        if b.missing_fields(
            table.name, row.line, {"classSourcedId": class_id, "userSourcedId": user_id, "role": role_word}
        ):
            continue
        b.add_enrollment(table.name, row.line, class_id, user_id, role_word, SDS_ROLES, primary=False)


def _relationships(b: RosterBuilder, table: Table) -> None:
    _start(b, table)
    for row in table.rows:
        student_id = row.get("userSourcedId")
        guardian_id = row.get("relationshipUserSourcedId")
        relation = row.get("relationshipRole")
        if b.missing_fields(
            table.name,
            row.line,
            {"userSourcedId": student_id, "relationshipUserSourcedId": guardian_id, "relationshipRole": relation},
        ):
            continue
        b.add_relationship(table.name, row.line, student_id, guardian_id, relation)

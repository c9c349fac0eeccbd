"""OneRoster 1.1 and 1.2 CSV (bulk or delta): users, roles, classes and enrollments.

Follows the OneRoster 1.1 CSV binding ("OneRoster v1.1 CSV Tables", §3: users.csv,
classes.csv, enrollments.csv; the user's role is the ``role`` column) and the OneRoster
1.2 CSV binding ("OneRoster v1.2 Rostering CSV", where roles move to roles.csv with
``roleType`` primary/secondary). ``status`` is ``active`` (or blank in bulk files) or
``tobedeleted``; ``tobedeleted`` rows are left out and reported. Files the reader does
not need (orgs.csv, courses.csv, academicSessions.csv, demographics.csv...) are not read.
"""

from __future__ import annotations

from policies.i18n import _
from policies.model import FullName, Roster

from .build import ONEROSTER_ROLES, PRIMARY, SECONDARY, RosterBuilder, split_list
from .source import RosterSource, Table

ONEROSTER_11 = "oneroster-1.1"
ONEROSTER_12 = "oneroster-1.2"

TITLES = {ONEROSTER_11: "OneRoster 1.1 CSV", ONEROSTER_12: "OneRoster 1.2 CSV"}

# The headers the bindings define (for hints); only the REQUIRED columns must be present.
HEADERS = {
    ONEROSTER_11: {
        "users.csv": "sourcedId,status,dateLastModified,enabledUser,orgSourcedIds,role,username,userIds,"
        "givenName,familyName,middleName,identifier,email,sms,phone,agentSourcedIds,grades,password",
    },
    ONEROSTER_12: {
        "users.csv": "sourcedId,status,dateLastModified,enabledUser,username,userIds,givenName,familyName,"
        "middleName,identifier,email,sms,phone,agentSourcedIds,grades,password,userMasterIdentifier,"
        "resourceSourcedIds,preferredGivenName,preferredMiddleName,preferredFamilyName,primaryOrgSourcedId,pronouns",
        "roles.csv": "sourcedId,status,dateLastModified,userSourcedId,roleType,role,beginDate,endDate,"
        "orgSourcedId,userProfileSourcedId",
    },
}
COMMON_HEADERS = {
    "classes.csv": "sourcedId,status,dateLastModified,title,grades,courseSourcedId,classCode,classType,"
    "location,schoolSourcedId,termSourcedIds,subjects,subjectCodes,periods",
    "enrollments.csv": "sourcedId,status,dateLastModified,classSourcedId,schoolSourcedId,userSourcedId,"
    "role,primary,beginDate,endDate",
}

REQUIRED_FILES = ("users.csv", "classes.csv", "enrollments.csv")
REQUIRED_COLUMNS: dict[str, dict[str, tuple[str, ...]]] = {
    ONEROSTER_11: {"users.csv": ("sourcedId", "role", "givenName", "familyName")},
    ONEROSTER_12: {"users.csv": ("sourcedId", "givenName", "familyName"),
                   "roles.csv": ("userSourcedId", "roleType", "role")},
}
COMMON_REQUIRED: dict[str, tuple[str, ...]] = {
    "classes.csv": ("sourcedId", "title"),
    "enrollments.csv": ("classSourcedId", "userSourcedId", "role"),
}


def header_of(version: str, name: str) -> str:
    """The header the binding of ``version`` defines for file ``name`` ("" if none)."""
    return HEADERS[version].get(name) or COMMON_HEADERS.get(name, "")


def read_oneroster(source: RosterSource, version: str) -> Roster:
    """Read a OneRoster ``version`` (``oneroster-1.1``/``oneroster-1.2``) roster from ``source``.

    Raises :class:`RosterError` for a missing required file (users.csv, classes.csv,
    enrollments.csv), a missing required column or an unreadable file; every unusable
    row becomes a problem of the returned roster.
    """
    source.require(REQUIRED_FILES, TITLES[version])
    tables: dict[str, Table] = {}
    for name in ("users.csv", "roles.csv", "classes.csv", "enrollments.csv"):
        if name == "roles.csv" and (version != ONEROSTER_12 or not source.has(name)):
            continue
        required = REQUIRED_COLUMNS[version].get(name) or COMMON_REQUIRED[name]
        tables[name] = source.table(name, required, header_of(version, name))

    b = RosterBuilder(version, delta=is_delta(source))
    _classes(b, tables["classes.csv"])
    _users(b, tables["users.csv"], version)
    if "roles.csv" in tables:
        _roles(b, tables["roles.csv"])
    _enrollments(b, tables["enrollments.csv"])
    return b.build()


#: The manifest's files whose ``delta`` makes the roster a delta (OneRoster v1.1 CSV §2.1 / v1.2
#: CSV "manifest": ``file.<name>`` is ``bulk``, ``delta`` or ``absent``).
DELTA_FILES = ("file.users", "file.classes", "file.enrollments", "file.roles")


def is_delta(source: RosterSource) -> bool:
    """Whether the manifest says the export holds only changes (``file.users``... = ``delta``)."""
    if not source.has("manifest.csv"):
        return False
    manifest = source.table("manifest.csv", ("propertyName", "value"), "propertyName,value")
    return any(row.get("propertyName").strip().lower() in DELTA_FILES and row.get("value").strip().lower() == "delta"
               for row in manifest.rows)


def _start(b: RosterBuilder, table: Table) -> None:
    for line, reason in table.problems:
        b.problem(table.name, line, reason)


def _status_ok(b: RosterBuilder, table: Table, line: int, status: str, kind: str, source_id: str) -> bool:
    """True for an active row (blank status counts as active); else record the problem."""
    word = status.lower()
    if word in ("", "active"):
        return True
    if word == "tobedeleted":
        b.tobedeleted(kind, table.name, line, source_id)
        return False
    b.problem(table.name, line, _("unknown status {status}; expected active or tobedeleted").format(status=status))
    b.left_out(kind, source_id, table.name, line)
    return False


def _classes(b: RosterBuilder, table: Table) -> None:
    _start(b, table)
    for row in table.rows:
        source_id, title = row.get("sourcedId"), row.get("title")
        if b.missing_fields(table.name, row.line, {"sourcedId": source_id, "title": title}):
            b.left_out("class", source_id, table.name, row.line)
            continue
        if not _status_ok(b, table, row.line, row.get("status"), "class", source_id):
            continue
        b.add_class(table.name, row.line, source_id, title, split_list(row.get("grades")))


def _users(b: RosterBuilder, table: Table, version: str) -> None:
    _start(b, table)
    for row in table.rows:
        source_id = row.get("sourcedId")
        given, family = row.get("givenName"), row.get("familyName")
        if b.missing_fields(table.name, row.line, {"sourcedId": source_id, "givenName": given, "familyName": family}):
            b.left_out("person", source_id, table.name, row.line)
            continue
        if not _status_ok(b, table, row.line, row.get("status"), "person", source_id):
            continue
        role_word = row.get("role") if version == ONEROSTER_11 else ""
        role = ONEROSTER_ROLES.get(role_word.lower()) if role_word else None
        if role_word and role is None:
            b.problem(table.name, row.line, _("unknown role {role}").format(role=role_word))
            b.left_out("person", source_id, table.name, row.line)
            continue
        name = FullName(family, given, row.get("middleName"))
        if not b.add_person(table.name, row.line, source_id, name, split_list(row.get("grades"))):
            continue
        if role is not None:
            b.offer_role(source_id, role, PRIMARY, role_word)
        b.add_agents(table.name, row.line, source_id, split_list(row.get("agentSourcedIds")))


def _roles(b: RosterBuilder, table: Table) -> None:
    """OneRoster 1.2 roles.csv: ``roleType`` primary wins over secondary."""
    _start(b, table)
    for row in table.rows:
        user_id, role_type, role_word = row.get("userSourcedId"), row.get("roleType"), row.get("role")
        if b.missing_fields(table.name, row.line, {"userSourcedId": user_id, "roleType": role_type, "role": role_word}):
            continue
        if not _status_ok(b, table, row.line, row.get("status"), "role", row.get("sourcedId")):
            continue
        reason = b.person_ref_problem(user_id)
        if reason:
            b.problem(table.name, row.line, reason)
            continue
        rank = {"primary": PRIMARY, "secondary": SECONDARY}.get(role_type.lower())
        if rank is None:
            b.problem(
                table.name,
                row.line,
                _("unknown roleType {value}; expected primary or secondary").format(value=role_type),
            )
            continue
        role = ONEROSTER_ROLES.get(role_word.lower())
        if role is None:
            b.problem(table.name, row.line, _("unknown role {role}").format(role=role_word))
            continue
        b.offer_role(user_id, role, rank, role_word)


def _enrollments(b: RosterBuilder, table: Table) -> None:
    _start(b, table)
    first_lines: dict[str, int] = {}
    for row in table.rows:
        class_id, user_id, role_word = row.get("classSourcedId"), row.get("userSourcedId"), row.get("role")
        if b.missing_fields(
            table.name, row.line, {"classSourcedId": class_id, "userSourcedId": user_id, "role": role_word}
        ):
            continue
        source_id = row.get("sourcedId")
        if b.delta and row.get("status").lower() == "tobedeleted":
            b.delete("enrollment", (class_id, user_id))
            continue
        if not _status_ok(b, table, row.line, row.get("status"), "enrollment", source_id):
            continue
        if source_id:
            if source_id in first_lines:
                b.duplicate(table.name, row.line, source_id, first_lines[source_id])
                continue
            first_lines[source_id] = row.line
        primary = row.get("primary").lower() in ("true", "1", "yes")
        b.add_enrollment(table.name, row.line, class_id, user_id, role_word, ONEROSTER_ROLES, primary)

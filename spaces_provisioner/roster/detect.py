"""Telling which roster format a set of CSV files is.

OneRoster 1.1 and 1.2 CSV carry a ``manifest.csv`` whose ``oneroster.version`` names the
version (OneRoster v1.1 CSV Tables §2.1; OneRoster v1.2 CSV, manifest). Without a
manifest the columns decide: a OneRoster 1.1 ``users.csv`` has ``role`` and
``orgSourcedIds``; OneRoster 1.2 moves roles to ``roles.csv``; both have ``status`` and
``dateLastModified``. SDS v2.1 ("SDS v2.1 CSV file format") has no ``status`` column,
its ``users.csv`` starts ``sourcedId,username,givenName,familyName`` and its
``roles.csv`` has ``isPrimary``.
"""

from __future__ import annotations

from policies.i18n import _

from .errors import RosterError
from .oneroster import ONEROSTER_11, ONEROSTER_12
from .sds import SDS_2, SDS_21
from .sds_classic import SDS_CLASSIC
from .source import RosterSource

FORMATS = (ONEROSTER_11, ONEROSTER_12, SDS_21, SDS_2, SDS_CLASSIC)


def _expected() -> str:
    return _(
        "Expected OneRoster 1.1 or 1.2 CSV (manifest.csv with oneroster.version, users.csv with status and"
        " dateLastModified columns), Microsoft SDS v2.1 or v2 CSV (users.csv with sourcedId, username, givenName,"
        " familyName; roles.csv with isPrimary, or no roles.csv), SDS classic CSV (Section.csv, Student.csv,"
        " StudentEnrollment.csv) or a class list (CSV or XLSX with a ФИО column)."
    )


def detect_format(source: RosterSource) -> str:
    """The format of ``source``: ``oneroster-1.1``, ``oneroster-1.2`` or ``sds-2.1``.

    Raises :class:`RosterError` when users.csv is missing (and no manifest names the
    format), when the manifest names another OneRoster version, or when the columns
    match no known format (the hint says what was expected).
    """
    if source.has("manifest.csv"):
        manifest = source.table("manifest.csv", ("propertyName", "value"), "propertyName,value")
        for row in manifest.rows:
            if row.get("propertyName").lower() == "oneroster.version":
                version = row.get("value")
                if version in ("1.1", "1.1.0"):
                    return ONEROSTER_11
                if version in ("1.2", "1.2.0"):
                    return ONEROSTER_12
                raise RosterError(
                    manifest.name,
                    row.line,
                    _("unsupported OneRoster version {version}").format(version=version or '""'),
                    _("Parta reads OneRoster 1.1 and 1.2 CSV and Microsoft SDS v2.1 CSV."),
                )
    if source.has("section.csv") and (source.has("student.csv") or source.has("teacher.csv")):
        return SDS_CLASSIC
    if not source.has("users.csv"):
        raise RosterError("users.csv", None, _("required file is missing"), _expected())
    users = source.table("users.csv")
    if users.has_column("status") or users.has_column("dateLastModified"):
        if users.has_column("role") and users.has_column("orgSourcedIds"):
            return ONEROSTER_11
        if source.has("roles.csv"):
            return ONEROSTER_12
    elif all(users.has_column(c) for c in ("sourcedId", "username", "givenName", "familyName")):
        if not source.has("roles.csv"):
            return SDS_2
        if source.table("roles.csv").has_column("isPrimary"):
            return SDS_21
    raise RosterError(users.name, users.header_line, _("unknown roster format"), _expected())

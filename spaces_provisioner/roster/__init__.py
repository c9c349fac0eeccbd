"""The roster reader: a school's export (OneRoster 1.1/1.2 CSV, SDS v2.1 CSV) → :class:`Roster`.

Public API::

    load_roster(path) -> policies.model.Roster     # raises RosterError
    RosterError                                      # .file, .line, .reason, .hint

Modules, one job each: :mod:`.source` (folder or zip, UTF-8 CSV decoding),
:mod:`.detect` (which format), :mod:`.oneroster` and :mod:`.sds` (the formats),
:mod:`.build` (references, roles, guardians, row problems), :mod:`.errors`; and
:mod:`.generate`, a deterministic generator of a Russian general school that writes a
OneRoster 1.2 roster (the demo, benchmarks and tests use it).
"""

from __future__ import annotations

import pathlib

from policies.model import Roster

from .class_list import CLASS_LIST, read_class_list, sheets_of
from .detect import FORMATS, detect_format
from .errors import RosterError
from .oneroster import ONEROSTER_11, ONEROSTER_12, read_oneroster
from .sds import SDS_2, SDS_21, read_sds
from .sds_classic import SDS_CLASSIC, read_sds_classic
from .source import RosterSource

__all__ = ["CLASS_LIST", "FORMATS", "ONEROSTER_11", "ONEROSTER_12", "SDS_2", "SDS_21", "SDS_CLASSIC",
           "RosterError", "load_roster"]


def load_roster(path: pathlib.Path, format: str | None = None) -> Roster:
    """Read the roster at ``path`` (a folder, or a ``.zip`` with the files in its root or one sub-folder).

    Detects the format (OneRoster 1.2 or 1.1 CSV binding by ``manifest.csv``
    ``oneroster.version`` or by the columns; Microsoft "SDS v2.1 CSV format") and
    returns a :class:`policies.model.Roster` whose ``format`` is ``oneroster-1.1``,
    ``oneroster-1.2`` or ``sds-2.1``, with:

    - ``classes``: ``{sourcedId: SchoolClass(source_id, title, grades)}``;
    - ``people``: ``{sourcedId: Person(source_id, FullName(family, given, middle), role, grades)}``,
      the role mapped to Parta's (teacher/aide/proctor/professor → TEACHER, student →
      STUDENT, parent/guardian/relative → PARENT, administrators → ADMIN, principal → HEAD);
    - ``enrollments``: ``[Enrollment(class_id, person_id, TEACHER|STUDENT, primary)]``;
    - ``guardianships``: ``[Guardianship(student_id, guardian_id, relation)]`` from SDS
      relationships.csv or OneRoster ``agentSourcedIds`` of student rows;
    - ``problems``: ``[RowProblem(file, line, reason)]`` for every row left out
      (``tobedeleted``, unknown class/person/role, duplicate sourcedId, empty required
      field, person with no role), sorted by file and line; line 1 is the header and a
      row whose quoted value spans lines is numbered by its first line.

    Raises :class:`RosterError` (nothing is returned) when the roster is unusable as a
    whole: path missing or not a folder/zip, a ``.zip`` that is not a zip, unknown
    format, a required file missing (users.csv, classes.csv, enrollments.csv; SDS also
    roles.csv), a required column missing, a file not in UTF-8, an empty file.
    Messages are in the current language (:mod:`policies.i18n`).
    """
    source = RosterSource.open(pathlib.Path(path))
    if format == CLASS_LIST or (format is None and not source.has_standard_files() and source.files()):
        return read_class_list(sheets_of(source.files()))
    fmt = format or detect_format(source)
    if fmt in (SDS_21, SDS_2):
        return read_sds(source, fmt)
    if fmt == SDS_CLASSIC:
        return read_sds_classic(source)
    return read_oneroster(source, fmt)

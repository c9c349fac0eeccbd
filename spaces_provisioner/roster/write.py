"""Writing a :class:`Roster` back out as a OneRoster 1.1 CSV bulk roster.

The watch of a REST roster (``parta roster watch --rest-url``) sends what it fetched to the
provisioning service the way every roster travels, as CSV files in a zip; this module writes
those files. The files follow the OneRoster 1.1 CSV binding ("OneRoster v1.1 CSV Tables":
manifest.csv, users.csv with one ``role`` per user, classes.csv, enrollments.csv), blank
``status``/``dateLastModified`` as bulk files have them, UTF-8 without a BOM, "\\n" line ends,
so that :func:`spaces_provisioner.roster.load_roster` reads the same roster back (its
``format`` then being ``oneroster-1.1``).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from policies.model import Role, Roster

from .build import PARENTAL_WORDS
from .oneroster import COMMON_HEADERS, HEADERS, ONEROSTER_11

__all__ = ["write_roster_csv"]

#: The role word written for each Parta role (a guardian's word is their relation, see below).
ROLE_WORDS = {Role.ADMIN: "administrator", Role.HEAD: "principal", Role.TEACHER: "teacher",
              Role.STUDENT: "student", Role.PARENT: "parent"}
#: Every file of the 1.1 CSV binding, for the manifest (those not written are ``absent``).
MANIFEST_FILES = ("academicSessions", "categories", "classes", "classResources", "courses", "courseResources",
                  "demographics", "enrollments", "lineItems", "orgs", "resources", "results", "users")
WRITTEN = ("classes", "users", "enrollments")


def write_roster_csv(roster: Roster, folder: Path) -> list[Path]:
    """Write ``roster`` into ``folder`` (created if missing) as OneRoster 1.1 CSV; returns the paths.

    Files: manifest.csv (``oneroster.version`` 1.1), classes.csv, users.csv,
    enrollments.csv, overwritten if present. Users are written in the roster's order; a
    student's ``agentSourcedIds`` are their guardians in the order of
    ``roster.guardianships``; a parent's ``role`` is the relation of their first
    guardianship (``parent``, ``guardian`` or ``relative``; else ``parent``). Enrollments
    get the ids ``enr-00001``... Problems of the roster are not written (the rows they name
    were left out). The same roster gives the same bytes. Raises OSError when a file
    cannot be written.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    agents: dict[str, list[str]] = {}
    relation: dict[str, str] = {}
    for g in roster.guardianships:
        agents.setdefault(g.student_id, []).append(g.guardian_id)
        word = g.relation.lower()
        relation.setdefault(g.guardian_id, word if word in PARENTAL_WORDS else "parent")

    users = []
    for p in roster.people.values():
        role = relation.get(p.source_id, "parent") if p.role is Role.PARENT else ROLE_WORDS[p.role]
        users.append([p.source_id, "", "", "true", "", role, "", "", p.name.given_name, p.name.family_name,
                      p.name.middle_name, "", "", "", "", ",".join(agents.get(p.source_id, ())),
                      ",".join(p.grades), ""])
    classes = [[c.source_id, "", "", c.title, ",".join(c.grades), "", "", "", "", "", "", "", "", ""]
               for c in roster.classes.values()]
    enrollments = [[f"enr-{n:05d}", "", "", e.class_id, "", e.person_id, ROLE_WORDS[e.role],
                    "true" if e.primary else "false", "", ""] for n, e in enumerate(roster.enrollments, 1)]
    manifest = [["manifest.version", "1.0"], ["oneroster.version", "1.1"]]
    manifest += [[f"file.{name}", "bulk" if name in WRITTEN else "absent"] for name in MANIFEST_FILES]
    manifest += [["source.systemName", "Parta"]]
    return [
        write_csv(folder / "manifest.csv", "propertyName,value", manifest),
        write_csv(folder / "classes.csv", COMMON_HEADERS["classes.csv"], classes),
        write_csv(folder / "users.csv", HEADERS[ONEROSTER_11]["users.csv"], users),
        write_csv(folder / "enrollments.csv", COMMON_HEADERS["enrollments.csv"], enrollments),
    ]


def write_csv(path: Path, header: str, rows: list[list[str]]) -> Path:
    """One CSV file of a roster: ``header`` (comma-separated names), then ``rows``; UTF-8, "\n"
    line ends on every platform (bytes, not text mode: RFC 4180 allows either). Returns ``path``."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header.split(","))
    writer.writerows(rows)
    path.write_bytes(buffer.getvalue().encode("utf-8"))
    return path

"""Reading a roster's CSV files from a folder or a zip archive, and decoding them.

A roster is a set of CSV files (``users.csv``, ``classes.csv``...) in a folder or a
``.zip``; the files may sit in the root or in one sub-folder (as exports often do).
Every file is read as UTF-8 (a UTF-8 BOM is accepted) and parsed as RFC 4180 CSV
with a header row; the OneRoster 1.1/1.2 CSV bindings and SDS v2.1 CSV format both
require that.
"""

from __future__ import annotations

import codecs
import csv
import io
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from policies.i18n import _, ngettext

from .errors import RosterError

# A member of a zip archive larger than this is refused (a roster of a whole region
# is a few tens of megabytes; this stops a "zip bomb" from filling the memory).
MAX_FILE_BYTES = 256 * 1024 * 1024

_IGNORED_DIRS = ("__MACOSX",)
#: A file that marks the folder holding a roster (OneRoster and SDS v2: users.csv; SDS classic: student.csv).
_MARKERS = {"users.csv", "student.csv", "section.csv"}
# Any of these names means a standard export (perhaps with a file missing, which its reader
# then names), never a class list.
_STANDARD = _MARKERS | {"manifest.csv", "classes.csv", "enrollments.csv", "roles.csv", "orgs.csv",
                        "academicsessions.csv", "relationships.csv", "demographics.csv", "courses.csv",
                        "school.csv", "teacher.csv", "studentenrollment.csv", "teacherroster.csv",
                        "guardianrelationship.csv"}


@dataclass
class Row:
    """One data row: its 1-based starting line and values by lower-cased column name.

    Values are stripped of surrounding whitespace; a column the row does not reach
    reads as ``""``.
    """

    line: int
    values: dict[str, str]

    def get(self, column: str) -> str:
        """The value of ``column`` (any case), ``""`` when absent or empty."""
        return self.values.get(column.lower(), "")


@dataclass
class Table:
    """A decoded CSV file: ``name`` as found, ``columns`` (stripped header names), ``rows``.

    ``problems`` holds ``(line, reason)`` for rows that cannot even be split into the
    header's columns; the format readers turn them into row problems.
    """

    name: str
    columns: list[str]
    header_line: int = 1
    rows: list[Row] = field(default_factory=list)
    problems: list[tuple[int, str]] = field(default_factory=list)

    def has_column(self, column: str) -> bool:
        """True if the header names ``column`` (any case, surrounding spaces ignored)."""
        return column.lower() in {c.lower() for c in self.columns}


class RosterSource:
    """The files of one roster, by lower-cased file name.

    Build it with :meth:`open`. Raises :class:`RosterError` for a path that is neither
    a folder nor a zip archive, a ``.zip`` that is not a zip, or an archive holding
    several rosters.
    """

    def __init__(self, label: str, files: dict[str, tuple[str, Callable[[], bytes]]]) -> None:
        self.label = label
        self._files = files
        self._tables: dict[str, Table] = {}

    @classmethod
    def open(cls, path: Path) -> RosterSource:
        """Open a roster folder or ``.zip`` archive (files in its root or in one sub-folder)."""
        path = Path(path)
        if path.is_dir():
            return cls._from_folder(path)
        if path.is_file() and path.suffix.lower() in (".csv", ".xlsx"):  # one class list
            return cls(path.name, {path.name.lower(): (path.name, path.read_bytes)})
        if not path.exists():
            raise RosterError(
                path.name or str(path),
                None,
                _("no such file or folder"),
                _("Give the folder or the .zip archive that holds the roster's CSV files."),
            )
        if path.suffix.lower() == ".zip" or zipfile.is_zipfile(path):
            return cls._from_zip(path)
        raise RosterError(
            path.name,
            None,
            _("not a folder or a zip archive"),
            _("Give the folder or the .zip archive that holds the roster's CSV files."),
        )

    @classmethod
    def _from_folder(cls, root: Path) -> RosterSource:
        dirs: dict[str, dict[str, tuple[str, Callable[[], bytes]]]] = {"": _folder_files(root)}
        for sub in sorted(root.iterdir()):
            if sub.is_dir() and not sub.name.startswith(".") and sub.name not in _IGNORED_DIRS:
                dirs[sub.name] = _folder_files(sub)
        return cls(root.name, _choose_dir(root.name, dirs))

    @classmethod
    def _from_zip(cls, path: Path) -> RosterSource:
        not_zip = RosterError(
            path.name,
            None,
            _("not a zip archive"),
            _("Pack the roster's CSV files into a .zip archive again, or give the folder instead."),
        )
        try:
            archive = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError) as e:
            raise not_zip from e
        with archive:
            dirs: dict[str, dict[str, tuple[str, Callable[[], bytes]]]] = {}
            for info in archive.infolist():
                if info.is_dir():
                    continue
                parts = info.filename.replace("\\", "/").strip("/").split("/")
                if len(parts) > 2 or parts[0] in _IGNORED_DIRS or parts[-1].startswith("."):
                    continue
                folder = parts[0] if len(parts) == 2 else ""
                name = parts[-1]
                if not name.lower().endswith(ROSTER_SUFFIXES) or name.startswith("~$"):
                    continue
                if info.file_size > MAX_FILE_BYTES:
                    raise RosterError(
                        name,
                        None,
                        _("the file is too large ({size} MB)").format(size=info.file_size // (1024 * 1024)),
                        _("Split the roster into smaller archives."),
                    )
                try:
                    data = archive.read(info)
                except (zipfile.BadZipFile, RuntimeError, OSError, NotImplementedError) as e:
                    raise RosterError(
                        path.name,
                        None,
                        _("cannot unpack {name} from the archive").format(name=info.filename),
                        _("Pack the roster's CSV files into a .zip archive again, without a password."),
                    ) from e
                dirs.setdefault(folder, {})[name.lower()] = (name, _constant(data))
        return cls(path.name, _choose_dir(path.name, dirs))

    def has(self, name: str) -> bool:
        """True if the roster has a file called ``name`` (any case)."""
        return name.lower() in self._files

    def has_standard_files(self) -> bool:
        """Whether the files are a standard export (OneRoster, SDS), not class lists."""
        return bool(_STANDARD & set(self._files))

    def files(self) -> list[tuple[str, bytes]]:
        """Every file as ``(name as spelled, bytes)``, by name."""
        return [(display, read()) for _key, (display, read) in sorted(self._files.items())]

    def require(self, names: tuple[str, ...], format_title: str) -> None:
        """Raise :class:`RosterError` naming the first of ``names`` the roster lacks."""
        for name in names:
            if not self.has(name):
                raise RosterError(name, None, _("required file is missing"),
                                  _("A {format} roster needs these files: {files}.").format(
                                      format=format_title, files=", ".join(names)))

    def display_name(self, name: str) -> str:
        """The file's name as it is spelled in the roster (``name`` when absent)."""
        entry = self._files.get(name.lower())
        return entry[0] if entry else name

    def read_bytes(self, name: str) -> bytes:
        """The raw bytes of file ``name``; KeyError when absent."""
        return self._files[name.lower()][1]()

    def table(self, name: str, required: Iterable[str] = (), expected_header: str = "") -> Table:
        """File ``name`` decoded and parsed (cached), checked for the ``required`` columns.

        Raises :class:`RosterError` if the file is not UTF-8 (with the line of the first
        bad byte), is empty, is not valid CSV, or lacks a required column (hint: the
        ``expected_header``).
        """
        key = name.lower()
        if key not in self._tables:
            display = self.display_name(name)
            self._tables[key] = parse_csv(display, self.read_bytes(name), expected_header)
        table = self._tables[key]
        check_columns(table, required, expected_header)
        return table


#: The files a roster is made of: CSV, and Excel workbooks of class lists.
ROSTER_SUFFIXES = (".csv", ".xlsx")


def _folder_files(folder: Path) -> dict[str, tuple[str, Callable[[], bytes]]]:
    files: dict[str, tuple[str, Callable[[], bytes]]] = {}
    for p in sorted(folder.iterdir()):
        if p.is_file() and p.suffix.lower() in ROSTER_SUFFIXES and not p.name.startswith(".") \
                and not p.name.startswith("~$"):  # "~$list.xlsx": Excel's lock file
            files[p.name.lower()] = (p.name, p.read_bytes)
    return files


def _constant(data: bytes) -> Callable[[], bytes]:
    return lambda: data


def _choose_dir(
    label: str, dirs: dict[str, dict[str, tuple[str, Callable[[], bytes]]]]
) -> dict[str, tuple[str, Callable[[], bytes]]]:
    """The files of the folder holding the roster: the root, else the one sub-folder with one."""
    root = dirs.get("", {})
    if _MARKERS & set(root):
        return root
    with_users = [d for d, files in dirs.items() if d and _MARKERS & set(files)]
    if len(with_users) == 1:
        return dirs[with_users[0]]
    if len(with_users) > 1:
        raise RosterError(
            label,
            None,
            _("several rosters in one place: {folders}").format(folders=", ".join(sorted(with_users))),
            _("Give one roster at a time: one folder or archive per roster."),
        )
    if root:
        return root
    with_csv = [d for d, files in dirs.items() if files]
    return dirs[with_csv[0]] if len(with_csv) == 1 else {}


def decode(name: str, data: bytes) -> str:
    """``data`` decoded as UTF-8 (a leading BOM dropped).

    Raises :class:`RosterError` naming the line of the first byte that is not UTF-8.
    """
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise RosterError(
            name,
            line,
            _("the file is not in UTF-8 encoding"),
            _('Save the file as CSV in UTF-8 encoding (in Excel: "CSV UTF-8") and load it again.'),
        ) from e


def parse_csv(name: str, data: bytes, expected_header: str = "") -> Table:
    """Decode and parse one CSV file whose first non-blank line is the header.

    Header names are stripped of spaces and BOMs; empty and repeated header names are
    ignored. Blank rows are skipped. Line numbers are physical (a quoted value may span
    lines; a row's number is the line it starts on). Raises :class:`RosterError` for an
    undecodable, empty or malformed file.
    """
    text = decode(name, data)
    if expected_header:
        empty_hint = _("The first line must be the header: {header}").format(header=expected_header)
    else:
        empty_hint = _("The first line must be the header with the column names.")
    if not text.strip().strip("\ufeff"):
        raise RosterError(name, None, _("the file is empty"), empty_hint)
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    table: Table | None = None
    index: list[tuple[int, str]] = []
    last_line = 0
    try:
        for record in reader:
            start, last_line = last_line + 1, reader.line_num
            if not any(cell.strip() for cell in record):
                continue
            if table is None:
                table, index = _header(name, record, start)
                continue
            values = {key: record[i].strip() for i, key in index if i < len(record)}
            extra = [cell for cell in record[len(table.columns) :] if cell.strip()]
            if extra:
                table.problems.append(
                    (
                        start,
                        _(
                            "the row has more values than the header has columns ({count} > {columns});"
                            " quote values that contain commas"
                        ).format(count=len(record), columns=len(table.columns)),
                    )
                )
                continue
            table.rows.append(Row(start, values))
    except csv.Error as e:
        raise RosterError(
            name,
            last_line + 1,
            _("the file is not valid CSV ({error})").format(error=e),
            _("Check the quotes on this line: a value with a comma or a quote must be in double quotes."),
        ) from e
    if table is None:
        raise RosterError(name, None, _("the file is empty"), empty_hint)
    return table


def _header(name: str, record: list[str], line: int) -> tuple[Table, list[tuple[int, str]]]:
    columns = [cell.strip().strip("\ufeff").strip() for cell in record]
    index: list[tuple[int, str]] = []
    seen: set[str] = set()
    for i, column in enumerate(columns):
        key = column.lower()
        if key and key not in seen:
            seen.add(key)
            index.append((i, key))
    return Table(name, columns, line), index


def check_columns(table: Table, required: Iterable[str], expected_header: str = "") -> None:
    """Raise :class:`RosterError` (on the header's line) naming every ``required`` column the header lacks."""
    missing = [c for c in required if not table.has_column(c)]
    if not missing:
        return
    reason = ngettext(
        "required column {columns} is missing", "required columns {columns} are missing", len(missing)
    ).format(columns=", ".join(missing))
    if len([c for c in table.columns if c]) == 1 and ";" in table.columns[0]:
        hint = _("The file uses ';' between values; OneRoster and SDS CSV files use ','.")
    elif expected_header:
        hint = _("Expected header: {header}").format(header=expected_header)
    else:
        hint = ""
    raise RosterError(table.name, table.header_line, reason, hint)


def zip_folder(path: Path) -> bytes:
    """A roster as one in-memory zip (what ``POST .../roster`` takes): a folder's files sorted by
    name, a ``.zip`` as it is, or one class-list file (``.csv``/``.xlsx``) under its own name."""
    path = Path(path)
    if path.is_file() and path.suffix.lower() not in ROSTER_SUFFIXES:
        return path.read_bytes()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for f in [path] if path.is_file() else sorted(path.iterdir()):
            if f.is_file():
                z.write(f, f.name)
    return buf.getvalue()

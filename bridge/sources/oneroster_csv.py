"""OneRoster 1.1 / 1.2 gradebook CSV from a drop folder or a zip: ``type: oneroster_csv``.

Config (one entry of the bridge's ``sources:``)::

    {"name": "school-csv", "type": "oneroster_csv", "org": "school-1", "path": "/srv/drop/oneroster"}

``path`` is a folder or a ``.zip`` holding ``lineItems.csv`` and ``results.csv`` (required),
``categories.csv``, ``classes.csv`` and ``manifest.csv`` (optional). File names are matched
case-insensitively and, in a zip, in any sub-folder.

Sources followed: OneRoster 1.1 CSV Tables (§2 files, §3.1 manifest, §3.3 categories, §3.4
classes, §3.9 lineItems, §3.12 results) and OneRoster 1.2 CSV Binding (same files; results gain
``classSourcedId, scoreScaleSourcedId, textScore, inProgress, incomplete, late, missing``,
lineItems gain ``academicSessionSourcedId, schoolSourcedId, scoreScaleSourcedId``);
``scoreStatus`` is the Gradebook ``ScoreStatusEnum`` (1.2 Gradebook §4.13.5).

Errors: a file wrong as a whole (not UTF-8, a required column missing, not CSV, every row
bad, a required file missing) raises :class:`~bridge.model.SourceError` with ``retry=False``
and the text ``"{file}:{line}:{column}: reason; fix"``. A bad row is skipped and its problem,
in the same format, is kept in :attr:`OneRosterCsvSource.problems` after the read.
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from bridge.model import LineItem, Record, Result, ScoreStatus, Snapshot, SourceError
from bridge.sources.base import source_type
from bridge.sources.http import HttpClient

#: The files read, by their lower-cased name; True: required (unless the manifest says ``absent``).
FILES = {"lineitems.csv": True, "results.csv": True, "categories.csv": False, "classes.csv": False,
         "manifest.csv": False}

#: Columns a file cannot do without (the spec requires more; these are the ones Parta needs).
REQUIRED_COLUMNS = {
    "lineitems.csv": ("sourcedId", "title", "classSourcedId"),
    "results.csv": ("sourcedId", "lineItemSourcedId", "studentSourcedId", "scoreStatus"),
    "categories.csv": ("sourcedId", "title"),
    "classes.csv": ("sourcedId", "title"),
    "manifest.csv": ("propertyName", "value"),
}

_STATUS_KEYS = {s.value.replace(" ", ""): s for s in ScoreStatus}


class RowError(ValueError):
    """One bad cell: ``column`` (its header name) and the reason with its fix."""

    def __init__(self, column: str, reason: str):
        super().__init__(reason)
        self.column = column


@dataclass
class Row:
    """One data row: its cells by header name and the physical line it starts on (1-based)."""

    cells: dict[str, str]
    line: int

    def get(self, column: str) -> str:
        return (self.cells.get(column) or "").strip()

    def need(self, column: str) -> str:
        value = self.get(column)
        if not value:
            raise RowError(column, "empty; this column needs a value")
        return value


def parse_status(value: str, column: str = "scoreStatus") -> ScoreStatus:
    """``ScoreStatusEnum`` from its spelling ("fully graded", "fullyGraded", "FULLY_GRADED"). Raises RowError."""
    key = value.strip().lower().replace("_", "").replace("-", "").replace(" ", "")
    if key not in _STATUS_KEYS:
        raise RowError(column, f"unknown score status {value!r}; use one of "
                               f"{', '.join(s.value for s in ScoreStatus)}")
    return _STATUS_KEYS[key]


def parse_datetime(value: str, column: str) -> date | datetime | None:
    """An ISO 8601 date (``2024-09-02``) as a date, a date-time (``2024-09-02T08:30:00Z``) as a datetime.

    Empty → None. Raises RowError naming ``column``.
    """
    value = value.strip()
    if not value:
        return None
    try:
        if len(value) == 10:
            return date.fromisoformat(value)
        return datetime.fromisoformat(value)
    except ValueError:
        raise RowError(column, f"bad date {value!r}; write dates as YYYY-MM-DD or "
                               "YYYY-MM-DDThh:mm:ssZ (ISO 8601)") from None


def parse_date(value: str, column: str) -> date | None:
    """:func:`parse_datetime` reduced to its day (a date-time's own date, as written)."""
    parsed = parse_datetime(value, column)
    return parsed.date() if isinstance(parsed, datetime) else parsed


def parse_float(value: object, column: str) -> float | None:
    """A number (``4``, ``4.5``, also ``4,5``); empty/None → None. Raises RowError."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    text = str(value).strip().replace(",", ".")
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        raise RowError(column, f"not a number {value!r}; write a number such as 4 or 4.5") from None


def parse_bool(value: object, column: str) -> bool:
    """OneRoster ``TrueFalseEnum`` ("true"/"false", any case; JSON booleans too); empty → False. Raises RowError."""
    if isinstance(value, bool):
        return value
    text = str(value or "").strip().lower()
    if text in ("", "false"):
        return False
    if text == "true":
        return True
    raise RowError(column, f"not true/false {value!r}; write true or false")


def first_subject(subjects: str) -> str:
    """The first entry of a OneRoster list field (``"Математика,Алгебра"`` → ``"Математика"``)."""
    return next((s.strip() for s in subjects.split(",") if s.strip()), "")


def _decode(name: str, data: bytes) -> str:
    """UTF-8 text with or without a BOM. Raises SourceError at the first byte that is not UTF-8."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        # a byte column: the text before the bad byte may itself not be UTF-8, so characters cannot be counted
        column = e.start - (data.rfind(b"\n", 0, e.start) + 1) + 1
        raise SourceError(f"{name}:{line}:{column}: not UTF-8 (byte 0x{data[e.start]:02x}); "
                          "export or save the file as UTF-8", retry=False) from None


def read_table(name: str, data: bytes, required: tuple[str, ...]) -> Iterator[Row]:
    """The well-formed data rows of one CSV file (header on line 1); blank and ragged lines skipped.

    Raises SourceError (``retry=False``) when the file is not UTF-8 or not CSV, a header name
    repeats or a ``required`` column is missing.
    """
    yield from (row for row in _rows(name, data, required) if isinstance(row, Row))


def _rows(name: str, data: bytes, required: tuple[str, ...]) -> Iterator[Row | tuple[int, RowError]]:
    """Rows of ``name``, or ``(line, RowError)`` for a row whose field count is wrong. Raises SourceError."""
    reader = csv.reader(io.StringIO(_decode(name, data), newline=""))
    try:
        header = [h.strip() for h in next(reader, [])]
        if not any(header):
            raise SourceError(f"{name}:1:1: no header row; the first line must name the columns",
                              retry=False)
        repeated = sorted({h for h in header if header.count(h) > 1})
        if repeated:
            raise SourceError(f"{name}:1:{repeated[0]}: column named twice; keep one", retry=False)
        for column in required:
            if column not in header:
                raise SourceError(f"{name}:1:{column}: required column missing; add it to the header "
                                  "(OneRoster CSV column names are case-sensitive)", retry=False)
        while True:
            start = reader.line_num + 1
            row = next(reader, None)
            if row is None:
                return
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                column = header[len(row)] if len(row) < len(header) else str(len(header) + 1)
                yield start, RowError(column, f"{len(row)} fields where the header has {len(header)}; "
                                              "quote values that contain commas")
                continue
            yield Row(dict(zip(header, row, strict=True)), start)
    except csv.Error as e:
        raise SourceError(f"{name}:{reader.line_num}:1: not valid CSV ({e}); save the file as CSV",
                          retry=False) from None


def _load(path: Path) -> dict[str, tuple[str, bytes]]:
    """The known files in ``path`` (folder or zip): lower-cased name → (name as found, bytes). Raises SourceError."""
    found: dict[str, tuple[str, bytes]] = {}
    if not path.exists():
        raise SourceError(f"{path}: no such folder or zip; check path in the bridge's config", retry=False)
    if path.is_file():
        try:
            with zipfile.ZipFile(path) as archive:
                for info in archive.infolist():
                    base = info.filename.rsplit("/", 1)[-1]
                    if not info.is_dir() and base.lower() in FILES and base.lower() not in found:
                        found[base.lower()] = (base, archive.read(info))
        except (zipfile.BadZipFile, OSError) as e:
            raise SourceError(f"{path}: not a readable zip ({e}); drop a zip of the CSV files or a folder",
                              retry=False) from None
        return found
    for child in sorted(path.iterdir()):
        if child.is_file() and child.name.lower() in FILES and child.name.lower() not in found:
            found[child.name.lower()] = (child.name, child.read_bytes())
    return found


def files_hash(files: Mapping[str, tuple[str, bytes]]) -> str:
    """sha256 (hex) over the files' names and bytes, in name order: equal for an unchanged drop."""
    digest = hashlib.sha256()
    for key in sorted(files):
        data = files[key][1]
        digest.update(key.encode() + b"\0" + str(len(data)).encode() + b"\0" + data)
    return digest.hexdigest()


@source_type("oneroster_csv")
class OneRosterCsvSource:
    """A OneRoster gradebook CSV drop; :meth:`read` gives its line items and results.

    ``problems``: after each read that parsed the files, the rows skipped, each as
    ``"{file}:{line}:{column}: reason; fix"`` (unchanged by a read that returned None).
    """

    def __init__(self, config: Mapping):
        for key in ("name", "path"):
            if not config.get(key):
                raise ValueError(f"sources[{config.get('name', '?')}]: {key} is required for type oneroster_csv")
        self.name: str = str(config["name"])
        self.org: str = str(config.get("org", ""))
        self.path = Path(str(config["path"])).expanduser()
        self.problems: list[str] = []

    async def read(self, http: HttpClient, validators: Mapping[str, str]) -> Snapshot | None:
        """The drop's records (line items, then results), or None when its files hash to ``validators["hash"]``.

        ``http`` is unused (files are local). Returns ``Snapshot(complete=False)`` when the
        manifest marks lineItems or results as ``delta``, else ``complete=True``; the new
        validators are ``{"hash": sha256 hex}``. Raises SourceError (see the module).
        """
        # Files are small but the disk (or a network share) may be slow: keep the loop free.
        files = await asyncio.to_thread(_load, self.path)
        digest = files_hash(files)
        if validators.get("hash") == digest:
            return None
        records, complete, problems = await asyncio.to_thread(self._parse, files)
        self.problems = problems
        return Snapshot(records=tuple(records), complete=complete, validators={"hash": digest})

    # -- parsing ---------------------------------------------------------------------------------

    def _parse(self, files: Mapping[str, tuple[str, bytes]]) -> tuple[list[Record], bool, list[str]]:
        problems: list[str] = []
        modes = self._manifest(files)
        for key, needed in FILES.items():
            if needed and key not in files and modes.get(key) != "absent":
                name = "lineItems.csv" if key == "lineitems.csv" else key
                raise SourceError(f"{name}: required file missing from {self.path}; export the gradebook "
                                  "files (categories, lineItems, results) into the drop", retry=False)

        categories = {r.get("sourcedId"): r.get("title") for r in self._table(files, "categories.csv", problems)}
        classes = {r.get("sourcedId"): (r.get("title"), first_subject(r.get("subjects")))
                   for r in self._table(files, "classes.csv", problems)}

        line_items: dict[str, LineItem] = {}
        bad_items: set[str] = set()       # their results are still kept: the row, not the assignment, is wrong
        deleted_items: set[str] = set()
        name = files.get("lineitems.csv", ("lineItems.csv", b""))[0]
        rows = 0
        for row in self._table(files, "lineitems.csv", problems, deleted=deleted_items):
            rows += 1
            try:
                item = self._line_item(row, categories, classes)
            except RowError as e:
                bad_items.add(row.get("sourcedId"))
                problems.append(f"{name}:{row.line}:{e.column}: {e}")
                continue
            if item.item_id in line_items:
                problems.append(f"{name}:{row.line}:sourcedId: {item.item_id!r} repeats an earlier row; "
                                "keep one row per sourcedId")
                continue
            line_items[item.item_id] = item
        self._all_bad(name, rows, len(line_items), problems)

        results: dict[str, Result] = {}
        name = files.get("results.csv", ("results.csv", b""))[0]
        rows = 0
        delta = modes.get("lineitems.csv") in ("delta", "absent")
        for row in self._table(files, "results.csv", problems, deleted=set()):
            rows += 1
            try:
                result = self._result(row, line_items, bad_items, deleted_items, delta, classes)
            except RowError as e:
                problems.append(f"{name}:{row.line}:{e.column}: {e}")
                continue
            if result is None:
                rows -= 1        # a result of a deleted line item: dropped with it, not a problem
                continue
            if result.item_id in results:
                problems.append(f"{name}:{row.line}:sourcedId: {result.item_id!r} repeats an earlier row; "
                                "keep one row per sourcedId")
                continue
            results[result.item_id] = result
        self._all_bad(name, rows, len(results), problems)

        complete = "delta" not in (modes.get("lineitems.csv"), modes.get("results.csv"))
        return [*line_items.values(), *results.values()], complete, problems

    def _manifest(self, files: Mapping[str, tuple[str, bytes]]) -> dict[str, str]:
        """``file.lineItems=bulk`` etc. from manifest.csv (§3.1) as {"lineitems.csv": "bulk"}; {} without one."""
        if "manifest.csv" not in files:
            return {}
        name, data = files["manifest.csv"]
        modes = {}
        for row in read_table(name, data, REQUIRED_COLUMNS["manifest.csv"]):
            prop = row.get("propertyName")
            if prop.lower().startswith("file."):
                modes[prop[5:].lower() + ".csv"] = row.get("value").lower()
        return modes

    def _table(self, files: Mapping[str, tuple[str, bytes]], key: str, problems: list[str], *,
               deleted: set[str] | None = None) -> Iterator[Row]:
        """Active rows of one file (none when absent).

        ``tobedeleted`` rows go to ``deleted``, ragged rows to ``problems``.
        """
        if key not in files:
            return
        name, data = files[key]
        for row in _rows(name, data, REQUIRED_COLUMNS[key]):
            if not isinstance(row, Row):
                line, error = row
                problems.append(f"{name}:{line}:{error.column}: {error}")
                continue
            if row.get("status").lower() == "tobedeleted":
                if deleted is not None:
                    deleted.add(row.get("sourcedId"))
                continue
            yield row

    @staticmethod
    def _all_bad(name: str, rows: int, good: int, problems: list[str]) -> None:
        # A file whose every row is bad is wrong as a whole (a shifted export, a wrong delimiter):
        # passing it on as an empty complete snapshot would withdraw every record.
        if rows and not good:
            first = next((p for p in problems if p.startswith(f"{name}:")), f"{name}: no usable row")
            raise SourceError(f"{first} (and every other row of {name} is bad too)", retry=False)

    def _line_item(self, row: Row, categories: Mapping[str, str],
                   classes: Mapping[str, tuple[str, str]]) -> LineItem:
        class_id = row.need("classSourcedId")
        category = categories.get(row.get("categorySourcedId"), "")
        class_title, class_subject = classes.get(class_id, ("", ""))
        return LineItem(
            source=self.name, item_id=row.need("sourcedId"), class_id=class_id,
            title=row.need("title"), description=row.get("description"),
            subject=class_subject or class_title or category, category=category,
            assigned=parse_date(row.get("assignDate"), "assignDate"),
            due=parse_datetime(row.get("dueDate"), "dueDate"),
            class_title=class_title, max_score=parse_float(row.get("resultValueMax"), "resultValueMax"))

    def _result(self, row: Row, line_items: Mapping[str, LineItem], bad_items: set[str], deleted_items: set[str],
                delta: bool, classes: Mapping[str, tuple[str, str]]) -> Result | None:
        item_id = row.need("lineItemSourcedId")
        if item_id in deleted_items:
            return None
        item = line_items.get(item_id)
        if item is None and item_id not in bad_items and not delta:
            raise RowError("lineItemSourcedId", f"no line item {item_id!r} in lineItems.csv; "
                                                "export the line item or drop its results")
        class_id = row.get("classSourcedId") or (item.class_id if item else "")
        class_title, class_subject = classes.get(class_id, ("", ""))
        status = parse_status(row.need("scoreStatus"))
        missing = parse_bool(row.get("missing"), "missing") or status is ScoreStatus.NOT_SUBMITTED
        return Result(
            source=self.name, item_id=row.need("sourcedId"), line_item_id=item_id,
            student_id=row.need("studentSourcedId"), class_id=class_id, status=status,
            score=parse_float(row.get("score"), "score"), text_score=row.get("textScore"),
            comment=row.get("comment"), score_date=parse_date(row.get("scoreDate"), "scoreDate"),
            late=parse_bool(row.get("late"), "late"), missing=missing,
            incomplete=parse_bool(row.get("incomplete"), "incomplete"),
            title=item.title if item else "",
            subject=class_subject or class_title or (item.subject if item else ""),
            class_title=class_title or (item.class_title if item else ""))

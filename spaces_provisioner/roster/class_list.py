"""The plain class list a Russian school keeps in Excel: CSV (cp1251 or UTF-8) or XLSX.

What such files look like, and what this reader takes:

- **Encoding and separators** (CSV): UTF-8 with or without a BOM, else Windows-1251 (Excel's
  "CSV (разделители — запятые)" on a Russian Windows); ``;``, ``,`` or tab between values.
- **Title rows** above the header («Список учащихся 5 «А» класса», «Классный руководитель:
  Иванова Мария Петровна»): the class and the class teacher are read from them.
- **The header**: the first row with a name column. Names of columns in Russian or English (see
  :data:`COLUMNS`): ФИО in one column or Фамилия / Имя / Отчество in three; the class in one
  column («Класс»: 5А, 5 А, 5-а, 5«А», 5a, 5A — one class, Latin look-alikes folded to Cyrillic),
  in number and letter columns, or only in the title, the sheet's name or the file's name;
  optional guardian columns (ФИО родителя, кем приходится), phone and e-mail (not kept: a class
  list is not a contact book).
- **Rows**: numbering, empty and totals rows («Итого», «Всего») are skipped, a header repeated
  inside the data too; one row per guardian with the pupil repeated (or the pupil's cells left
  empty, as merged cells read) adds the guardian to the same pupil.
- **XLSX** through openpyxl: each sheet is a list (often one class per sheet).

People get stable ids from their names (and a birth date when the list has one), so a later
list of the same school moves pupils instead of replacing them: ``pupil-<digest>``,
``guardian-<digest>``, ``teacher-<digest>``; classes ``class-05a`` like the generator's. A bad row
is reported as ``file:line:column: reason`` and never blocks the good rows; a file with no
name column stops the import before anything is written.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from policies.i18n import _
from policies.model import FullName, Role, Roster

from .build import PRIMARY, RosterBuilder
from .errors import RosterError

CLASS_LIST = "class-list"
TITLE = "class list (CSV or XLSX)"

#: Header words (lower-case, ё → е, spaces and punctuation removed) → the column's meaning.
COLUMNS: dict[str, tuple[str, ...]] = {
    "guardian_fio": ("фиородителя", "фиозаконногопредставителя", "фиопредставителя", "родитель",
                     "родители", "законныйпредставитель", "родительзаконныйпредставитель",
                     "родителизаконныепредставители", "представитель", "parent", "guardian", "parentname",
                     "guardianname"),
    "guardian_family": ("фамилияродителя", "фамилияпредставителя", "parentfamilyname", "parentlastname"),
    "guardian_given": ("имяродителя", "имяпредставителя", "parentgivenname", "parentfirstname"),
    "guardian_middle": ("отчествородителя", "отчествопредставителя", "parentmiddlename"),
    "relation": ("кемприходится", "степеньродства", "родство", "типпредставителя", "видпредставителя",
                 "relation", "relationship"),
    "fio": ("фио", "фамилияимяотчество", "фиоученика", "фиоучащегося", "фиообучающегося", "ученик",
            "учащийся", "обучающийся", "фамилияимя", "fullname", "name", "student", "pupil", "studentname"),
    "family": ("фамилия", "фамилияученика", "family", "familyname", "lastname", "surname", "last"),
    "given": ("имя", "имяученика", "given", "givenname", "firstname", "first"),
    "middle": ("отчество", "отчествоученика", "middle", "middlename", "patronymic"),
    "class": ("класс", "classname", "class", "группа", "group", "form"),
    "grade": ("параллель", "номеркласса", "классцифра", "годобучения", "grade", "year"),
    "letter": ("литера", "буква", "литеракласса", "букваклассa", "букваkласса", "letter"),
    "birth": ("датарождения", "birthdate", "dateofbirth", "датарожд"),
    "number": ("№", "n", "no", "nпп", "№пп", "номерпп", "#", "пп"),
    "phone": ("телефон", "телефонродителя", "мобильныйтелефон", "phone", "mobile"),
    "email": ("email", "электроннаяпочта", "почта", "эпочта", "эл.почта", "emailродителя"),
}
NAME_KINDS = ("fio", "family")
TOTALS = ("итого", "всего", "total")

#: A Latin letter that looks like a Cyrillic one (what people type on the wrong keyboard layout).
LOOKALIKE = str.maketrans("ABCEHKMOPTXYaceopxyk", "АВСЕНКМОРТХУасеорхук")
#: Cyrillic class letters → the Latin of class ids (``class-05a``), as the generator writes them.
LATIN = {"А": "a", "Б": "b", "В": "v", "Г": "g", "Д": "d", "Е": "e", "Ж": "zh", "З": "z", "И": "i", "К": "k",
         "Л": "l", "М": "m", "Н": "n", "О": "o", "П": "p", "Р": "r", "С": "s", "Т": "t", "У": "u", "Ф": "f",
         "Х": "h", "Э": "ee", "Ю": "yu", "Я": "ya"}
_LETTER = r"[A-Za-zА-Яа-яЁё]"
_CLASS_WITH_LETTER = re.compile(r"(?<!\d)(\d{1,2})\s*[-–—_.\s«»\"'“”„(]*\s*(" + _LETTER + r")(?!" + _LETTER + r")")
_CLASS_NUMBER_ONLY = re.compile(r"^\s*(\d{1,2})\s*(?:-?\s*(?:й|ый|ой))?\s*(?:класс\w*)?\s*$", re.IGNORECASE)
_HOMEROOM = re.compile(r"классн\w*\s+руководител\w*\s*[:\-–—]?\s*(.+)", re.IGNORECASE)


def normalize_header(text: str) -> str:
    """A header cell as :data:`COLUMNS` spells its keys."""
    t = unicodedata.normalize("NFKC", text).lower().replace("ё", "е")
    return re.sub(r"[\s_\-.,:;()/\\\"'«»]+", "", t)


def column_kind(text: str) -> str | None:
    """What a header cell names (a key of :data:`COLUMNS`), None when nothing."""
    key = normalize_header(text)
    if not key:
        return None
    for kind, words in COLUMNS.items():
        if key in words:
            return kind
    # longer headers («ФИО ученика (полностью)», «Фамилия родителя (законного представителя)»)
    for kind, words in COLUMNS.items():
        if any(len(w) >= 3 and key.startswith(w) for w in words):
            return kind
    return None


def parse_class(text: str, *, number_alone: bool = False) -> tuple[int, str] | None:
    """``(grade, letter)`` of a class written "5А", "5 А", "5-а", "5«А»", "5a", "5A" (letter upper-case
    Cyrillic), "5" or "5 класс" (letter "") when ``number_alone``; None when there is none or the
    grade is not 1-12."""
    m = _CLASS_WITH_LETTER.search(text)
    if m:
        grade, letter = int(m.group(1)), m.group(2).translate(LOOKALIKE).upper().replace("Ё", "Е")
        if 1 <= grade <= 12 and letter in LATIN:
            return grade, letter
    if number_alone:
        m = _CLASS_NUMBER_ONLY.match(text)
        if m and 1 <= int(m.group(1)) <= 12:
            return int(m.group(1)), ""
    return None


def class_id(grade: int, letter: str) -> str:
    """The class's id: ``class-05a`` for 5А, ``class-05`` for a class with no letter."""
    return f"class-{grade:02d}{LATIN.get(letter, '')}"


def _digest(*parts: str) -> str:
    key = "|".join(unicodedata.normalize("NFKC", p).casefold().replace("ё", "е").strip() for p in parts)
    return hashlib.sha256(key.encode()).hexdigest()[:12]


def split_fio(text: str) -> FullName | None:
    """ФИО in one cell: family, given, and the rest as the patronymic («Алиев Рустам Ильхам оглы»)."""
    words = text.split()
    if len(words) < 2:
        return None
    return FullName(words[0], words[1], " ".join(words[2:]))


@dataclass
class Sheet:
    """One table of a class list: its label for messages, rows with their line numbers, and the
    names (sheet, file) a class may be read from."""

    label: str
    rows: list[tuple[int, list[str]]]
    names: tuple[str, ...] = ()


@dataclass
class _Columns:
    kinds: dict[str, int] = field(default_factory=dict)   # kind → index (the first column of that kind)
    headers: list[str] = field(default_factory=list)

    def get(self, row: list[str], kind: str) -> str:
        i = self.kinds.get(kind)
        return row[i].strip() if i is not None and i < len(row) else ""

    def name(self, kind: str) -> str:
        i = self.kinds.get(kind)
        return self.headers[i] if i is not None else kind


def decode_csv(name: str, data: bytes) -> str:
    """UTF-8 (a BOM dropped) or Windows-1251 text of a CSV class list."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1251", errors="replace")


def csv_sheet(name: str, data: bytes) -> Sheet:
    """A CSV class list as one :class:`Sheet` (separator sniffed among ``;``, ``,`` and tab)."""
    text = decode_csv(name, data)
    sample = "\n".join(text.splitlines()[:30])
    delimiter = max((";", ",", "\t"), key=lambda d: sample.count(d))
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows, last = [], 0
    try:
        for record in reader:
            rows.append((last + 1, record))
            last = reader.line_num
    except csv.Error as e:
        raise RosterError(name, last + 1, _("the file is not valid CSV ({error})").format(error=e),
                          _("Check the quotes on this line: a value with a separator or a quote must be in "
                            "double quotes.")) from e
    stem = name.rsplit(".", 1)[0]
    return Sheet(name, rows, (stem,))


def xlsx_sheets(name: str, data: bytes) -> list[Sheet]:
    """Each sheet of an XLSX workbook as a :class:`Sheet` (cells as text, numbers without ``.0``)."""
    import openpyxl

    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as e:  # noqa: BLE001 - openpyxl raises many kinds for a broken file
        raise RosterError(name, None, _("not an Excel workbook (.xlsx) that can be read"),
                          _("Save the list in Excel as \"Excel Workbook (*.xlsx)\" or as CSV.")) from e
    sheets = []
    for ws in book.worksheets:
        rows = []
        for n, values in enumerate(ws.iter_rows(values_only=True), 1):
            rows.append((n, [_cell(v) for v in values]))
        sheets.append(Sheet(f"{name} [{ws.title}]", rows, (ws.title, name.rsplit(".", 1)[0])))
    book.close()
    return sheets


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if hasattr(value, "isoformat"):
        return str(value.isoformat())[:10]
    return str(value)


def read_class_list(sheets: Iterable[Sheet]) -> Roster:
    """Read class lists into a roster (``class-list``).

    Raises :class:`RosterError` when a sheet has no row naming a name column (the hint shows
    a header that works); every unusable row is a problem of the returned roster.
    """
    b = RosterBuilder(CLASS_LIST)
    seen_pupils: dict[str, str] = {}   # pupil id → class title (the same ФИО in two classes)
    any_header = False
    first_error: RosterError | None = None
    for sheet in sheets:
        try:
            _read_sheet(b, sheet, seen_pupils)
            any_header = True
        except RosterError as e:
            if sheet.rows and any(any(c.strip() for c in r) for _n, r in sheet.rows):
                first_error = first_error or e
    if not any_header:
        raise first_error or RosterError("", None, _("the class list is empty"), _header_hint())
    return b.build()


def _header_hint() -> str:
    return _("The list needs a header row with the pupils' names, e.g. «№;Фамилия;Имя;Отчество;Класс» or "
             "«ФИО;Класс;ФИО родителя»; the class may also be in a title row («Список 5 «А» класса») or in the "
             "file's or sheet's name.")


def _find_header(rows: list[tuple[int, list[str]]]) -> tuple[int, _Columns] | None:
    for i, (_line, row) in enumerate(rows):
        cols = _Columns(headers=[c.strip() for c in row])
        for j, cell in enumerate(row):
            kind = column_kind(cell) if cell.strip() else None
            if kind is not None and kind not in cols.kinds:
                cols.kinds[kind] = j
        if any(k in cols.kinds for k in NAME_KINDS) and (len(cols.kinds) >= 2 or "fio" in cols.kinds):
            return i, cols
    return None


def _title_info(rows: Iterable[tuple[int, list[str]]]) -> tuple[tuple[int, str] | None, FullName | None]:
    """The class and the class teacher the title rows name (either may be None)."""
    klass, teacher = None, None
    for _line, row in rows:
        text = " ".join(c.strip() for c in row if c.strip())
        if not text:
            continue
        m = _HOMEROOM.search(text)
        if m:
            teacher = split_fio(m.group(1).strip(" .;,"))
            text = text[: m.start()]
        found = parse_class(text)
        if found is not None:
            klass = found
    return klass, teacher


def _read_sheet(b: RosterBuilder, sheet: Sheet, seen_pupils: dict[str, str]) -> None:
    found = _find_header(sheet.rows)
    if found is None:
        raise RosterError(sheet.label, None, _("no column with the pupils' names (ФИО, Фамилия...)"), _header_hint())
    at, cols = found
    title_class, homeroom = _title_info(sheet.rows[:at])
    if title_class is None:
        for sheet_name in sheet.names:
            title_class = parse_class(sheet_name)
            if title_class is not None:
                break
    pupil: str | None = None
    teacher_id = None
    for line, row in sheet.rows[at + 1:]:
        cells = [c.strip() for c in row]
        if not any(cells):
            continue
        first = next((c for c in cells if c), "").lower()
        if any(first.startswith(t) for t in TOTALS):
            continue
        if _find_header([(line, row)]) is not None:
            continue  # the header repeated (a printed list's next page)
        name, where = _pupil_name(cols, cells)
        if name is None and where is None:
            # no pupil on this row: a guardian of the pupil above (merged cells), or nothing
            if pupil is not None:
                _guardian(b, sheet.label, line, cols, cells, pupil)
            continue
        if name is None:
            b.problem(sheet.label, line, _("the name must have at least a family name and a given name"),
                      cols.name(where or "fio"))
            pupil = None
            continue
        klass = _row_class(cols, cells, title_class)
        if klass is None:
            b.problem(sheet.label, line, _("no class for this pupil: add a «Класс» column (5А), or name the class "
                                           "in the title, the sheet or the file"), cols.name("class"))
            pupil = None
            continue
        grade, letter = klass
        cid, title = class_id(grade, letter), f"{grade}{letter}"
        if not b.has_class(cid):
            b.add_class(sheet.label, line, cid, title, (f"{grade:02d}",))
        pid = "pupil-" + _digest(name.family_name, name.given_name, name.middle_name, cols.get(cells, "birth"))
        if seen_pupils.get(pid, title) != title:  # the same ФИО in another class: another pupil
            pid = "pupil-" + _digest(name.family_name, name.given_name, name.middle_name, title)
        if not b.has_person(pid):  # else the same pupil again: a row per guardian
            b.add_person(sheet.label, line, pid, name, (f"{grade:02d}",))
            b.offer_role(pid, Role.STUDENT, PRIMARY, "student")
            b.add_enrollment(sheet.label, line, cid, pid, "student", {"student": Role.STUDENT}, primary=False)
            seen_pupils[pid] = title
        pupil = pid
        _guardian(b, sheet.label, line, cols, cells, pid)
        if homeroom is not None and teacher_id is None:
            teacher_id = "teacher-" + _digest(homeroom.family_name, homeroom.given_name, homeroom.middle_name)
            if not b.has_person(teacher_id):
                b.add_person(sheet.label, 1, teacher_id, homeroom)
                b.offer_role(teacher_id, Role.TEACHER, PRIMARY, "teacher")
            b.add_enrollment(sheet.label, 1, cid, teacher_id, "teacher", {"teacher": Role.TEACHER}, primary=True)


def _pupil_name(cols: _Columns, cells: list[str]) -> tuple[FullName | None, str | None]:
    """The row's pupil (None, None: no pupil cells; None, column: a name that cannot be used)."""
    if "fio" in cols.kinds:
        text = cols.get(cells, "fio")
        if not text:
            return None, None
        return split_fio(text), "fio"
    family, given, middle = (cols.get(cells, k) for k in ("family", "given", "middle"))
    if not (family or given or middle):
        return None, None
    if not family or not given:
        return None, "family" if not family else "given"
    return FullName(family, given, middle), None


def _row_class(cols: _Columns, cells: list[str], title_class: tuple[int, str] | None) -> tuple[int, str] | None:
    if "class" in cols.kinds and cols.get(cells, "class"):
        return parse_class(cols.get(cells, "class"), number_alone=True)
    if "grade" in cols.kinds and cols.get(cells, "grade"):
        return parse_class(cols.get(cells, "grade") + cols.get(cells, "letter"), number_alone=True)
    return title_class


def _guardian(b: RosterBuilder, label: str, line: int, cols: _Columns, cells: list[str], pupil: str) -> None:
    if "guardian_fio" in cols.kinds:
        text = cols.get(cells, "guardian_fio")
        name = split_fio(text) if text else None
        if text and name is None:
            b.problem(label, line, _("the name must have at least a family name and a given name"),
                      cols.name("guardian_fio"))
            return
    else:
        family, given, middle = (cols.get(cells, k) for k in ("guardian_family", "guardian_given", "guardian_middle"))
        name = FullName(family, given, middle) if family and given else None
    if name is None:
        return
    # Two unrelated parents may share a ФИО: merging them would show one the other's child. The
    # contact (or, without one, the pupil's family name) keeps them apart; siblings' parent stays one.
    contact = cols.get(cells, "email").lower() or re.sub(r"\D", "", cols.get(cells, "phone"))[-10:]
    gid = "guardian-" + _digest(name.family_name, name.given_name, name.middle_name,
                                contact or b.family_name_of(pupil))
    if not b.has_person(gid):
        b.add_person(label, line, gid, name)
        b.offer_role(gid, Role.PARENT, PRIMARY, "parent")
    b.add_relationship(label, line, pupil, gid, relation_of(cols.get(cells, "relation")))


#: The start of the word a list writes under «Кем приходится» → the OneRoster/SDS relation.
RELATIONS = (("опекун", "guardian"), ("попечител", "guardian"), ("приемн", "guardian"), ("guardian", "guardian"),
             ("законн", "guardian"), ("бабушк", "relative"), ("дедушк", "relative"), ("тет", "relative"),
             ("дяд", "relative"), ("брат", "relative"), ("сестр", "relative"), ("relative", "relative"))


def relation_of(text: str) -> str:
    """The relation a «Кем приходится» cell names: ``guardian`` (опекун, попечитель), ``relative``
    (бабушка, дедушка, тётя...) or ``parent`` (мать, отец, an empty cell or any other word: the list
    names a representative, never someone unrelated)."""
    word = unicodedata.normalize("NFKC", text).strip().lower().replace("ё", "е")
    for start, relation in RELATIONS:
        if word.startswith(start):
            return relation
    return "parent"


def sheets_of(files: Iterable[tuple[str, bytes]]) -> Iterator[Sheet]:
    """The sheets of class-list files ``(name, bytes)``: ``.xlsx`` workbooks and CSV (or ``.txt``) files."""
    for name, data in files:
        if name.lower().endswith(".xlsx"):
            yield from xlsx_sheets(name, data)
        else:
            yield csv_sheet(name, data)

"""The Russian gettext catalogs cover every user-facing message, and the .po files are sound.

Messages are found the way ``pybabel extract`` finds them (keywords ``_``, ``gettext_``,
``ngettext`` (1, 2) and ``N_``) in the Python files of ``policies/``, ``spaces_provisioner/``,
``synapse_module/`` and ``bridge/``; in their Jinja2 templates (``**/templates/**.html``, read by
``jinja2.ext.babel_extract`` with the i18n extension; keywords ``_``, ``gettext`` and ``ngettext``);
plus the room names, topics and join refusals of ``policies/data/rooms.yaml``. A message
added without a Russian translation makes these tests fail and name the file and line:
translate it in the ``.po`` of its area under ``policies/locale/ru/LC_MESSAGES/``.
"""

from __future__ import annotations

import re
from collections import defaultdict
from functools import cache
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import PoFileParser
from ruamel.yaml import YAML

from policies.i18n import LOCALE_DIR, translations

REPO = Path(__file__).resolve().parents[3]
SOURCE_DIRS = ("policies", "spaces_provisioner", "synapse_module", "bridge")
ROOMS_YAML = REPO / "policies" / "data" / "rooms.yaml"
ROOM_TEXT_FIELDS = ("name", "topic", "join_refusal")  # the fields of a room kind in rooms.yaml that are msgids
RU_DIR = LOCALE_DIR / "ru" / "LC_MESSAGES"
PO_FILES = sorted(RU_DIR.glob("*.po"))
KEYWORDS = {"_": None, "gettext_": None, "ngettext": (1, 2), "N_": None, "gettext": None}
# Python files as in pybabel's default; the web pages' Jinja2 templates with Jinja2's own extractor
TEMPLATES = "**/templates/**.html"
METHOD_MAP = [("**.py", "python"), (TEMPLATES, "jinja2.ext:babel_extract")]
OPTIONS_MAP = {TEMPLATES: {"extensions": "jinja2.ext.i18n"}}

# "{name}", "{n:d}", "{x!r}"; escaped "{{" / "}}" are literal braces, not placeholders
PLACEHOLDER = re.compile(r"(?<!\{)\{([^{}]*)\}(?!\})")


def placeholders(text: str) -> set[str]:
    return set(PLACEHOLDER.findall(text))


def needs_translation(msgid: str) -> bool:
    """False for ids that are only placeholders and punctuation (e.g. the room name "{org_name}")."""
    return any(ch.isalpha() for ch in PLACEHOLDER.sub("", msgid))


@cache
def extracted() -> dict[str | tuple[str, str], list[str]]:
    """Every message id in the code, the templates and rooms.yaml -> where it is used ("path:line")."""
    found: dict[str | tuple[str, str], list[str]] = defaultdict(list)
    for top in SOURCE_DIRS:
        folder = REPO / top
        if not folder.is_dir():
            continue
        for filename, lineno, message, _comments, _context in extract_from_dir(
                str(folder), method_map=METHOD_MAP, options_map=OPTIONS_MAP, keywords=KEYWORDS):
            if isinstance(message, tuple):  # ngettext: (singular, plural); a non-literal argument is None
                if not message[0]:
                    continue
                key: str | tuple[str, str] = (message[0], message[1] or message[0])
            else:
                if not message:
                    continue
                key = message
            found[key].append(f"{top}/{filename}:{lineno}")
    yaml = YAML(typ="rt")
    with ROOMS_YAML.open(encoding="utf-8") as f:
        data = yaml.load(f)
    where = ROOMS_YAML.relative_to(REPO)
    for kind in data["kinds"].values():
        for field in ROOM_TEXT_FIELDS:
            text = kind.get(field)
            if text:
                line = kind.lc.key(field)[0] + 1
                found[str(text)].append(f"{where}:{line}")
    return dict(found)


class _RecordingCatalog(Catalog):
    """A Catalog that notes msgids given twice (Babel silently keeps the first, msgfmt refuses)."""

    def __setitem__(self, id, message) -> None:
        if id and self.get(id, message.context) is not None:
            self.duplicates.append(f"line {message.lineno}: {id!r}")
        super().__setitem__(id, message)


def read_po_strict(po: Path) -> _RecordingCatalog:
    """The .po file read by Babel, which raises PoFileError on any malformed entry."""
    catalog = _RecordingCatalog(locale="ru", domain=po.stem)
    catalog.duplicates = []
    with po.open("rb") as f:
        PoFileParser(catalog, abort_invalid=True).parse(f)
    return catalog


@cache
def po_catalogs() -> dict[str, list]:
    """Each .po file's name -> its messages (header left out)."""
    return {po.name: [m for m in read_po_strict(po) if m.id] for po in PO_FILES}


def _place_order(place: str) -> tuple[str, int]:
    """Sort key of a place "dir/file.py:12": the file, then the line as a number."""
    path, _, line = place.rpartition(":")
    return path, int(line)


def _report(title: str, lines: list[str]) -> str:
    text = f"{title} ({len(lines)}):\n" + "\n".join(f"  {line}" for line in lines)
    print(text)  # shown by pytest with the failure
    return text


def test_catalog_folder_has_po_files():
    assert PO_FILES, f"no .po files in {RU_DIR}"


@pytest.mark.parametrize("po", PO_FILES, ids=lambda p: p.name)
def test_po_file_parses(po: Path):
    """Babel reads the file without errors; its header says Russian, UTF-8 and 3 plural forms."""
    catalog = read_po_strict(po)
    assert not catalog.duplicates, f"{po.name}: msgid given twice (only the first counts): {catalog.duplicates}"
    assert str(catalog.locale) == "ru", f"{po.name}: Language is {catalog.locale}, not ru"
    assert catalog.charset.lower() == "utf-8", f"{po.name}: charset is {catalog.charset}, not UTF-8"
    assert catalog.num_plurals == 3, f"{po.name}: Plural-Forms must have nplurals=3 for Russian"
    fuzzy = [m.id for m in catalog if m.id and m.fuzzy]
    assert not fuzzy, f"{po.name}: fuzzy entries are left out of the catalog: {fuzzy}"


def test_every_message_has_a_russian_translation():
    catalog = translations("ru")._catalog  # msgid -> str; (msgid, plural index) -> str for plurals
    missing = []
    for key, places in sorted(extracted().items(), key=lambda kv: _place_order(kv[1][0])):
        if isinstance(key, tuple):
            singular, plural = key
            forms = [catalog.get((singular, i)) for i in range(3)]
            if not all(forms):
                missing.append(f"{', '.join(places)}: ngettext({singular!r}, {plural!r})")
        elif needs_translation(key) and not catalog.get(key):
            missing.append(f"{', '.join(places)}: {key!r}")
    assert not missing, _report(
        f"messages without a Russian translation; add them to the .po of their area in {RU_DIR.relative_to(REPO)}",
        missing)


def test_translations_keep_the_placeholders():
    wrong = []
    for name, messages in po_catalogs().items():
        for m in messages:
            if isinstance(m.id, tuple):
                expected = placeholders(m.id[1])  # Russian's "one" form also serves 21, 31...
                strings = [s for s in m.string if s]
                ids = " / ".join(m.id)
            else:
                expected = placeholders(m.id)
                strings = [m.string] if m.string else []
                ids = m.id
            for s in strings:
                if placeholders(s) != expected:
                    wrong.append(f"{name}:{m.lineno}: {ids!r} has {sorted(expected)}, "
                                 f"the translation {s!r} has {sorted(placeholders(s))}")
    assert not wrong, _report("translations whose {placeholders} differ from their msgid", wrong)


def test_no_message_is_translated_differently_in_two_files():
    seen: dict[object, list[tuple[str, object]]] = defaultdict(list)
    for name, messages in po_catalogs().items():
        for m in messages:
            seen[m.id].append((f"{name}:{m.lineno}", m.string))
    conflicts = [
        f"{msgid!r}: " + "; ".join(f"{where} {string!r}" for where, string in defs)
        for msgid, defs in seen.items()
        if len(defs) > 1 and len({str(string) for _where, string in defs}) > 1
    ]
    assert not conflicts, _report("messages translated differently in two .po files (keep one)", conflicts)

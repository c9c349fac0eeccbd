"""Uploads: per-role size limits and quotas, the kinds of files Parta keeps, and the refusals' texts.

Pure rules over ``policies/data/media.yaml`` (issue 11, "Files, kept inside the school"). The Synapse
module (``synapse_module/media_upload.py``) asks them from Synapse's media callbacks:

- :meth:`MediaRules.limits_for` gives an :class:`Account`'s :class:`UploadLimits` (its most generous
  role's; ``outsider`` for an account in no organization) for ``get_media_config_for_user``,
  ``is_user_allowed_to_upload_media_of_size`` and ``get_media_upload_limits_for_user``;
- :meth:`MediaRules.type_of` names a file's type from its first bytes (programs first, then what a ZIP
  archive holds, then the type a sniffing library recognised, then plain text or markup), and
  :meth:`MediaRules.may_keep` decides it, for ``check_media_file_for_spam`` (which sees only the bytes:
  no uploader, name or Content-Type);
- :meth:`MediaRules.may_keep_named` decides the name and the Content-Type an upload (or a message
  carrying a file) claims, for the module's wrap of the media repository's upload and its event check:
  a Windows script is plain text to the bytes, but the name decides what the person's computer does
  with the saved file.

Sizes are bytes (``K``, ``M``, ``G`` are 1024-based, as Synapse's ``parse_size``); periods are
milliseconds once parsed. Every refusal is a :class:`policies.capabilities.Decision`.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ruamel.yaml import YAML

from .capabilities import ALLOW, Account, Decision, deny
from .i18n import N_

DATA = Path(__file__).parent / "data" / "media.yaml"
#: The capability role of an account in no organization.
OUTSIDER = "outsider"
#: How many first bytes :meth:`MediaRules.type_of` reads (the sniffing library reads no more either).
HEAD_BYTES = 8192

_SIZE = re.compile(r"^\s*(\d+)\s*([KMG]?)B?\s*$", re.IGNORECASE)
_PERIOD = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$", re.IGNORECASE)
_UNITS = {"": 1, "K": 1024, "M": 1024 ** 2, "G": 1024 ** 3}
_PERIOD_MS = {"s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 7 * 86_400_000}
#: Control characters plain text never holds (tab, line feed, vertical tab, form feed, carriage
#: return and escape are allowed).
_BINARY = frozenset(range(0x20)) - {0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x1B} | {0x7F}


def parse_size(value: object) -> int:
    """Bytes from ``123``, ``"20M"``, ``"1G"`` (1024-based). Raises ValueError for anything else."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    m = _SIZE.match(str(value))
    if not m or isinstance(value, bool):
        raise ValueError(f"not a size: {value!r} (use bytes or a number with K, M or G)")
    return int(m.group(1)) * _UNITS[m.group(2).upper()]


def parse_period(value: object) -> int:
    """Milliseconds from ``"1h"``, ``"1d"``, ``"30m"``. Raises ValueError for anything else."""
    m = _PERIOD.match(str(value))
    if not m or int(m.group(1)) == 0:
        raise ValueError(f"not a period: {value!r} (use a number with s, m, h, d or w)")
    return int(m.group(1)) * _PERIOD_MS[m.group(2).lower()]


def megabytes(size: int) -> str:
    """A size for people: MiB with at most one decimal (``"20"``, ``"2.5"``, ``"0.1"``)."""
    text = f"{size / 1024 ** 2:.1f}".removesuffix(".0")
    return "0.1" if text == "0" and size > 0 else text


@dataclass(frozen=True, order=True)
class Quota:
    """At most ``max_bytes`` uploaded within any ``period_ms`` window (Synapse's ``MediaUploadLimit``)."""

    period_ms: int
    max_bytes: int


@dataclass(frozen=True)
class UploadLimits:
    """One role's limits: ``max_size`` bytes per file (None: no Parta limit) and its quotas."""

    role: str
    max_size: int | None
    quotas: tuple[Quota, ...] = ()

    def roomier_than(self, other: UploadLimits) -> bool:
        """Whether these limits let a person upload more than ``other`` (a larger file first, then
        more per day)."""
        def key(lim: UploadLimits) -> tuple[float, float]:
            per_day = [q.max_bytes * 86_400_000 / q.period_ms for q in lim.quotas]
            return (float("inf") if lim.max_size is None else lim.max_size,
                    min(per_day) if per_day else float("inf"))
        return key(self) > key(other)

    def check_size(self, size: int) -> Decision:
        """Whether one file of ``size`` bytes may be uploaded (refused: ``upload_too_large``)."""
        if self.max_size is None or size <= self.max_size:
            return ALLOW
        return deny("upload_too_large", N_("The file is too large ({size} MB): you may upload files of up to "
                                           "{limit} MB"), size=megabytes(size), limit=megabytes(self.max_size))


#: Periods people read in a quota's refusal (msgids); any other period is told in hours.
_PERIOD_NAMES = {3_600_000: N_("hour"), 86_400_000: N_("day"), 7 * 86_400_000: N_("week")}


def period_text(period_ms: int) -> Decision:
    """A period as words (a message Decision, so that it is translated with its sentence)."""
    name = _PERIOD_NAMES.get(period_ms)
    if name is not None:
        return Decision(False, "period", name)
    return Decision(False, "period", N_("{hours} hours"), {"hours": f"{period_ms / 3_600_000:g}"})


def quota_exceeded(quota: Quota) -> Decision:
    """The refusal of an upload that would pass ``quota`` (``upload_quota_exceeded``)."""
    return deny("upload_quota_exceeded", N_("You have uploaded as much as you may for now ({limit} MB per "
                                            "{period}); try again later"),
                limit=megabytes(quota.max_bytes), period=period_text(quota.period_ms))


#: Refusals of a file's content (``check_media_file_for_spam``).
PROGRAM_REFUSED = deny("file_is_program", N_("Programs and scripts cannot be shared here"))
MACROS_REFUSED = deny("file_has_macros", N_("Documents with macros cannot be shared here; save the document "
                                            "without macros (as .docx, .xlsx or .pptx) and share that"))
UNRECOGNISED_REFUSED = deny("file_type_unknown", N_("This file's type is not recognised, so it cannot be shared "
                                                    "here; share documents, pictures, audio, video or archives"))


def virus_found(signature: str) -> Decision:
    """The refusal of a file the virus scanner found ``signature`` in (``virus_found``)."""
    return deny("virus_found", N_("The file contains a virus ({name}) and was not kept"), name=signature)


SCAN_UNAVAILABLE = deny("scan_unavailable", N_("The file could not be checked for viruses just now, so it was not "
                                               "kept; try again later"))


#: The first bytes of an OLE2 compound file ([MS-CFB] 2.2 "Compound File Header").
OLE_MAGIC = bytes.fromhex("d0cf11e0a1b11ae1")
#: The type of a compound file no rule names (an Office 97-2003 document the sniffing did not recognise).
OLE_STORAGE = "application/x-ole-storage"


def ole_root_entry_offset(head: bytes) -> int | None:
    """Where a compound file's root directory entry starts ([MS-CFB] 2.2: the sector shift at 0x1E,
    the first directory sector at 0x30; sector N starts at (N + 1) << shift), or None when ``head`` is
    no compound file header."""
    if not head.startswith(OLE_MAGIC) or len(head) < 0x34:
        return None
    shift = int.from_bytes(head[0x1E:0x20], "little")
    first = int.from_bytes(head[0x30:0x34], "little")
    if shift not in (9, 12) or first >= 0xFFFFFFFA:
        return None
    return (first + 1) << shift


def ole_clsid(entry: bytes | None) -> str | None:
    """The CLSID of a compound file's directory entry ([MS-CFB] 2.6.1: 16 bytes at 0x50, a GUID with
    its first three fields little-endian) as ``xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx``, or None."""
    if entry is None or len(entry) < 0x60:
        return None
    g = entry[0x50:0x60]
    return (f"{g[3::-1].hex()}-{g[5:3:-1].hex()}-{g[7:5:-1].hex()}-{g[8:10].hex()}-{g[10:16].hex()}")


def clamd_address(address: str) -> tuple[str, str, int]:
    """A clamd address read: ``("unix", path, 0)`` for ``unix:/path`` or an absolute path,
    ``("tcp", host, port)`` for ``tcp:HOST:PORT`` (or ``tcp://``; an IPv6 host in brackets). Raises
    ValueError for anything else."""
    text = address.strip()
    if text.startswith("unix:"):
        text = text.removeprefix("unix:").removeprefix("//")
        if text.startswith("/"):
            return "unix", text, 0
    elif text.startswith("/"):
        return "unix", text, 0
    elif text.startswith("tcp:"):
        host, sep, port = text.removeprefix("tcp:").removeprefix("//").rpartition(":")
        if sep and host and port.isdigit() and 0 < int(port) < 65536:
            return "tcp", host.removeprefix("[").removesuffix("]"), int(port)
    raise ValueError(f"not a clamd address: {address!r} (use unix:/path/clamd.ctl or tcp:host:port)")


class MediaRules:
    """``media.yaml`` interpreted. Raises ValueError (naming the key) for malformed data."""

    def __init__(self, data: Mapping):
        self.limits: dict[str, UploadLimits] = {}
        for role, entry in dict(data["limits"]).items():
            try:
                quotas = tuple(sorted(Quota(parse_period(q["per"]), parse_size(q["max"]))
                                      for q in entry.get("quotas") or ()))
                self.limits[role] = UploadLimits(role, parse_size(entry["max_size"]), quotas)
            except (KeyError, TypeError, ValueError) as e:
                raise ValueError(f"media.yaml limits.{role}: {e}") from e
        if OUTSIDER not in self.limits:
            raise ValueError(f"media.yaml limits: no entry for {OUTSIDER!r}")
        self.allowed_groups: dict[str, frozenset[str]] = {
            group: frozenset(types) for group, types in dict(data["allowed_types"]).items()}
        self.allowed_types = frozenset().union(*self.allowed_groups.values())
        self.executable_types = frozenset(data.get("executable_types") or ())
        prefixes = dict(data.get("executable_prefixes") or {})
        self.executable_prefixes: tuple[tuple[bytes, str], ...] = tuple(
            (bytes.fromhex(str(prefix)), str(mime)) for prefix, mime in prefixes.items())
        self.ole_program_clsids: dict[str, str] = {
            str(k).lower(): str(v) for k, v in dict(data.get("ole_program_clsids") or {}).items()}
        unrecognised = data.get("unrecognised", "refuse")
        if unrecognised not in ("refuse", "accept"):
            raise ValueError(f"media.yaml unrecognised: {unrecognised!r} (refuse or accept)")
        self.accept_unrecognised = unrecognised == "accept"
        self.macro_types = frozenset(data.get("macro_types") or ())
        archives = dict(data.get("archive_programs") or {})
        self.archive_entries: dict[str, str] = {
            str(k).lower(): str(v) for k, v in dict(archives.get("entries") or {}).items()}
        self.archive_content_types: dict[str, str] = {
            str(k).lower(): str(v) for k, v in dict(archives.get("content_types") or {}).items()}
        self.types_by_extension: dict[str, str] = {
            str(k).lower().lstrip("."): str(v) for k, v in dict(data.get("types_by_extension") or {}).items()}
        #: Content-Types an upload may not claim (lower case → as the data spells it): the types of
        #: programs, of documents with macros and of the listed extensions.
        self.refused_declared: dict[str, str] = {
            t.lower(): t for t in self.executable_types | self.macro_types | set(self.types_by_extension.values())}

    # -- limits ------------------------------------------------------------------------
    def limits_for(self, account: Account) -> UploadLimits:
        """The most generous limits among the account's roles (``outsider`` with none; a role the data
        does not list counts as an outsider)."""
        best = self.limits[OUTSIDER]
        for role in sorted(account.roles()):
            lim = self.limits.get(role)
            if lim is not None and lim.roomier_than(best):
                best = lim
        return best

    def largest_file(self) -> int:
        """The largest ``max_size`` of any role (what Synapse's ``max_upload_size`` must allow)."""
        return max(lim.max_size or 0 for lim in self.limits.values())

    # -- types -------------------------------------------------------------------------
    def type_of(self, head: bytes, detected: str | None, ole_root: bytes | None = None,
                archive: ZipContents | None = None) -> str | None:
        """A file's MIME type from its first bytes (:data:`HEAD_BYTES`) and what a sniffing library
        ``detected`` in them (None: not recognised). Programs are named from their first bytes before
        anything else; then a ZIP archive (``archive``: its entries, None when the file is no ZIP) that
        is a program or a document with macros by what it holds (:meth:`archive_program`); an OLE2
        compound file (Office 97-2003 documents, but also Windows Installer packages) by its root
        entry's CLSID (``ole_root``: the 128-byte entry at :func:`ole_root_entry_offset`): a program's
        CLSID in ``ole_program_clsids``, else what was detected, else ``application/x-ole-storage``.
        Unrecognised bytes are plain text (``text/plain``), HTML (``text/html``), SVG
        (``image/svg+xml``) or other XML (``text/xml``) when they are text, else None."""
        for prefix, mime in self.executable_prefixes:
            if head.startswith(prefix):
                return mime
        if archive is not None:
            program = self.archive_program(archive)
            if program is not None:
                return program
        if head.startswith(OLE_MAGIC):
            clsid = ole_clsid(ole_root)
            if clsid in self.ole_program_clsids:
                return self.ole_program_clsids[clsid]
            return detected or OLE_STORAGE
        if detected:
            return detected
        return text_type(head)

    def archive_program(self, archive: ZipContents) -> str | None:
        """The type of a ZIP archive that is a program or a document with macros, from its entries
        (``archive_programs.entries``: exact paths, case-insensitive, e.g. an Android app's
        ``AndroidManifest.xml``, a Java program's ``META-INF/MANIFEST.MF``, a Python zipapp's
        ``__main__.py``, Word's ``word/vbaProject.bin``) or, for Office Open XML, the content types
        its ``[Content_Types].xml`` declares (``archive_programs.content_types``: a part of a type
        containing the key, case-insensitive, e.g. ``macroEnabled``); None for any other archive."""
        for name in archive.names:
            mime = self.archive_entries.get(name.lower())
            if mime is not None:
                return mime
        for declared in archive.content_types:
            for mark, mime in self.archive_content_types.items():
                if mark in declared.lower():
                    return mime
        return None

    def may_keep_named(self, name: str | None, declared: str | None) -> Decision:
        """Whether an upload (or a message's file) may carry this file ``name`` and this claimed
        Content-Type ``declared`` (either may be None). The name's extension (the last one; the
        trailing dots and spaces Windows ignores are ignored) is looked up in ``types_by_extension``
        and a claimed program type (``executable_types``, ``macro_types``, the types of
        ``types_by_extension``) is decided as the type itself: ``file_is_program``,
        ``file_has_macros``, or ``file_type_refused`` (``.html``, ``.svg``). Any other name or type is
        left to the bytes (:meth:`type_of`)."""
        if name:
            _, dot, ext = name.rstrip(" .").rpartition(".")
            mime = self.types_by_extension.get(ext.lower()) if dot and "/" not in ext else None
            if mime is not None:
                decision = self.may_keep(mime)
                if not decision:
                    return decision
        if declared:
            mime = self.refused_declared.get(declared.split(";", 1)[0].strip().lower())
            if mime is not None:
                return self.may_keep(mime)
        return ALLOW

    def may_keep(self, mime: str | None) -> Decision:
        """Whether a file of this type is kept: programs never, documents with macros never
        (``file_has_macros``), listed types always, unrecognised bytes as ``unrecognised`` says, other
        types never (``file_type_refused``)."""
        if mime in self.executable_types:
            return PROGRAM_REFUSED
        if mime in self.macro_types:
            return MACROS_REFUSED
        if mime is None:
            return ALLOW if self.accept_unrecognised else UNRECOGNISED_REFUSED
        if mime in self.allowed_types:
            return ALLOW
        return deny("file_type_refused", N_("Files of this type ({type}) cannot be shared here; share documents, "
                                            "pictures, audio, video or archives"), type=mime)


@dataclass(frozen=True)
class ZipContents:
    """What a ZIP archive holds, as its central directory says: entry ``names`` and the content
    types its ``[Content_Types].xml`` declares (Office Open XML, ECMA-376 Part 2; empty otherwise)."""

    names: tuple[str, ...]
    content_types: tuple[str, ...] = ()


_CONTENT_TYPE = re.compile(rb"""ContentType\s*=\s*["']([^"']+)["']""", re.IGNORECASE)


def declared_content_types(xml: bytes) -> tuple[str, ...]:
    """The ``ContentType`` attributes of an OPC ``[Content_Types].xml`` (its ``Default`` and
    ``Override`` elements), read as text: an attribute is all that is needed, and a regular expression
    on bounded bytes cannot be made to expand entities."""
    return tuple(m.group(1).decode("ascii", "replace") for m in _CONTENT_TYPE.finditer(xml))


#: Markup that makes text a web page wherever it is in the first bytes: browsers render a page whose
#: markup follows a line of text (a saved ``.html`` or ``.hta`` opened from the downloads folder).
_PAGE_MARKUP = (b"<html", b"<script", b"<body", b"<iframe", b"<frameset", b"<object", b"<embed", b"<form",
                b"<meta http-equiv", b"<hta:application", b"<!doctype html")


def text_type(head: bytes) -> str | None:
    """``text/plain``, ``text/html``, ``image/svg+xml`` or ``text/xml`` when ``head`` is text (UTF-8,
    UTF-8 with a BOM, or a one-byte encoding such as Windows-1251, without control characters), else
    None. Empty content is text. Markup counts anywhere in ``head`` (:data:`HEAD_BYTES`), not only
    at the start: SVG by ``<svg``, HTML by :data:`_PAGE_MARKUP`; text starting with ``<`` is XML."""
    body = head.removeprefix(b"\xef\xbb\xbf")
    if any(b in _BINARY for b in body):
        return None
    lower = body.lower()
    if b"<svg" in lower:
        return "image/svg+xml"
    if any(mark in lower for mark in _PAGE_MARKUP):
        return "text/html"
    if body.lstrip().startswith(b"<"):
        return "text/xml"
    return "text/plain"


@functools.cache
def default_media_rules() -> MediaRules:
    """The rules shipped in ``policies/data/media.yaml``."""
    return MediaRules(YAML(typ="safe").load(DATA.read_text(encoding="utf-8")))

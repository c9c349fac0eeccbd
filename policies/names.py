"""Name rules: server-set display names, the confirmed teacher's badge, login-name look-alikes.

Pure: no Synapse, no network. Display names are set only by the server (Synapse with
``enable_set_displayname: false`` and ``allow_per_room_profiles: false``); they are built here
from roster or registration-page name parts:

* :func:`clean_name_part` normalizes one part (NFC; invisible, bidirectional, format and
  control characters removed; whitespace collapsed; stray combining marks dropped);
* :func:`check_not_badge` refuses anything that shows or imitates the badge of a confirmed
  teacher (default marker :data:`BADGE_DEFAULT`, ``" ✓"``; operators may configure another,
  e.g. ``" [учитель]"``);
* :func:`display_name` puts "Family Given Middle" together and appends the badge for
  confirmed teachers only;
* :func:`skeleton` and :func:`check_login_name` keep login names (Matrix ID localparts) from
  being look-alikes of other people's, from carrying a phone number or an e-mail address, and
  from leaving the Matrix localpart grammar.

Look-alike characters come from Unicode's ``confusables.txt`` (UTS #39) as packaged by
``confusable_homoglyphs`` (Debian, Ubuntu and Gentoo package it; pure Python, MIT), which
also gives each character's script. Refusals are :class:`NameRefused` with a reason code and
a message in Russian (default) or English.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable, Mapping

from confusable_homoglyphs import categories as _scripts
from confusable_homoglyphs.confusables import confusables_data as _CONFUSABLES

from .i18n import LANGUAGES, N_, gettext_

__all__ = [
    "BADGE_DEFAULT", "NAME_MAX_LENGTH", "NameRefused", "check_login_name", "check_not_badge",
    "clean_name_part", "display_name", "skeleton",
]

BADGE_DEFAULT = " ✓"
NAME_MAX_LENGTH = 64  # characters of one cleaned name part
LOGIN_PHONE_DIGITS = 7  # this many digits in a row (separators between them allowed) look like a phone number
MAX_MARKS_PER_LETTER = 3  # script-specific marks kept after one base letter (Devanagari nukta + vowel sign + anusvara)



MESSAGES: Mapping[str, str] = {
    "empty": N_("The name is empty"),
    "too_long": N_("A name can be at most {max} characters long"),
    "control_characters": N_("A name cannot contain line breaks or control characters"),
    "symbols": N_("A name cannot contain symbols or emoji"),
    "badge_imitation": N_("A name cannot contain the confirmed teacher's badge or anything that looks like it"),
    "login_lookalike": N_("This login name looks too much like someone else's; please choose another one"),
    "login_contact": N_("A login name cannot contain a phone number or an e-mail address"),
    "login_invalid": N_("A login name can contain only lowercase Latin letters, digits and the characters . _ = - / +"),
    "role_word": N_("A name you give yourself cannot be a role such as teacher, head or administrator"),
}

#: Role words a self-declared name may not contain (as whole words, look-alikes included):
#: someone registering as "Учитель Директор" would pass for staff in a chat list.
ROLE_WORDS = ("учитель", "учительница", "директор", "администратор", "завуч", "модератор", "классный",
              "руководитель", "teacher", "admin", "administrator", "head", "principal", "moderator", "parta")


def check_not_role_word(text: str) -> None:
    """Raise NameRefused("role_word") when a word of ``text`` is (a look-alike of) a role word.

    For names people give themselves (the registration page); rosters are the school's own.
    """
    words = re.split(r"[\s\-'’.]+", text)
    wanted = {skeleton(w) for w in ROLE_WORDS}
    if any(w and skeleton(w) in wanted for w in words):
        raise NameRefused("role_word")


class NameRefused(ValueError):
    """A name or login name that cannot be used.

    ``reason`` is a code (``empty``, ``too_long``, ``control_characters``, ``symbols``,
    ``badge_imitation``, ``login_lookalike``, ``login_contact``, ``login_invalid``);
    :meth:`message` gives the text in a language; ``str()`` is the English text.
    """

    def __init__(self, reason: str, **params: object):
        if reason not in MESSAGES:
            raise ValueError(f"unknown NameRefused reason {reason!r}")
        self.reason = reason
        self.params: dict[str, str] = {k: str(v) for k, v in params.items()}
        super().__init__(self.message("en"))

    def message(self, language: str | None = None) -> str:
        """The message in ``language`` (``ru``/``en``) or the current language."""
        return gettext_(MESSAGES[self.reason], language).format(**self.params)

    def messages(self) -> dict[str, str]:
        """The message in every language: ``{"ru": ..., "en": ...}``."""
        return {lang: self.message(lang) for lang in LANGUAGES}


# --------------------------------------------------------------------------- invisible characters

# Default_Ignorable_Code_Point (DerivedCoreProperties.txt) and blank-looking letters: zero-width
# characters, bidirectional marks/embeddings/overrides/isolates, word joiner and invisible
# operators, variation selectors, Hangul fillers, Mongolian vowel separator and free variation
# selectors, Khmer inherent vowels, combining grapheme joiner, tags, the Braille blank.
_INVISIBLE_RANGES = (
    (0x00AD, 0x00AD), (0x034F, 0x034F), (0x061C, 0x061C), (0x115F, 0x1160), (0x17B4, 0x17B5),
    (0x180B, 0x180F), (0x200B, 0x200F), (0x202A, 0x202E), (0x2060, 0x206F), (0x2800, 0x2800),
    (0x3164, 0x3164), (0xFE00, 0xFE0F), (0xFEFF, 0xFEFF), (0xFFA0, 0xFFA0), (0xFFF0, 0xFFF8),
    (0x1BCA0, 0x1BCA3), (0x1D173, 0x1D17A), (0xE0000, 0xE0FFF),
)
_INVISIBLE = re.compile("[" + "".join(f"\\U{a:08X}-\\U{b:08X}" for a, b in _INVISIBLE_RANGES) + "]")
# Line breaks: a name part spanning lines is a mangled roster cell or an attempt to push text
# onto a line of its own; refused rather than joined.
_LINE_BREAKS = frozenset("\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029")
_DROPPED_CATEGORIES = frozenset({"Cc", "Cf", "Co", "Cs", "Cn"})  # control, format, private use, surrogates, unassigned
_SYMBOL_CATEGORIES = frozenset({"So", "Sm", "Sc"})


def _drop_invisible(text: str) -> str:
    """``text`` without default-ignorable, control, format, private-use and unassigned characters.

    Tabs and other whitespace controls become spaces (whitespace is collapsed later).
    """
    text = _INVISIBLE.sub("", text)
    out = []
    for ch in text:
        cat = unicodedata.category(ch)
        if cat in _DROPPED_CATEGORIES:
            if ch.isspace():
                out.append(" ")
            continue
        out.append(ch)
    return "".join(out)


def _is_mark(ch: str) -> bool:
    return unicodedata.category(ch).startswith("M")


def _script(ch: str) -> str:
    return _scripts.alias(ch)


def _drop_stray_marks(text: str) -> str:
    """Combining marks left standalone after NFC dropped; script-specific marks kept.

    NFC has already composed every mark that has a precomposed letter (й, ё, ễ, ł...). A mark
    still separate is kept only when it belongs to the same script as its base letter (Devanagari
    vowel signs, Hebrew points...) and at most :data:`MAX_MARKS_PER_LETTER` follow one letter;
    generic (Inherited) diacritics stacked on letters, enclosing marks and "Zalgo" stacks go.
    """
    out: list[str] = []
    base_script = ""
    kept = 0
    for ch in text:
        if not _is_mark(ch):
            out.append(ch)
            base_script = _script(ch) if ch.isalpha() else ""
            kept = 0
            continue
        script = _script(ch)
        if (unicodedata.category(ch) != "Me" and script not in ("INHERITED", "COMMON", "Unknown")
                and script == base_script and kept < MAX_MARKS_PER_LETTER):
            out.append(ch)
            kept += 1
    return "".join(out)


_WHITESPACE = re.compile(r"\s+")


def clean_name_part(text: str) -> str:
    """One name part (family, given or middle name) made safe to show.

    NFC-normalizes; removes zero-width characters, bidirectional controls, other format (Cf)
    and control (Cc) characters, private-use and unassigned code points; collapses whitespace
    and strips; drops combining marks left standalone after NFC. Ordinary letters stay as they
    are: ``"Щукина Юлия Ёжиковна"``, ``"Łukasz Żółć"``, ``"Nguyễn Văn An"``.

    Raises :class:`NameRefused` ``control_characters`` for line breaks, ``empty`` when nothing
    is left, ``too_long`` past :data:`NAME_MAX_LENGTH` characters.
    """
    if not isinstance(text, str):
        raise TypeError(f"a name part must be a string, not {type(text).__name__}")
    if any(ch in _LINE_BREAKS for ch in text):
        raise NameRefused("control_characters")
    text = _drop_invisible(text)
    # invisible characters between a letter and its mark no longer block composition
    text = unicodedata.normalize("NFC", text)
    text = _drop_stray_marks(text)
    text = unicodedata.normalize("NFC", text)
    text = _WHITESPACE.sub(" ", text).strip()
    if not text:
        raise NameRefused("empty")
    if len(text) > NAME_MAX_LENGTH:
        raise NameRefused("too_long", max=NAME_MAX_LENGTH)
    return text


# --------------------------------------------------------------------------- confusables


def _strip_direction_marks(s: str) -> str:
    # confusable_homoglyphs wraps right-to-left characters in LEFT-TO-RIGHT MARKs
    return s.replace("\u200e", "").replace("\u200f", "")


@functools.cache
def _prototypes() -> dict[str, str]:
    """Each confusable character -> its prototype (UTS #39 ``confusables.txt``).

    confusable_homoglyphs stores the file as an undirected graph (source <-> prototype). Its
    components are stars: a prototype with several sources, or a pair. A character with one
    neighbour that has several is a source; in a pair either end serves as representative
    (ASCII first, then the lower code point), which is all that skeleton equality needs.
    """
    graph: dict[str, set[str]] = {}
    for key, entries in _CONFUSABLES.items():
        graph.setdefault(_strip_direction_marks(key), set()).update(
            _strip_direction_marks(e["c"]) for e in entries)
    mapping: dict[str, str] = {}
    for key, neighbours in graph.items():
        if len(key) != 1 or len(neighbours) != 1:
            continue  # a prototype (several sources) or a multi-character string
        (other,) = neighbours
        if not other:
            continue
        if len(other) > 1 or len(graph.get(other, ())) > 1:
            mapping[key] = other
        else:  # a pair: one representative for both
            rep = min(key, other, key=lambda c: (not c.isascii(), ord(c)))
            if rep != key:
                mapping[key] = rep
    return mapping


def _map_confusables(text: str) -> str:
    table = _prototypes()
    return "".join(table.get(ch, ch) for ch in text)


def _fold(text: str) -> str:
    """Look-alikes mapped to one representative and case folded, repeated until stable."""
    for _ in range(4):
        folded = unicodedata.normalize("NFD", _map_confusables(unicodedata.normalize("NFD", text))).casefold()
        folded = unicodedata.normalize("NFD", folded)
        if folded == text:
            break
        text = folded
    return text


@functools.lru_cache(maxsize=65536)
def skeleton(text: str) -> str:
    """The confusables skeleton used to compare login names (UTS #39 style).

    NFKC, invisible characters removed, case folded, look-alikes mapped to one representative
    (``confusables.txt``) and case folded again (repeated until stable), then everything that is not a
    letter, digit or mark dropped, so separators such as ``. _ - = / +`` do not count.
    ``skeleton("ivan.petr0v") == skeleton("Ivan_Petrov") == skeleton("іvan.petrov")``.
    """
    text = _drop_invisible(unicodedata.normalize("NFKC", text)).casefold()
    text = _fold(text)
    return "".join(ch for ch in text if unicodedata.category(ch)[0] in "LNM")


# --------------------------------------------------------------------------- the badge

# Check marks, ballot boxes and their kin, whatever the configured badge: a name never needs them.
_CHECK_LIKE = frozenset(
    "\u2713\u2714\u2705\u2611\u2610\u2612\u237b\u221a\u221b\u221c\u0606\u0607"  # ✓ ✔ ✅ ☑ ☐ ☒ ⍻ √ ∛ ∜ ؆ ؇
    "\u2707"  # ✇ TAPE DRIVE, a ballot-box-like glyph in some fonts
    "\u2c71\u2c74"  # ⱱ ⱴ: v with hook / curl, drawn as a tick
    "\U0001f5f8\U0001f5f9\U0001f5f3\U0001f5f5\U0001f5f7\u2bbd"  # 🗸 🗹 🗳 🗵 🗷 ⮽
    "\U00010102\U0001fbb1"  # 𐄂 AEGEAN CHECK MARK, 🮱 INVERSE CHECK MARK
)
_CHECK_NAME = re.compile(r"\bCHECK(?:MARK)?\b(?! ?BOARD)|\bBALLOT\b|\b(?:SQUARE|CUBE|FOURTH) ROOT\b")


def _check_like(ch: str) -> bool:
    return ch in _CHECK_LIKE or bool(_CHECK_NAME.search(unicodedata.name(ch, "")))


def _detection_form(text: str) -> str:
    """``text`` as it looks: NFKC (fullwidth, mathematical, compatibility forms), invisible
    characters removed, all combining marks removed (after NFD), whitespace collapsed."""
    text = _drop_invisible(unicodedata.normalize("NFKC", text))
    text = "".join(ch for ch in unicodedata.normalize("NFD", text) if not _is_mark(ch))
    return _WHITESPACE.sub(" ", unicodedata.normalize("NFC", text)).strip()


_SMALL_CAPITAL = re.compile(r"^(LATIN|GREEK|CYRILLIC) LETTER SMALL CAPITAL (.+)$")


def _small_capital_base(ch: str) -> str:
    """The capital letter a small capital stands for (``ᴛ`` -> ``T``); NFKC leaves them be."""
    m = _SMALL_CAPITAL.match(unicodedata.name(ch, ""))
    if not m:
        return ""
    try:
        return unicodedata.lookup(f"{m[1]} CAPITAL LETTER {m[2]}")
    except KeyError:
        return ""


@functools.lru_cache(maxsize=8192)
def _looks(ch: str) -> frozenset[str]:
    """What one character may be read as, in any case: its folded forms as written, in lower
    and in upper case (Cyrillic ``т`` looks like a small-capital T, ``Т`` like Latin ``T``),
    and for a small capital as the capital it stands for."""
    return frozenset(_fold(v) for v in {ch, ch.lower(), ch.upper(), _small_capital_base(ch)} if v)


def _letters(text: str) -> str:
    return "".join(ch for ch in text if ch.isalnum())


def _contains_word(text: str, word: str) -> bool:
    """Whether ``word`` (letters and digits) appears in ``text`` with look-alike letters, in any
    case, with anything that is not a letter or digit in between, forwards or reversed."""
    if not word:
        return False
    hay = _letters(text)
    if not hay:
        return False
    # whole strings, lower and upper case: catches multi-letter look-alikes (rn for m)
    for variant in (str.lower, str.upper):
        hay_sk, word_sk = _letters(_fold(variant(hay))), _letters(_fold(variant(word)))
        if word_sk and (word_sk in hay_sk or word_sk[::-1] in hay_sk):
            return True
    # letter by letter: mixed case and mixed scripts (yчиTeль)
    hay_sets = [_looks(ch) for ch in hay]
    for target in (word, word[::-1]):
        want = [_looks(ch) for ch in target]
        n = len(want)
        for start in range(len(hay_sets) - n + 1):
            if all(hay_sets[start + i] & want[i] for i in range(n)):
                return True
    return False


def check_not_badge(text: str, badge: str = BADGE_DEFAULT) -> None:
    """Refuse (``badge_imitation``) a text that shows the badge or anything that looks like it.

    Refused: the badge itself; any check mark or ballot box (✓ ✔ ✅ ☑ 🗸 √ 🗹 ✇..., with or
    without variation selectors), whatever the badge; a character that ``confusables.txt``
    maps to one of the badge's symbols; and, for a badge with a word (``" [учитель]"``), the word
    in look-alike Latin/Cyrillic letters, any case, with spaces, punctuation, zero-width or
    combining characters in between, fullwidth or mathematical forms, or reversed (as an
    RLO override would show it). Invisible characters are ignored throughout.

    A badge word shorter than three letters is not searched for as a word (it would refuse
    ordinary names); its symbols still are.
    """
    raw = _drop_invisible(text)
    seen = _detection_form(text)
    core = badge.strip()
    if core and (core in raw or _detection_form(core) in seen):
        raise NameRefused("badge_imitation")
    for ch in set(raw) | set(seen) | set(unicodedata.normalize("NFD", raw)):
        if _check_like(ch):
            raise NameRefused("badge_imitation")
    # the badge's symbols (not its letters, digits, spaces or brackets) by look
    symbols = {ch for ch in _detection_form(core) if unicodedata.category(ch) in _SYMBOL_CATEGORIES}
    if symbols:
        wanted = frozenset().union(*(_looks(ch) for ch in symbols))
        if any(_looks(ch) & wanted for ch in set(seen) if not ch.isspace()):
            raise NameRefused("badge_imitation")
    word = _letters(_detection_form(core))
    if len(word) >= 3 and _contains_word(seen, word):
        raise NameRefused("badge_imitation")


def _check_no_symbols(text: str) -> None:
    if any(unicodedata.category(ch) in _SYMBOL_CATEGORIES for ch in text):
        raise NameRefused("symbols")


def display_name(family: str, given: str, middle: str = "", *, badge: str | None = None,
                 marker: str = BADGE_DEFAULT) -> str:
    """The server-set display name ``"Family Given Middle"``, with ``badge`` appended if given.

    Each part goes through :func:`clean_name_part` (a middle name that cleans to nothing is left
    out; family and given names are required), then each part and the whole name through
    :func:`check_not_badge` against the configured ``marker`` (and ``badge``, when that differs),
    and must hold no symbols or emoji (``symbols``). Pass ``badge`` (the configured marker) for a
    confirmed teacher only: ``display_name("Иванова", "Мария", "Петровна", badge=" ✓")`` is
    ``"Иванова Мария Петровна ✓"``.
    """
    parts = [clean_name_part(family), clean_name_part(given)]
    try:
        parts.append(clean_name_part(middle))
    except NameRefused as e:
        if e.reason != "empty":
            raise
    markers = [marker] + ([badge] if badge and badge != marker else [])
    full = " ".join(parts)
    for piece in (*parts, full):
        for m in markers:
            check_not_badge(piece, m)
    for piece in parts:
        _check_no_symbols(piece)
    return full + badge if badge else full


# --------------------------------------------------------------------------- login names

LOCALPART = re.compile(r"[a-z0-9._=\-/+]+")
_SEPARATORS = "._=/+ -"
_PHONE = re.compile(rf"\d(?:[{re.escape(_SEPARATORS)}]?\d){{{LOGIN_PHONE_DIGITS - 1},}}")
_MAIL_DOMAINS = (
    "gmail.com", "googlemail.com", "mail.ru", "yandex.ru", "yandex.com", "ya.ru", "bk.ru", "list.ru",
    "inbox.ru", "internet.ru", "rambler.ru", "outlook.com", "hotmail.com", "live.com", "icloud.com",
    "yahoo.com", "proton.me", "protonmail.com",
)
_MAIL_LIKE = re.compile(r".+(?:@|%40|\(at\)|\[at\]|[._=\-/+]at[._=\-/+]).+[.][a-z]{2,}$")


_MAIL_DOMAIN = re.compile(r"(?:^|\.)(?:" + "|".join(re.escape(d) for d in _MAIL_DOMAINS) + r")(?:$|\.)")


def _looks_like_contact(localpart: str) -> bool:
    text = localpart.casefold()
    if "@" in text or "%40" in text or _PHONE.search(text) or _MAIL_LIKE.match(text):
        return True
    return bool(_MAIL_DOMAIN.search(re.sub(r"[_=\-/+]", ".", text)))


def check_login_name(localpart: str, taken: Iterable[str]) -> None:
    """Refuse a login name (Matrix ID localpart) that cannot be used.

    * ``login_lookalike``: its :func:`skeleton` equals that of a taken localpart that is not the
      same string (``ivan.petrov`` taken: ``ivan_petrov``, ``ivan.petr0v``, ``іvan.petrov`` with a
      Cyrillic ``і`` are refused);
    * ``login_contact``: it holds a phone number (7 or more digits in a row, single separators
      allowed between them) or looks like an e-mail address;
    * ``login_invalid``: empty, or a character outside the Matrix localpart grammar
      ``[a-z0-9._=\\-/+]``.

    An identical taken localpart is not a look-alike; refusing it as taken is the caller's job.
    """
    if not isinstance(localpart, str) or not localpart:
        raise NameRefused("login_invalid")
    mine = skeleton(localpart)
    for other in taken:
        if other != localpart and skeleton(other) == mine:
            raise NameRefused("login_lookalike")
    if _looks_like_contact(localpart):
        raise NameRefused("login_contact")
    if not LOCALPART.fullmatch(localpart):
        raise NameRefused("login_invalid")

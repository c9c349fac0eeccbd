"""Name rules: cleaning, the confirmed teacher's badge and its imitations, login-name look-alikes.

Every imitation of the badge sits next to legitimate names that must pass unchanged.
"""

from __future__ import annotations

import pytest

from policies.i18n import set_language
from policies.names import (
    BADGE_DEFAULT,
    NAME_MAX_LENGTH,
    NameRefused,
    check_login_name,
    check_not_badge,
    clean_name_part,
    display_name,
    skeleton,
)

WORD_BADGE = " [учитель]"
LATIN_WORD_BADGE = " [teacher]"
BADGES = (BADGE_DEFAULT, WORD_BADGE, LATIN_WORD_BADGE)



def refused(reason: str, fn, *args, **kwargs) -> NameRefused:
    with pytest.raises(NameRefused) as info:
        fn(*args, **kwargs)
    assert info.value.reason == reason, info.value.reason
    return info.value


# --------------------------------------------------------------------------- legitimate names

LEGITIMATE = [
    "Щукина Юлия Ёжиковна",
    "Иванов-Петров Сергей",
    "O'Brien Liam",
    "Łukasz Żółć",
    "Nguyễn Văn An",
    "Кравчук Андрей Йосипович",
    "Йошкар Фёдор Семёнович",
    "Ёлкина Майя Алексеевна",
    "Müller Jürgen",
    "Гусейнов Рустам Ильхам оглы",
    "Шамсутдинова Гүзәл Рәшитовна",  # Tatar letters
    "Д'Артаньян Шарль",
    "Smith John V.",
    "Petrov Teodor",  # contains "te…", not the badge word
    "Tchaikovsky Pyotr Ilyich",
    "Ленская Вера Ч.",
]


@pytest.mark.parametrize("name", LEGITIMATE)
@pytest.mark.parametrize("badge", BADGES, ids=["check", "ru-word", "en-word"])
def test_legitimate_names_pass_check_not_badge(name, badge):
    check_not_badge(name, badge)


@pytest.mark.parametrize("name", LEGITIMATE)
def test_legitimate_name_parts_are_unchanged_by_cleaning(name):
    for part in name.split():
        assert clean_name_part(part) == part
    assert clean_name_part(name) == name


@pytest.mark.parametrize(("family", "given", "middle", "expected"), [
    ("Щукина", "Юлия", "Ёжиковна", "Щукина Юлия Ёжиковна"),
    ("Иванов-Петров", "Сергей", "", "Иванов-Петров Сергей"),
    ("O'Brien", "Liam", "", "O'Brien Liam"),
    ("Łukasz", "Żółć", "", "Łukasz Żółć"),
    ("Nguyễn", "Văn", "An", "Nguyễn Văn An"),
    ("Кравчук", "Андрей", "Йосипович", "Кравчук Андрей Йосипович"),
])
def test_display_name_of_legitimate_names(family, given, middle, expected):
    assert display_name(family, given, middle) == expected
    assert display_name(family, given, middle, badge=BADGE_DEFAULT) == expected + " ✓"


def test_display_name_of_a_confirmed_teacher_carries_the_badge():
    assert display_name("Иванова", "Мария", "Петровна", badge=" ✓") == "Иванова Мария Петровна ✓"
    assert display_name("Иванова", "Мария", "Петровна") == "Иванова Мария Петровна"
    assert (display_name("Иванова", "Мария", "Петровна", badge=WORD_BADGE, marker=WORD_BADGE)
            == "Иванова Мария Петровна [учитель]")


def test_display_name_cleans_parts_and_leaves_out_an_empty_middle_name():
    assert display_name("  Ива\u200bнова ", "Ма\u00adрия\u2060", "\u200b") == "Иванова Мария"
    assert display_name("Иванова", "Мария", "  ") == "Иванова Мария"


def test_display_name_requires_family_and_given_names():
    refused("empty", display_name, "", "Мария")
    refused("empty", display_name, "Иванова", "\u200b\u200d")


def test_display_name_refuses_symbols_and_emoji():
    refused("symbols", display_name, "Иванова", "Мария 🌸")
    refused("symbols", display_name, "Иванова", "Мария ★")
    refused("symbols", display_name, "Иванова", "Мария +")


# --------------------------------------------------------------------------- cleaning


@pytest.mark.parametrize(("raw", "clean"), [
    ("Ива\u200bнов", "Иванов"),  # ZERO WIDTH SPACE
    ("Ива\u200cн\u200dов", "Иванов"),  # ZWNJ, ZWJ
    ("Иван\u2060ов\ufeff", "Иванов"),  # WORD JOINER, BOM
    ("Ива\u180eнов", "Иванов"),  # MONGOLIAN VOWEL SEPARATOR
    ("\u202eвонавИ\u202c", "вонавИ"),  # RLO ... PDF: the override goes, the letters stay as stored
    ("\u2066Иванов\u2069", "Иванов"),  # LRI ... PDI
    ("\u200eИванов\u200f\u061c", "Иванов"),  # LRM, RLM, ARABIC LETTER MARK
    ("Ива\u00adнов", "Иванов"),  # SOFT HYPHEN
    ("Ива\x00нов\x1b", "Иванов"),  # control characters
    ("Иванов\U000e0041", "Иванов"),  # TAG LATIN CAPITAL LETTER A
    ("Иванов\ue000", "Иванов"),  # private use
    ("\u3164Иванов", "Иванов"),  # HANGUL FILLER
    ("  Иванов \t  Петров\u00a0 ", "Иванов Петров"),  # whitespace collapsed
    ("Иванов\u2003\u3000Петров", "Иванов Петров"),
    ("и\u0306", "й"),  # composed by NFC
    ("е\u0308", "ё"),
    ("и\u200d\u0306", "й"),  # a joiner between letter and mark does not keep the mark apart
    ("й\u0306\u0306", "й"),  # repeated stacked marks
    ("Z\u0334\u0335\u0336a\u0337\u0338l\u0489go", "Zalgo"),  # Zalgo
    ("Ив\u0301анов", "Иванов"),  # a stress mark with no precomposed Cyrillic form
    ("x\u0301", "x"),
    ("नमस्ते", "नमस्ते"),  # Devanagari vowel signs belong to their letters
    ("สมชาย", "สมชาย"),  # so do Thai vowel marks
    ("Nguye\u0302\u0303n", "Nguyễn"),  # decomposed Vietnamese composes
    ("Z\u0307\u00f3\u0142c\u0301", "Żółć"),
])
def test_cleaning(raw, clean):
    assert clean_name_part(raw) == clean


def test_cleaning_keeps_precomposed_letters():
    for name in ("й", "Й", "ё", "Ё", "ễ", "Ł", "ż", "ç"):
        assert clean_name_part(name) == name


@pytest.mark.parametrize("raw", ["", "   ", "\u200b\u200c\u200d", "\u202e\u202c", "\u0301\u0302", "\ufe0f"])
def test_cleaning_refuses_empty_names(raw):
    refused("empty", clean_name_part, raw)


def test_cleaning_refuses_too_long_names():
    clean_name_part("Я" * NAME_MAX_LENGTH)
    e = refused("too_long", clean_name_part, "Я" * (NAME_MAX_LENGTH + 1))
    assert str(NAME_MAX_LENGTH) in e.message("en")
    # invisible characters do not count
    assert clean_name_part("Я" * NAME_MAX_LENGTH + "\u200b" * 10) == "Я" * NAME_MAX_LENGTH


@pytest.mark.parametrize("raw", ["Иванов\nПетров", "Иванов\r", "Иванов\u2028Петров", "Иванов\x85"])
def test_cleaning_refuses_line_breaks(raw):
    refused("control_characters", clean_name_part, raw)


# --------------------------------------------------------------------------- badge imitations

DEFAULT_BADGE_IMITATIONS = {
    "the badge itself": "Иванова Мария ✓",
    "the badge without its space": "Иванова Мария✓",
    "heavy check mark": "Иванова Мария ✔",
    "white heavy check mark": "Иванова Мария ✅",
    "ballot box with check": "Иванова Мария ☑",
    "light check mark": "Иванова Мария 🗸",
    "square root": "Иванова Мария √",
    "cube root": "Иванова Мария ∛",
    "check mark, text presentation": "Иванова Мария ✓\ufe0e",
    "heavy check mark, emoji presentation": "Иванова Мария ✔\ufe0f",
    "ballot box with check, text presentation": "Иванова Мария ☑\ufe0e",
    "ballot box with bold check": "Иванова Мария 🗹",
    "tape drive": "Иванова Мария ✇",
    "empty ballot box": "Иванова Мария ☐",
    "ballot box with x": "Иванова Мария ☒",
    "not check mark": "Иванова Мария ⍻",
    "aegean check mark": "Иванова Мария 𐄂",
    "inverse check mark": "Иванова Мария 🮱",
    "v with right hook": "Иванова Мария ⱱ",
    "zero-width joiners around it": "Иванова Мария \u200d✓\u200d",
    "zero-width spaces inside the name": "Ива\u200bнова \u200b✓",
    "right-to-left override": "Иванова Мария \u202e✓\u202c",
    "isolate": "Иванова \u2067✓\u2069 Мария",
    "combining acute on it": "Иванова Мария ✓\u0301",
    "combining overline on square root": "Иванова Мария √\u0305",
    "enclosing circle": "Иванова Мария ✓\u20dd",
    "as the given name": "✓",
    "between the parts": "Иванова ✓ Мария",
}


@pytest.mark.parametrize("text", DEFAULT_BADGE_IMITATIONS.values(), ids=DEFAULT_BADGE_IMITATIONS.keys())
def test_default_badge_imitations_are_refused(text):
    refused("badge_imitation", check_not_badge, text)
    refused("badge_imitation", check_not_badge, text, BADGE_DEFAULT)


@pytest.mark.parametrize("text", DEFAULT_BADGE_IMITATIONS.values(), ids=DEFAULT_BADGE_IMITATIONS.keys())
def test_check_marks_are_refused_whatever_the_badge(text):
    refused("badge_imitation", check_not_badge, text, WORD_BADGE)


WORD_BADGE_IMITATIONS = {
    "the badge itself": "Иванова [учитель]",
    "the word alone": "Иванова учитель",
    "upper case": "Иванова УЧИТЕЛЬ",
    "Latin y and e": "Иванова yчитeль",
    "Latin capital T in upper case": "Иванова УЧИTЕЛЬ",
    "Latin capitals, mixed case": "Иванова УчиTEль",
    "Latin b for soft sign": "Иванова учителb",
    "spaces between letters": "Иванова у ч и т е л ь",
    "punctuation between letters": "Иванова у.ч.и-т_е'л,ь",
    "zero-width joiners between letters": "Иванова у\u200dч\u200bи\u2060тель",
    "soft hyphens": "Иванова учи\u00adтель",
    "combining marks (Zalgo)": "Иванова у\u0334ч\u0334и\u0334т\u0334е\u0334л\u0334ь\u0334",
    "reversed under a right-to-left override": "Иванова \u202eьлетичу\u202c",
    "reversed, override removed": "Иванова ьлетичу",
    "other brackets": "Иванова (Учитель)",
    "joined to the name": "Ивановаучитель",
}


@pytest.mark.parametrize("text", WORD_BADGE_IMITATIONS.values(), ids=WORD_BADGE_IMITATIONS.keys())
def test_word_badge_imitations_are_refused(text):
    refused("badge_imitation", check_not_badge, text, WORD_BADGE)


LATIN_WORD_BADGE_IMITATIONS = {
    "the badge itself": "Smith [teacher]",
    "fullwidth": "Smith ［ｔｅａｃｈｅｒ］",
    "fullwidth letters only": "Smith ｔｅａｃｈｅｒ",
    "mathematical bold": "Smith 𝐭𝐞𝐚𝐜𝐡𝐞𝐫",
    "mathematical script capitals": "Smith 𝒯ℰ𝒜𝒞ℋℰℛ",
    "Cyrillic е, а, с": "Smith tеасhеr",
    "Greek capitals": "Smith TΕΑCΗΕR",
    "Cyrillic capitals": "Smith ТЕАСНЕR",
    "small capitals": "Smith ᴛᴇᴀᴄʜᴇʀ",
    "circled letters": "Smith ⓣⓔⓐⓒⓗⓔⓡ",
    "hyphenated": "Smith t-e-a-c-h-e-r",
    "upper case with dots": "Smith T.E.A.C.H.E.R.",
}


@pytest.mark.parametrize("text", LATIN_WORD_BADGE_IMITATIONS.values(), ids=LATIN_WORD_BADGE_IMITATIONS.keys())
def test_latin_word_badge_imitations_are_refused(text):
    refused("badge_imitation", check_not_badge, text, LATIN_WORD_BADGE)


def test_the_badge_word_split_across_name_parts_is_refused():
    refused("badge_imitation", display_name, "Учи", "тель", marker=WORD_BADGE)
    refused("badge_imitation", display_name, "Смирнова", "Анна", "✓")
    refused("badge_imitation", display_name, "Смирнова ✔", "Анна")


def test_display_name_checks_the_marker_even_without_a_badge():
    refused("badge_imitation", display_name, "Смирнова", "Анна [учитель]", marker=WORD_BADGE)
    # the default check marks stay refused whatever the marker is
    refused("badge_imitation", display_name, "Смирнова", "Анна ✓", marker=WORD_BADGE)


def test_a_configured_symbol_badge_and_its_look_alikes():
    check_not_badge("Иванова Мария", " ★")
    refused("badge_imitation", check_not_badge, "Иванова Мария ★", " ★")
    refused("badge_imitation", check_not_badge, "Иванова Мария ★\ufe0f", " ★")


def test_a_short_badge_word_does_not_refuse_ordinary_names():
    check_not_badge("Tatiana Ivanova", " T✓")
    refused("badge_imitation", check_not_badge, "Tatiana ✓", " T✓")


# --------------------------------------------------------------------------- login names

TAKEN = ["ivan.petrov", "maria", "olga.smirnova", "admin"]


@pytest.mark.parametrize("localpart", [
    "ivan_petrov", "ivan-petrov", "ivanpetrov", "ivan.petr0v", "ivan..petrov",
    "\u0456van.petrov",  # Cyrillic і
    "ivan.p\u0435trov",  # Cyrillic е
    "ivan.petrov\u200b",  # zero-width space
    "Ivan.Petrov",
    "ivan.petrоv",  # Cyrillic о
    "ｉｖａｎ.ｐｅｔｒｏｖ",  # fullwidth
    "rnaria",  # rn for m
    "o1ga.smirnova", "olga.srnirnova", "0lga_smirnova",
    "adrnin", "admin_", "ad.min",
])
def test_login_lookalikes_are_refused(localpart):
    refused("login_lookalike", check_login_name, localpart, TAKEN)


@pytest.mark.parametrize("localpart", [
    "ivan.petrov2", "ivan.petrova", "ivan.sidorov", "marina", "olga.smirnova.5a", "p.ivanov", "admins",
])
def test_distinct_login_names_pass(localpart):
    check_login_name(localpart, TAKEN)


def test_the_same_login_name_is_not_a_lookalike_of_itself():
    check_login_name("ivan.petrov", TAKEN)


def test_skeleton():
    assert skeleton("ivan.petrov") == skeleton("ivan_petrov") == skeleton("ivan.petr0v") == skeleton("Ivan-Petrov")
    assert skeleton("\u0456van.petrov") == skeleton("ivan.petrov")
    assert skeleton("rnaria") == skeleton("maria")
    assert skeleton("ivan1") == skeleton("ivanl")
    assert skeleton("ivan.petrov") != skeleton("ivan.petrova")
    assert skeleton("a.b_c-d=e/f+g") == skeleton("abcdefg")


@pytest.mark.parametrize("localpart", [
    "ivan89001234567", "ivan.9001234567", "ivan.900-123-45-67", "79001234567", "ivan.1234567",
    "ivan@mail.ru", "ivan%40mail.ru", "ivan.petrov.mail.ru", "ivan.petrov.gmail.com", "ivan_at_yandex.ru",
    "ivan.ya.ru",
])
def test_login_names_with_contacts_are_refused(localpart):
    refused("login_contact", check_login_name, localpart, [])


@pytest.mark.parametrize("localpart", ["ilya.rudenko", "ivan.2010", "class.5a", "masha123456", "ivan.ru.petrov"])
def test_login_names_without_contacts_pass(localpart):
    check_login_name(localpart, [])


@pytest.mark.parametrize("localpart", [
    "", "Ivan", "ivan petrov", "иван", "\u0456van", "ivan!", "ivan:example.org", "ivan#1", "ivan\u200b",
])
def test_login_names_outside_the_grammar_are_refused(localpart):
    refused("login_invalid", check_login_name, localpart, [])


def test_login_names_in_the_grammar_pass():
    check_login_name("a.b_c=d-e/f+g", [])


# --------------------------------------------------------------------------- messages


def test_messages_are_russian_by_default_and_english_on_request():
    e = refused("badge_imitation", check_not_badge, "Иванова ✓")
    assert e.message() == e.message("ru")
    assert "значок" in e.message("ru")
    assert "badge" in e.message("en")
    assert str(e) == e.message("en")
    assert e.messages() == {"ru": e.message("ru"), "en": e.message("en")}
    set_language("en")
    assert e.message() == e.message("en")


@pytest.mark.parametrize(("reason", "fn", "args"), [
    ("empty", clean_name_part, ("",)),
    ("too_long", clean_name_part, ("Я" * 100,)),
    ("control_characters", clean_name_part, ("a\nb",)),
    ("symbols", display_name, ("Иванова", "Мария 🌸")),
    ("badge_imitation", check_not_badge, ("✓",)),
    ("login_lookalike", check_login_name, ("ivan_petrov", ["ivan.petrov"])),
    ("login_contact", check_login_name, ("ivan@mail.ru", [])),
    ("login_invalid", check_login_name, ("Иван", [])),
])
def test_every_refusal_has_a_russian_and_an_english_message(reason, fn, args):
    e = refused(reason, fn, *args)
    ru, en = e.message("ru"), e.message("en")
    assert ru and en and ru != en
    assert "{" not in ru and "{" not in en
    assert any("а" <= ch <= "я" for ch in ru.lower())


def test_unknown_reason_is_a_programming_error():
    with pytest.raises(ValueError):
        NameRefused("no_such_reason")


@pytest.mark.parametrize("text", ["Учитель", "директор", "Администратор", "teacher", "tеacher", "ADMIN",
                                  "Завуч", "Parta", "Классный"])
def test_role_words_are_refused_in_self_declared_names(text):
    from policies.names import check_not_role_word

    with pytest.raises(NameRefused) as e:
        check_not_role_word(text)
    assert e.value.reason == "role_word"


@pytest.mark.parametrize("text", ["Учительская-Иванова", "Директорова", "Адмиралов", "Headley", "Пархоменко"])
def test_names_containing_role_words_as_parts_pass(text):
    from policies.names import check_not_role_word

    check_not_role_word(text)

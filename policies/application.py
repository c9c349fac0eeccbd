"""Organization applications: what a school sends to register on Parta.

Pure (no network; the only files read are the package's own ``policies/data/application.schema.json``
and ``application.example.yaml``, and the local IANA time zone database through :mod:`zoneinfo`).
The caller loads the document (YAML or JSON, see ``spaces_provisioner.cli.application_file``) and
passes it with :func:`load_schema` to :func:`parse_application`, which checks

1. the shape against the schema (JSON Schema draft 2020-12, ``jsonschema.Draft202012Validator``),
   with jsonschema's errors turned into Parta's own messages;
2. what a schema cannot check: the INN and OGRN check digits (``stdnum.ru.inn``,
   ``stdnum.ru.ogrn``), mobile phone numbers (``phonenumbers``, default region RU, stored in
   E.164), e-mail addresses (``email-validator``, no DNS lookup), the time zone (``zoneinfo``),
   and the slug derived from the short name when none is given (``iuliia`` transliteration).

Every problem found is reported at once in one :class:`ApplicationError`; a partial
application is never returned. Messages are English msgids translated through
:mod:`policies.i18n` (Russian catalog: ``policies/locale/ru/LC_MESSAGES/application.po``).
"""

from __future__ import annotations

import copy
import datetime
import difflib
import functools
import hashlib
import json
import math
import re
import unicodedata
import zoneinfo
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import email_validator
import iuliia
import jsonschema
import phonenumbers
from stdnum.exceptions import InvalidChecksum, ValidationError
from stdnum.ru import inn as ru_inn
from stdnum.ru import ogrn as ru_ogrn

from policies.i18n import N_, _, ngettext
from policies.model import FullName, OrgKind

__all__ = [
    "Application",
    "ApplicationError",
    "ApplicationProblem",
    "Contact",
    "EXAMPLE_PATH",
    "SCHEMA_PATH",
    "SLUG_PATTERN",
    "example_text",
    "load_schema",
    "parse_application",
    "slugify",
]

#: The application format (JSON Schema draft 2020-12) and the commented example, shipped in the package.
SCHEMA_PATH = Path(__file__).parent / "data" / "application.schema.json"
EXAMPLE_PATH = Path(__file__).parent / "data" / "application.example.yaml"


@functools.cache
def load_schema() -> dict:
    """The application JSON Schema (draft 2020-12) as a dict (read once per process).

    Raises OSError / json.JSONDecodeError if the package's schema file is missing or broken
    (an installation fault, not the applicant's).
    """
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


def example_text() -> str:
    """The example application (YAML with Russian comments), as ``parta org example`` prints it."""
    return EXAMPLE_PATH.read_text(encoding="utf-8")


#: A slug: 2-32 Latin lowercase letters, digits and hyphens, no hyphen at either end.
#: Same pattern as ``properties.slug.pattern`` in ``policies/data/application.schema.json``.
SLUG_PATTERN = r"^[a-z0-9][a-z0-9-]{0,30}[a-z0-9]$"
SLUG_MAX_LENGTH = 32

_PHONE_EXAMPLE = "+7 900 123-45-67"
_MOBILE_TYPES = (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE)

# Letters of the languages of Russia's republics that the Russian transliteration schemas
# leave as they are (Tatar, Bashkir, Chuvash, Yakut...), plus Ukrainian and Belarusian ones.
_EXTRA_LETTERS = str.maketrans({
    "ә": "a", "ө": "o", "ү": "u", "ұ": "u", "ң": "n", "җ": "zh", "һ": "h", "ғ": "g", "қ": "k",
    "ҡ": "k", "ҙ": "z", "ҫ": "s", "ӑ": "a", "ӗ": "e", "ӳ": "u", "ҕ": "g", "ӈ": "n",
    "і": "i", "ї": "yi", "є": "ye", "ґ": "g", "ў": "u",
})


# Fields where a number is plausible text that YAML read as a number: advise quoting.
_QUOTABLE = frozenset({"inn", "ogrn", "slug", "full_name", "short_name", "region"})

# What each field holds, used in "missing"/"empty" messages (translated when used).
_FIELD_HINTS = {
    "full_name": N_("the full official name, as in the organization's charter"),
    "short_name": N_("the short name people see, e.g. Школа № 7"),
    "slug": N_("a Latin id for room addresses, e.g. school-7"),
    "kind": N_("general, spo or additional"),
    "region": N_("the region, e.g. Республика Татарстан"),
    "timezone": N_("the time zone, e.g. Europe/Moscow"),
    "inn": N_("the organization's 10-digit INN"),
    "ogrn": N_("the organization's 13-digit OGRN"),
    "administrator": N_("the appointed administrator with family_name, given_name, phone and email"),
    "head": N_("the head (director) with family_name and given_name"),
    "settings": N_("the organization's settings, one name: value per line"),
    "family_name": N_("the family name"),
    "given_name": N_("the given name"),
    "middle_name": N_("the patronymic"),
    "phone": N_("a mobile phone number, e.g. +7 900 123-45-67"),
    "email": N_("an e-mail address, e.g. name@example.org"),
}


# --------------------------------------------------------------------------- data


@dataclass(frozen=True)
class Contact:
    """A person named in an application: ФИО plus optional contacts.

    ``phone`` is E.164 (``+79001234567``), ``email`` is normalized by email-validator
    (domain lowercased); both are None when not given (the administrator always has both).
    """

    name: FullName
    phone: str | None = None
    email: str | None = None

    def to_json(self) -> dict[str, str]:
        """``{"family_name", "given_name", ["middle_name"], ["phone"], ["email"]}``; absent fields left out."""
        out = {"family_name": self.name.family_name, "given_name": self.name.given_name}
        if self.name.middle_name:
            out["middle_name"] = self.name.middle_name
        if self.phone is not None:
            out["phone"] = self.phone
        if self.email is not None:
            out["email"] = self.email
        return out


@dataclass(frozen=True)
class Application:
    """A checked, normalized organization application.

    Texts are NFC-normalized with runs of whitespace collapsed; ``slug`` is always set
    (derived from ``short_name`` when the application gave none); ``inn`` (10 digits) and
    ``ogrn`` (13 digits) are None when not given; ``settings`` is the free-form mapping of
    the application (empty when absent). Build it with :func:`parse_application`.
    """

    full_name: str
    short_name: str
    slug: str
    kind: OrgKind
    region: str
    timezone: str
    inn: str | None
    ogrn: str | None
    administrator: Contact
    head: Contact | None = None
    settings: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The canonical JSON form: a dict in schema field order, absent optional fields left out.

        The result is itself a valid application (``parse_application(app.to_json(), schema)``
        gives back an equal Application); nested settings are key-sorted.
        """
        out: dict[str, Any] = {
            "full_name": self.full_name,
            "short_name": self.short_name,
            "slug": self.slug,
            "kind": self.kind.value,
            "region": self.region,
            "timezone": self.timezone,
        }
        if self.inn is not None:
            out["inn"] = self.inn
        if self.ogrn is not None:
            out["ogrn"] = self.ogrn
        out["administrator"] = self.administrator.to_json()
        if self.head is not None:
            out["head"] = self.head.to_json()
        if self.settings:
            out["settings"] = _sorted_json(self.settings)
        return out

    def fingerprint(self) -> str:
        """SHA-256 (hex) of the canonical JSON: :meth:`to_json` serialized with sorted keys,
        no insignificant whitespace, UTF-8 (in the spirit of RFC 8785, with Python's number
        formatting). Equal for the same application written in YAML or JSON, with different
        key order or spacing; used to recognize "the same application again"."""
        text = json.dumps(self.to_json(), ensure_ascii=False, sort_keys=True, separators=(",", ":"),
                          allow_nan=False)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class ApplicationProblem:
    """One thing wrong with an application.

    ``path`` names the field with dots (``administrator.phone``; list items as ``[0]``;
    ``""`` for the document as a whole); ``message`` (translated) says what is wrong and
    how to fix it.
    """

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class ApplicationError(ValueError):
    """An application that cannot be accepted; ``problems`` lists everything found.

    ``str()`` gives the problems one per line (``path: message``).
    """

    def __init__(self, problems: Iterable[ApplicationProblem]):
        self.problems: list[ApplicationProblem] = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


# --------------------------------------------------------------------------- slug


def slugify(text: str) -> str:
    """A slug candidate from a name: ``"Школа № 7"`` → ``"shkola-7"``.

    Transliterates with iuliia's Wikipedia schema (``iuliia.WIKIPEDIA``; letters of other
    languages of Russia by a small table), drops ``№`` and accents, lowercases, turns every run of
    characters other than ``a-z0-9`` into one ``-``, trims hyphens and cuts to 32 characters.
    May return a string shorter than 2 characters (or ``""``) when the text has too few
    letters or digits; the caller decides (see :data:`SLUG_PATTERN`).
    """
    text = unicodedata.normalize("NFC", text).replace("№", " ")
    latin = iuliia.WIKIPEDIA.translate(text).lower().translate(_EXTRA_LETTERS)
    latin = "".join(c for c in unicodedata.normalize("NFKD", latin) if not unicodedata.combining(c)).lower()
    slug = re.sub(r"[^a-z0-9]+", "-", latin).strip("-")
    return slug[:SLUG_MAX_LENGTH].rstrip("-")


# --------------------------------------------------------------------------- parsing


_Path = tuple[str | int, ...]


def parse_application(data: object, schema: dict) -> Application:
    """Check and normalize an application document.

    ``data`` is the document as loaded from YAML or JSON (a mapping at the top level);
    ``schema`` is the parsed ``policies/data/application.schema.json`` (JSON Schema draft 2020-12).
    Returns an :class:`Application`. Raises :class:`ApplicationError` listing every problem
    found: the schema's (via ``Draft202012Validator.iter_errors``, one problem per field), then
    INN/OGRN check digits, phone numbers, e-mail addresses, the time zone and the slug; a field
    with a schema problem is not checked further.
    """
    problems: dict[_Path, str] = {}

    def add(path: _Path, message: str) -> None:
        problems.setdefault(path, message)

    for path, message in _schema_problems(data, schema):
        add(path, message)

    values: dict[_Path, Any] = {}
    if isinstance(data, Mapping):
        _check_values(data, problems, add, values)

    if problems:
        order = _field_order(schema)
        ranked = sorted(problems.items(), key=lambda item: _rank(item[0], order))
        raise ApplicationError(ApplicationProblem(_format_path(p), m) for p, m in ranked)

    assert isinstance(data, Mapping)
    admin = data["administrator"]
    head = data.get("head")
    return Application(
        full_name=_clean(data["full_name"]),
        short_name=_clean(data["short_name"]),
        slug=values[("slug",)],
        kind=OrgKind(data["kind"]),
        region=_clean(data["region"]),
        timezone=values[("timezone",)],
        inn=values.get(("inn",)),
        ogrn=values.get(("ogrn",)),
        administrator=_contact(admin, ("administrator",), values),
        head=_contact(head, ("head",), values) if head is not None else None,
        settings=copy.deepcopy(dict(data.get("settings") or {})),
    )


def _clean(text: str) -> str:
    """NFC, whitespace runs collapsed to one space, trimmed."""
    return " ".join(unicodedata.normalize("NFC", text).split())


def _contact(data: Mapping, path: _Path, values: dict[_Path, Any]) -> Contact:
    return Contact(
        name=FullName(
            family_name=_clean(data["family_name"]),
            given_name=_clean(data["given_name"]),
            middle_name=_clean(data.get("middle_name") or ""),
        ),
        phone=values.get(path + ("phone",)),
        email=values.get(path + ("email",)),
    )


def _check_values(data: Mapping, problems: dict[_Path, str], add, values: dict[_Path, Any]) -> None:
    """The checks a schema cannot do; fills ``values`` with the normalized results."""

    def ok(path: _Path) -> bool:
        # Checked further only when the schema found nothing wrong with it or its parents.
        return not any(path[: i + 1] in problems for i in range(len(path)))

    def text_at(path: _Path) -> str | None:
        node: Any = data
        for key in path:
            if not isinstance(node, Mapping) or key not in node:
                return None
            node = node[key]
        return node if isinstance(node, str) and ok(path) else None

    inn = text_at(("inn",))
    if inn is not None:
        try:
            values[("inn",)] = ru_inn.validate(inn)
        except ValidationError:
            add(("inn",), _("'{value}' has a wrong check digit, so it is not a valid INN; copy the "
                            "INN again from the organization's registration documents").format(value=inn))

    ogrn = text_at(("ogrn",))
    if ogrn is not None:
        try:
            ru_ogrn.validate(ogrn)
            if ogrn[0] not in "15":
                add(("ogrn",), _("'{value}' is not the OGRN of an organization (it starts with 1 or 5); "
                                 "copy the OGRN again from the organization's registration "
                                 "documents").format(value=ogrn))
            else:
                values[("ogrn",)] = ogrn
        except InvalidChecksum:
            add(("ogrn",), _("'{value}' has a wrong check digit, so it is not a valid OGRN; copy the "
                             "OGRN again from the organization's registration documents").format(value=ogrn))
        except ValidationError:
            add(("ogrn",), _("'{value}' is not the OGRN of an organization (it starts with 1 or 5); "
                             "copy the OGRN again from the organization's registration "
                             "documents").format(value=ogrn))

    tz = text_at(("timezone",))
    if tz is not None:
        if tz.strip() in _time_zones():
            values[("timezone",)] = tz.strip()
        else:
            guess = difflib.get_close_matches(tz.strip(), sorted(_time_zones()), n=1, cutoff=0.75)
            if guess:
                add(("timezone",), _("'{value}' is not a known time zone; did you mean {guess}? Write an "
                                     "IANA time zone name such as Europe/Moscow").format(
                    value=_show(tz), guess=guess[0]))
            else:
                add(("timezone",), _("'{value}' is not a known time zone; write an IANA time zone name "
                                     "such as Europe/Moscow, Asia/Yekaterinburg or "
                                     "Asia/Vladivostok").format(value=_show(tz)))

    for person in ("administrator", "head"):
        phone = text_at((person, "phone"))
        if phone is not None:
            normalized, message = _check_phone(phone)
            if message:
                add((person, "phone"), message)
            else:
                values[(person, "phone")] = normalized
        email = text_at((person, "email"))
        if email is not None:
            try:
                values[(person, "email")] = email_validator.validate_email(
                    email.strip(), check_deliverability=False).normalized
            except email_validator.EmailNotValidError:
                add((person, "email"), _("'{value}' is not a valid e-mail address; write it in full, "
                                         "like name@example.org").format(value=_show(email)))

    slug = text_at(("slug",))
    if slug is not None:
        values[("slug",)] = slug
    elif isinstance(data.get("short_name"), str) and ok(("short_name",)) and data.get("slug") is None:
        derived = slugify(data["short_name"])
        if re.fullmatch(SLUG_PATTERN, derived):
            values[("slug",)] = derived
        else:
            add(("slug",), _("no slug can be made from the short name '{value}'; add slug: with 2 to 32 "
                             "Latin lowercase letters, digits and hyphens, e.g. "
                             "school-7").format(value=_show(data["short_name"])))

    settings = data.get("settings")
    if isinstance(settings, Mapping) and ok(("settings",)):
        for path, value in _walk(settings, ("settings",)):
            if isinstance(value, float) and not math.isfinite(value) and ok(path):
                add(path, _("'{value}' is not a number that can be stored; write an ordinary number "
                            "such as 1 or 0.5").format(value=value))


def _check_phone(text: str) -> tuple[str | None, str | None]:
    """(E.164 number, None) for a mobile number, else (None, message)."""
    try:
        number = phonenumbers.parse(text, "RU")
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        return None, _("'{value}' is not a valid mobile phone number; write it in international form, "
                       "e.g. {example}").format(value=_show(text), example=_PHONE_EXAMPLE)
    if phonenumbers.number_type(number) not in _MOBILE_TYPES:
        return None, _("'{value}' is not a mobile phone number (it looks like a landline); write a mobile "
                       "number in international form, e.g. {example}").format(value=_show(text),
                                                                              example=_PHONE_EXAMPLE)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), None


@functools.cache
def _time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def _walk(node: Any, path: _Path) -> Iterator[tuple[_Path, Any]]:
    if isinstance(node, Mapping):
        for key, value in node.items():
            yield from _walk(value, path + (str(key),))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _walk(value, path + (i,))
    else:
        yield path, node


def _sorted_json(node: Any) -> Any:
    if isinstance(node, Mapping):
        return {str(k): _sorted_json(node[k]) for k in sorted(node, key=str)}
    if isinstance(node, list):
        return [_sorted_json(v) for v in node]
    return node


# --------------------------------------------------------------------------- schema errors


def _schema_problems(data: object, schema: dict) -> Iterator[tuple[_Path, str]]:
    """(path, message) for each schema error, in Parta's words."""
    validator = jsonschema.Draft202012Validator(schema)
    for error in validator.iter_errors(data):
        yield from _translate(error)


def _translate(error: jsonschema.ValidationError) -> Iterator[tuple[_Path, str]]:
    path: _Path = tuple(error.absolute_path)
    kind = error.validator
    instance = error.instance
    expected = error.validator_value
    name = _field_name(path)

    if "propertyNames" in error.relative_schema_path:
        yield path + (str(instance),), _(
            "'{value}' is not a valid setting name; use lowercase Latin letters, digits and "
            "underscores, e.g. students_may_message_classmates").format(value=_show(str(instance)))
    elif kind == "required":
        for missing in expected:
            if isinstance(instance, Mapping) and missing not in instance:
                yield path + (missing,), _("this required field is missing; add {field}: {hint}").format(
                    field=missing, hint=_hint(missing))
    elif kind == "additionalProperties" and expected is False:
        allowed = list(error.schema.get("properties", {}))
        for extra in instance:
            if extra in allowed:
                continue
            guess = difflib.get_close_matches(str(extra), allowed, n=1, cutoff=0.6)
            if guess:
                message = _("unknown field; did you mean {guess}? Fields allowed here: {allowed}")
            else:
                message = _("unknown field; remove it or check its spelling. Fields allowed here: {allowed}")
            yield path + (str(extra),), message.format(guess=guess[0] if guess else "", allowed=", ".join(allowed))
    elif kind == "type":
        yield path, _type_message(path, name, instance, expected)
    elif kind == "enum":
        if name == "kind":
            yield path, _("'{value}' is not a kind of organization; write one of: general (general "
                          "school), spo (college, SPO), additional (supplementary education)").format(
                value=_show(instance))
        else:
            yield path, _("'{value}' is not allowed here; write one of: {choices}").format(
                value=_show(instance), choices=", ".join(str(c) for c in expected))
    elif kind == "pattern":
        yield path, _pattern_message(name, instance, expected)
    elif kind == "minLength":
        if not str(instance).strip():
            yield path, _empty_message(name)
        else:
            yield path, ngettext(
                "'{value}' is too short; write at least {limit} character",
                "'{value}' is too short; write at least {limit} characters",
                expected).format(value=_show(instance), limit=expected)
    elif kind == "maxLength":
        yield path, ngettext(
            "is too long ({length} characters); shorten it to at most {limit} character",
            "is too long ({length} characters); shorten it to at most {limit} characters",
            expected).format(length=len(instance), limit=expected)
    else:
        yield path, _("does not fit the application format ({detail}); see the example that "
                      "`parta org example` prints").format(detail=error.message)


def _type_message(path: _Path, name: str, instance: Any, expected: Any) -> str:
    wanted = [expected] if isinstance(expected, str) else list(expected)
    actual = _type_name(instance)
    if not path:
        return _("the application must be a mapping of fields (field: value), not {actual}; see the example that "
                 "`parta org example` prints").format(actual=actual)
    if "object" in wanted and len(wanted) <= 2:
        if instance is None:
            return _empty_message(name)
        return _("must be a group of fields, not {actual}; write its fields on the lines below "
                 "{field}:, indented").format(actual=actual, field=name)
    if "string" in wanted and len(wanted) <= 2:
        if instance is None:
            return _empty_message(name)
        if isinstance(instance, (int, float)) and not isinstance(instance, bool):
            if name == "phone":
                return _("is a number, but a phone number must be text; put it in quotes with the plus "
                         "sign, e.g. phone: \"{example}\"").format(example=_PHONE_EXAMPLE)
            if name in _QUOTABLE:
                return _("is a number, but text is expected; put the value in quotes, e.g. "
                         "{field}: \"{value}\"").format(field=name, value=instance)
        if isinstance(instance, (datetime.date, datetime.time)):
            return _("is a date, but text is expected; put the value in quotes, e.g. "
                     "{field}: \"{value}\"").format(field=name, value=instance.isoformat())
        if name in _FIELD_HINTS:
            return _("must be text, not {actual}; write {hint}").format(actual=actual, hint=_hint(name))
        return _("must be text, not {actual}; put the value in quotes").format(actual=actual)
    if isinstance(instance, (datetime.date, datetime.time)):
        return _("is a date, which a setting cannot hold; put it in quotes, e.g. "
                 "\"{value}\"").format(value=instance.isoformat())
    return _("{actual} cannot be used here; write {expected}").format(
        actual=actual, expected=", ".join(_type_label(t) for t in wanted))


def _pattern_message(name: str, instance: str, pattern: str) -> str:
    if pattern == r"\S":
        return _empty_message(name)
    if name == "slug":
        return _("'{value}' is not a valid slug; use 2 to 32 Latin lowercase letters, digits and hyphens, "
                 "not starting or ending with a hyphen, e.g. school-7").format(value=_show(instance))
    if name == "inn":
        return _("'{value}' is not an organization's INN; it must be exactly 10 digits, with no spaces or "
                 "other characters").format(value=_show(instance))
    if name == "ogrn":
        return _("'{value}' is not an OGRN; it must be exactly 13 digits, with no spaces or other "
                 "characters").format(value=_show(instance))
    return _("'{value}' does not have the expected form ({pattern}); correct it").format(
        value=_show(instance), pattern=pattern)


def _empty_message(name: str) -> str:
    if name in _FIELD_HINTS:
        return _("is empty; fill it in: {hint}").format(hint=_hint(name))
    return _("is empty; fill it in or remove the line")


def _hint(name: str) -> str:
    return _(_FIELD_HINTS[name]) if name in _FIELD_HINTS else name


def _type_name(value: Any) -> str:
    """What the value is, in words ("a number", "a list"...)."""
    if value is None:
        return _("an empty value")
    if isinstance(value, bool):
        return _("true/false")
    if isinstance(value, (int, float)):
        return _("a number")
    if isinstance(value, str):
        return _("text")
    if isinstance(value, list):
        return _("a list")
    if isinstance(value, Mapping):
        return _("a group of fields")
    if isinstance(value, (datetime.date, datetime.time)):
        return _("a date")
    return type(value).__name__


def _type_label(json_type: str) -> str:
    labels = {
        "string": N_("text"),
        "number": N_("a number"),
        "integer": N_("a whole number"),
        "boolean": N_("true/false"),
        "null": N_("an empty value"),
        "array": N_("a list"),
        "object": N_("a group of fields"),
    }
    return _(labels[json_type]) if json_type in labels else json_type


def _field_name(path: _Path) -> str:
    """The schema field a path ends at ("" for the root or inside settings)."""
    if not path or path[0] == "settings" and len(path) > 1:
        return ""
    return str(path[-1])


def _show(value: Any, limit: int = 60) -> str:
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _format_path(path: _Path) -> str:
    out = ""
    for key in path:
        if isinstance(key, int):
            out += f"[{key}]"
        else:
            out += ("." if out else "") + str(key)
    return out


def _field_order(schema: dict) -> dict[_Path, int]:
    """Position of every schema property in document order, for sorting problems."""
    order: dict[_Path, int] = {}

    def visit(node: Mapping, prefix: _Path) -> None:
        for key, sub in node.get("properties", {}).items():
            order[prefix + (key,)] = len(order)
            if isinstance(sub, Mapping):
                visit(sub, prefix + (key,))

    visit(schema, ())
    return order


def _rank(path: _Path, order: dict[_Path, int]) -> tuple:
    return tuple((order.get(path[: i + 1], len(order)), str(path[i])) for i in range(len(path)))

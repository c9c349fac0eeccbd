"""Organization applications: policies.application (pure) and spaces_provisioner.cli.application_file (I/O)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import jsonschema
import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_file

from policies import i18n
from policies.application import (
    EXAMPLE_PATH,
    SLUG_PATTERN,
    Application,
    ApplicationError,
    ApplicationProblem,
    load_schema,
    parse_application,
    slugify,
)
from policies.model import OrgKind

from spaces_provisioner.cli.application_file import load_application_file, read_application_data
from spaces_provisioner.cli.demo import DEMO_DATA

REPO = Path(__file__).resolve().parents[3]
EXAMPLE = EXAMPLE_PATH
SCHOOL_B = DEMO_DATA / "school-b.yaml"



@pytest.fixture(scope="module")
def schema() -> dict:
    return load_schema()


@pytest.fixture()
def example_data() -> dict:
    return read_application_data(EXAMPLE)


def problems_of(data: object, schema: dict) -> list[ApplicationProblem]:
    with pytest.raises(ApplicationError) as caught:
        parse_application(data, schema)
    return caught.value.problems


def file_problems(path: Path) -> list[ApplicationProblem]:
    with pytest.raises(ApplicationError) as caught:
        load_application_file(path)
    return caught.value.problems


# --------------------------------------------------------------------------- good files


def test_example_school_a_parses():
    app = load_application_file(EXAMPLE)
    assert isinstance(app, Application)
    assert app.short_name == "Школа № 7"
    assert app.slug == "school-7"
    assert app.kind is OrgKind.GENERAL
    assert app.timezone == "Europe/Moscow"
    assert app.inn == "0000013666" and app.ogrn == "1020000250038"
    assert app.administrator.phone == "+79000000001"
    assert app.administrator.email.endswith("@example.org")
    assert app.administrator.name.middle_name
    assert app.head is not None and app.head.phone == "+79000000002"
    assert app.settings["students_may_message_classmates"] is True
    assert app.settings["language"] == "ru"


def test_demo_school_b_parses_with_derived_slug():
    app = load_application_file(SCHOOL_B)
    assert app.kind is OrgKind.ADDITIONAL
    assert app.slug == "raduga"
    assert app.inn is None and app.ogrn is None and app.head is None
    assert app.settings == {}
    assert app.timezone == "Asia/Yekaterinburg"


def test_to_json_is_itself_a_valid_application(schema):
    for path in (EXAMPLE, SCHOOL_B):
        app = load_application_file(path)
        again = parse_application(app.to_json(), schema)
        assert again == app
        assert again.fingerprint() == app.fingerprint()
        json.dumps(app.to_json())  # JSON-serializable


def test_to_json_key_order_is_fixed():
    app = load_application_file(EXAMPLE)
    assert list(app.to_json()) == ["full_name", "short_name", "slug", "kind", "region", "timezone", "inn",
                                   "ogrn", "administrator", "head", "settings"]
    assert list(app.to_json()["settings"]) == sorted(app.settings)


def test_values_are_normalized(schema, example_data):
    example_data["administrator"]["phone"] = "8 (900) 000-00-01"
    example_data["administrator"]["email"] = "E.Sokolova@EXAMPLE.ORG"
    example_data["short_name"] = "  Школа   № 7 "
    app = parse_application(example_data, schema)
    assert app.administrator.phone == "+79000000001"
    assert app.administrator.email == "E.Sokolova@example.org"
    assert app.short_name == "Школа № 7"


def test_null_optional_fields_mean_absent(schema, example_data):
    for key in ("inn", "ogrn", "head", "settings", "slug"):
        example_data[key] = None
    app = parse_application(example_data, schema)
    assert (app.inn, app.ogrn, app.head, app.settings) == (None, None, None, {})
    assert app.slug == "shkola-7"


# --------------------------------------------------------------------------- one problem each


def _set(data: dict, dotted: str, value) -> None:
    *parents, last = dotted.split(".")
    for key in parents:
        data = data[key]
    if value is _DELETE:
        del data[last]
    else:
        data[last] = value


_DELETE = object()

BAD_CASES = [
    # (field to change, new value, problem path, fragment of the Russian message)
    ("administrator", _DELETE, "administrator", "обязательное поле не заполнено; добавьте administrator"),
    ("administrator.email", _DELETE, "administrator.email", "обязательное поле"),
    ("kind", "school", "kind", "«school» — неизвестный тип организации; укажите одно из: general"),
    ("inn", "0000013667", "inn", "неверная контрольная цифра, это не действительный ИНН"),
    ("ogrn", "1020000250039", "ogrn", "неверная контрольная цифра, это не действительный ОГРН"),
    ("inn", "00000136", "inn", "ровно из 10 цифр"),
    ("ogrn", "0020000250038", "ogrn", "начинается с 1 или 5"),
    ("administrator.phone", "8 900 123", "administrator.phone",
     "«8 900 123» — недействительный номер мобильного телефона; напишите его в международном виде, "
     "например +7 900 123-45-67"),
    ("head.phone", "+7 495 000-00-00", "head.phone", "не мобильный номер"),
    ("administrator.phone", 79000000001, "administrator.phone", "в кавычки вместе со знаком плюс"),
    ("administrator.email", "e.sokolova@example", "administrator.email",
     "недействительный адрес электронной почты"),
    ("timezone", "Europe/Moskow", "timezone", "имелся в виду Europe/Moscow"),
    ("timezone", "Moscow time", "timezone", "неизвестный часовой пояс"),
    ("colour", "red", "colour", "неизвестное поле"),
    ("administrator.emial", "x@example.org", "administrator.emial", "имелось в виду email"),
    ("region", 16, "region", 'заключите значение в кавычки, например region: "16"'),
    ("inn", 123456789, "inn", "заключите значение в кавычки"),
    ("administrator", "Соколова Елена", "administrator", "нужна группа полей, а указано: текст"),
    ("kind", 1, "kind", "нужен текст, а указано: число"),
    ("full_name", "", "full_name", "поле пустое"),
    ("administrator.family_name", "   ", "administrator.family_name", "поле пустое; заполните его: фамилия"),
    ("region", None, "region", "поле пустое"),
    ("short_name", "Ш" * 101, "short_name", "сократите до 100 символов"),
    ("slug", "School_7", "slug", "недопустимый идентификатор"),
    ("slug", "-school", "slug", "не начиная и не заканчивая дефисом"),
    ("settings.Students may", True, "settings.Students may", "недопустимое имя настройки"),
    ("settings.ratio", float("nan"), "settings.ratio", "обычное число"),
]


@pytest.mark.parametrize(("field", "value", "path", "fragment"), BAD_CASES,
                         ids=[f"{c[0]}={c[1]!r}"[:60] for c in BAD_CASES])
def test_bad_field_gives_one_clear_problem(schema, example_data, field, value, path, fragment):
    _set(example_data, field, value)
    problems = problems_of(example_data, schema)
    assert [p.path for p in problems] == [path], problems
    assert fragment in problems[0].message
    assert str(problems[0]) == f"{path}: {problems[0].message}"


def test_slug_that_cannot_be_derived(schema, example_data):
    del example_data["slug"]
    example_data["short_name"] = "№ 7"
    problems = problems_of(example_data, schema)
    assert [p.path for p in problems] == ["slug"]
    assert "добавьте поле slug" in problems[0].message


def test_not_a_mapping(schema):
    problems = problems_of(["full_name"], schema)
    assert [p.path for p in problems] == [""]
    assert "набором полей" in str(problems[0])


def test_several_problems_are_all_reported_at_once(schema, example_data):
    example_data["kind"] = "school"
    example_data["inn"] = "0000013667"
    example_data["timezone"] = "Europe/Moskow"
    example_data["administrator"]["phone"] = "12345"
    example_data["administrator"]["email"] = "not-an-address"
    del example_data["region"]
    example_data["extra"] = 1
    with pytest.raises(ApplicationError) as caught:
        parse_application(example_data, schema)
    paths = [p.path for p in caught.value.problems]
    # In schema order, one per field.
    assert paths == ["kind", "region", "timezone", "inn", "administrator.phone", "administrator.email", "extra"]
    assert str(caught.value).splitlines() == [str(p) for p in caught.value.problems]


def test_never_a_partial_result_with_one_problem(schema, example_data):
    example_data["head"]["email"] = "@"
    with pytest.raises(ApplicationError):
        parse_application(example_data, schema)


def test_error_is_a_value_error():
    error = ApplicationError([ApplicationProblem("a.b", "x"), ApplicationProblem("", "whole file")])
    assert isinstance(error, ValueError)
    assert str(error) == "a.b: x\nwhole file"


# --------------------------------------------------------------------------- files


def test_json_input_works_and_matches_yaml(tmp_path, example_data):
    as_json = tmp_path / "school-7.json"
    as_json.write_text(json.dumps(example_data, ensure_ascii=False, indent=1), encoding="utf-8")
    assert load_application_file(as_json) == load_application_file(EXAMPLE)


def test_yml_extension_and_bom(tmp_path):
    copy_ = tmp_path / "school.YML"
    copy_.write_bytes(b"\xef\xbb\xbf" + EXAMPLE.read_bytes())
    assert load_application_file(copy_).slug == "school-7"


def test_broken_yaml_names_the_line(tmp_path):
    lines = EXAMPLE.read_text(encoding="utf-8").splitlines()
    index = next(i for i, line in enumerate(lines) if line.startswith("region:"))
    lines[index] = "region: Республика: Татарстан"
    bad = tmp_path / "bad.yaml"
    bad.write_text("\n".join(lines) + "\n", encoding="utf-8")
    problems = file_problems(bad)
    assert [p.path for p in problems] == [""]
    assert f"bad.yaml, строка {index + 1}, столбец" in problems[0].message
    assert "ошибка синтаксиса YAML" in problems[0].message


def test_duplicate_yaml_key(tmp_path):
    bad = tmp_path / "dup.yaml"
    bad.write_text(EXAMPLE.read_text(encoding="utf-8") + "kind: spo\n", encoding="utf-8")
    problems = file_problems(bad)
    assert "поле kind указано дважды" in problems[0].message


def test_broken_json_names_the_line(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{\n  "full_name": "x",\n  "kind" "general"\n}\n', encoding="utf-8")
    problems = file_problems(bad)
    assert [p.path for p in problems] == [""]
    assert "bad.json, строка 3" in problems[0].message and "JSON" in problems[0].message


def test_duplicate_json_key(tmp_path):
    bad = tmp_path / "dup.json"
    bad.write_text('{"kind": "general", "kind": "spo"}', encoding="utf-8")
    assert "поле kind указано дважды" in file_problems(bad)[0].message


def test_non_utf8_file(tmp_path):
    bad = tmp_path / "cp1251.yaml"
    bad.write_bytes(EXAMPLE.read_text(encoding="utf-8").encode("cp1251", errors="replace"))
    problems = file_problems(bad)
    assert [p.path for p in problems] == [""]
    assert "не в кодировке UTF-8" in problems[0].message
    assert "строка 1" in problems[0].message  # the first comment line already has Cyrillic


@pytest.mark.parametrize(("name", "content", "fragment"), [
    ("list.yaml", "- full_name: x\n", "на верхнем уровне заявка должна быть набором полей"),
    ("scalar.json", '"school"', "на верхнем уровне заявка должна быть набором полей"),
    ("empty.yaml", "# nothing yet\n", "файл пуст"),
    ("empty.json", "  \n", "файл пуст"),
    ("school.txt", "full_name: x\n", "неизвестный тип файла"),
])
def test_unusable_files(tmp_path, name, content, fragment):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    problems = file_problems(path)
    assert [p.path for p in problems] == [""]
    assert fragment in problems[0].message
    assert str(problems[0]) == problems[0].message


def test_unreadable_file(tmp_path):
    problems = file_problems(tmp_path / "missing.yaml")
    assert [p.path for p in problems] == [""]
    assert "missing.yaml: файл не удаётся прочитать" in problems[0].message


# --------------------------------------------------------------------------- fingerprint


def test_fingerprint_is_stable_across_formats_and_spelling(tmp_path, example_data):
    reference = load_application_file(EXAMPLE).fingerprint()
    assert len(reference) == 64 and int(reference, 16) >= 0

    shuffled = dict(reversed(list(example_data.items())))
    shuffled["administrator"] = dict(reversed(list(example_data["administrator"].items())))
    shuffled["administrator"]["phone"] = "8 900 000 00 01"
    as_json = tmp_path / "school-7.json"
    as_json.write_text(json.dumps(shuffled, ensure_ascii=True), encoding="utf-8")
    assert load_application_file(as_json).fingerprint() == reference
    assert load_application_file(EXAMPLE).fingerprint() == reference


@pytest.mark.parametrize(("field", "value"), [
    ("settings.language", "en"),
    ("administrator.phone", "+7 900 000-00-09"),
    ("head", None),
    ("short_name", "Школа № 8"),
])
def test_fingerprint_changes_with_content(schema, example_data, field, value):
    reference = parse_application(copy.deepcopy(example_data), schema).fingerprint()
    _set(example_data, field, value)
    assert parse_application(example_data, schema).fingerprint() != reference


# --------------------------------------------------------------------------- schema


def test_schema_is_valid_draft_2020_12(schema):
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)


def _objects(node: dict, path: str = ""):
    yield path, node
    for key, sub in node.get("properties", {}).items():
        yield from _objects(sub, f"{path}.{key}".lstrip("."))


def test_schema_documents_every_property(schema):
    for path, node in _objects(schema):
        assert node.get("title") and node.get("description") and node.get("$comment"), path
        if "object" in node.get("type", ()) and path != "settings":
            assert node.get("additionalProperties") is False, path


def test_slug_pattern_matches_schema(schema):
    assert schema["properties"]["slug"]["pattern"] == SLUG_PATTERN
    assert set(schema["properties"]["kind"]["enum"]) == {k.value for k in OrgKind}


@pytest.mark.parametrize(("text", "slug"), [
    ("Школа № 7", "shkola-7"),
    ("ЦДО «Радуга»", "tsdo-raduga"),
    ("Гимназия №1 им. Г. Тукая", "gimnaziya-1-im-g-tukaya"),
    ("Мәктәп 5", "maktap-5"),
    ("Лицей «Ёлка»", "litsey-yolka"),
    ("Очень длинное название средней общеобразовательной школы", "ochen-dlinnoye-nazvaniye-sredney"),
    ("№", ""),
])
def test_slugify(text, slug):
    assert slugify(text) == slug
    assert len(slugify(text)) <= 32


# --------------------------------------------------------------------------- language


def test_russian_by_default_english_on_request(schema, example_data):
    example_data["administrator"]["phone"] = "8 900 123"
    assert "недействительный номер мобильного телефона" in problems_of(example_data, schema)[0].message
    i18n.set_language("en")
    try:
        message = problems_of(example_data, schema)[0].message
    finally:
        i18n.set_language(None)
    assert message == ("'8 900 123' is not a valid mobile phone number; write it in international form, "
                       "e.g. +7 900 123-45-67")
    assert "недействительный" in problems_of(example_data, schema)[0].message


def test_file_problems_in_english(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("full_name: [x\nkind: general\n", encoding="utf-8")
    i18n.set_language("en")
    try:
        message = file_problems(bad)[0].message
    finally:
        i18n.set_language(None)
    assert message.startswith("bad.yaml, line 2, column ") and "not valid YAML" in message


def test_every_message_has_a_russian_translation():
    keywords = dict(DEFAULT_KEYWORDS, N_=None)
    catalog = i18n.translations("ru")
    missing, seen = [], 0
    for source in ("policies/application.py", "spaces_provisioner/cli/application_file.py"):
        for _line, message, _comments, _context in extract_from_file("python", REPO / source, keywords=keywords):
            if isinstance(message, tuple):
                translated = catalog.ngettext(message[0], message[1], 5)
                untranslated = message[1]
            else:
                translated, untranslated = catalog.gettext(message), message
            seen += 1
            if translated == untranslated:
                missing.append(message)
    assert seen > 50
    assert not missing

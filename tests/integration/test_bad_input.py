"""Issue 2: each bad application and roster gives its clear error, and the server holds nothing half-made.

Applications go through the real command line (``parta org apply FILE``, in English and
Russian) and through the provisioning API; rosters through the API and the command line
(``parta roster import``). After every refusal the test looks at the server: the
application is not listed, no class room exists, and the correct input afterwards is
taken as new.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from policies.templates import RoomRef, default_templates

from spaces_provisioner.api.client import ApiError
from spaces_provisioner.roster.source import zip_folder

from ..helpers import EXAMPLE_APPLICATION, REPO
from ..schools import attack_school

pytestmark = pytest.mark.synapse
T = default_templates()
#: The classes of the generated roster the roster cases start from (tests.schools.attack_school).
CLASSES = tuple(c.source_id for c in attack_school().classes)


# --------------------------------------------------------------------------- helpers


class Cli:
    """``python -m spaces_provisioner.cli ARGS`` with ``PARTA_LANG=lang``, started now, read by :meth:`result`.

    Started in the background so that several commands (and the test's own requests)
    overlap; the output is small, so the pipes never fill.
    """

    def __init__(self, *args: str, lang: str = "en"):
        env = {**os.environ, "PARTA_LANG": lang}
        self.process = subprocess.Popen([sys.executable, "-m", "spaces_provisioner.cli", *args], env=env,
                                        cwd=REPO, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True)

    def result(self) -> subprocess.CompletedProcess:
        try:
            out, err = self.process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            out, err = self.process.communicate()
        return subprocess.CompletedProcess(self.process.args, self.process.returncode, out, err)


def run_cli(*args: str, lang: str = "en") -> subprocess.CompletedProcess:
    """Run the command line and wait for it (see :class:`Cli`)."""
    return Cli(*args, lang=lang).result()


def example_application():
    """``config/application.example.yaml`` as a ruamel round-trip mapping (comments kept)."""
    return YAML().load(EXAMPLE_APPLICATION.read_text(encoding="utf-8"))


def dump_yaml(data) -> str:
    from io import StringIO

    buf = StringIO()
    y = YAML()
    y.width = 4096
    y.dump(data, buf)
    return buf.getvalue()


def unique_slug(tag: str) -> str:
    return f"bad-{tag}-{uuid.uuid4().hex[:8]}"


async def application_ids(hs) -> set[str]:
    return {a["id"] for a in (await hs.api.list_applications())["applications"]}


async def class_rooms(hs, org: str, class_ids=CLASSES) -> dict[str, str | None]:
    """Every class-scoped room of ``org`` for ``class_ids``: ref key → room id (None when absent)."""
    refs = [r for r in T.refs_for_org(org, list(class_ids)) if r.class_id is not None]
    return {r.key: await hs.bot.resolve_alias(f"#{T.alias_localpart(r)}:{hs.server_name}") for r in refs}


def added_classes(result: dict) -> set[str]:
    """The class ids an import reported as added (``class TITLE (ID): added``)."""
    return {cid for cid in CLASSES for line in result["details"] if line.endswith(f"({cid}): added")}


def copy_roster(roster: Path, dest: Path) -> Path:
    shutil.copytree(roster, dest)
    return dest


def drop_column(csv_path: Path, column: str) -> None:
    lines = csv_path.read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    i = header.index(column)
    csv_path.write_text("\n".join(",".join(c for j, c in enumerate(line.split(",")) if j != i)
                                  for line in lines) + "\n", encoding="utf-8")


# --------------------------------------------------------------------------- applications

# Field mistakes change the example's data (the file is then written as YAML); file mistakes
# turn the example's good YAML text into bad bytes.


def _missing_administrator(data) -> None:
    del data["administrator"]


def _bad_inn(data) -> None:
    data["inn"] = "0000013667"  # the example's INN with another check digit


def _bad_phone(data) -> None:
    data["administrator"]["phone"] = "+7 12-34"


def _unknown_field(data) -> None:
    data["colour"] = "blue"


def _broken_yaml(text: str) -> bytes:
    return text.replace("kind: general", "kind: general: secondary").encode("utf-8")


def _not_utf8(text: str) -> bytes:
    return text.encode("cp1251")


def _first_non_ascii_line(path: Path) -> int:
    raw = path.read_bytes()
    first = next(i for i, b in enumerate(raw) if b > 127)
    return raw[:first].count(b"\n") + 1


def _broken_yaml_line(path: Path) -> int:
    lines = path.read_text(encoding="utf-8").splitlines()
    return next(i for i, line in enumerate(lines, 1) if line.startswith("kind: general: "))


FIELD_CASES = {
    # name: (change the data, field path, {lang: words the problem must contain})
    "noadmin": (_missing_administrator, "administrator",
                {"en": "required field is missing", "ru": "обязательное поле не заполнено"}),
    "inn": (_bad_inn, "inn", {"en": "check digit", "ru": "контрольная цифра"}),
    "phone": (_bad_phone, "administrator.phone",
              {"en": "not a valid mobile phone number", "ru": "недействительный номер мобильного телефона"}),
    "unknown": (_unknown_field, "colour", {"en": "unknown field", "ru": "неизвестное поле"}),
}
FILE_CASES = {
    # name: (spoil the text, line of the problem in the file, {lang: words})
    "yaml": (_broken_yaml, _broken_yaml_line, {"en": "not valid YAML", "ru": "ошибка синтаксиса YAML"}),
    "utf8": (_not_utf8, _first_non_ascii_line, {"en": "not in UTF-8", "ru": "не в кодировке UTF-8"}),
}


NOTHING_RECORDED = {"en": "nothing was recorded", "ru": "ничего не записано"}


@pytest.mark.parametrize("case", [*FIELD_CASES, *FILE_CASES])
async def test_bad_application_file_is_refused_by_the_command_line(hs, installation, tmp_path, case):
    runs = {}
    for lang in ("en", "ru"):
        data = example_application()
        slug = data["slug"] = unique_slug(case)
        path = tmp_path / f"application-{case}-{lang}.yaml"
        if case in FIELD_CASES:
            change, field, words = FIELD_CASES[case]
            change(data)
            path.write_text(dump_yaml(data), encoding="utf-8")
            where = f"{field}: "
        else:
            spoil, line_of, words = FILE_CASES[case]
            path.write_bytes(spoil(dump_yaml(data)))
            where = f"{path.name}, {'line' if lang == 'en' else 'строка'} {line_of(path)}"
        runs[lang] = (slug, path, where, words[lang],
                      Cli("org", "apply", str(path), "-d", str(installation.root), lang=lang))
    listed = None
    for lang, (slug, path, where, words, cli) in runs.items():
        r = cli.result()
        assert r.returncode == 1, (lang, r.stdout, r.stderr)
        header, *problems = [line.strip() for line in r.stderr.splitlines()]
        assert header.startswith(f"{path}: ") and NOTHING_RECORDED[lang] in header, (lang, r.stderr)
        assert any(p.startswith(where) and words in p for p in problems), (lang, where, r.stderr)
        listed = listed or await application_ids(hs)
        assert slug not in listed


@pytest.mark.parametrize("case", list(FIELD_CASES))
async def test_bad_application_is_refused_by_the_api(hs, case):
    change, field, _words = FIELD_CASES[case]
    data = example_application()
    slug = data["slug"] = unique_slug(case)
    change(data)
    with pytest.raises(ApiError) as e:
        await hs.api.apply_application(YAML(typ="safe").load(dump_yaml(data)))
    assert e.value.status == 400 and e.value.errcode == "PARTA_INVALID_APPLICATION", e.value
    assert e.value.error
    assert any(d.startswith(f"{field}: ") for d in e.value.details), e.value.details
    assert slug not in await application_ids(hs)


async def test_api_reports_every_mistake_at_once(hs):
    data = YAML(typ="safe").load(EXAMPLE_APPLICATION.read_text(encoding="utf-8"))
    slug = data["slug"] = unique_slug("many")
    data["inn"] = "0000013667"
    data["administrator"]["phone"] = "+7 12-34"
    del data["administrator"]["email"]
    with pytest.raises(ApiError) as e:
        await hs.api.apply_application(data)
    assert e.value.status == 400 and e.value.errcode == "PARTA_INVALID_APPLICATION"
    paths = {d.split(": ", 1)[0] for d in e.value.details}
    assert {"inn", "administrator.phone", "administrator.email"} <= paths, e.value.details
    assert slug not in await application_ids(hs)


@pytest.mark.parametrize("body", [b"full_name: [unclosed", "заявка".encode("cp1251")], ids=["not-json", "not-utf8"])
async def test_api_refuses_a_body_that_is_not_json(hs, body):
    before = await application_ids(hs)
    with pytest.raises(ApiError) as e:
        await hs.api.call("POST", "/applications", data=body)
    assert e.value.status == 400 and e.value.errcode == "M_NOT_JSON", e.value
    assert await application_ids(hs) == before


async def test_fixed_application_is_accepted_after_a_refusal(hs, installation, tmp_path):
    data = example_application()
    slug = data["slug"] = unique_slug("fixed")
    path = tmp_path / "application.yaml"
    _bad_phone(data)
    path.write_text(dump_yaml(data), encoding="utf-8")
    refused = run_cli("org", "apply", str(path), "-d", str(installation.root))
    assert refused.returncode == 1 and "administrator.phone: " in refused.stderr
    assert slug not in await application_ids(hs)
    data["administrator"]["phone"] = "+7 900 000-00-01"
    path.write_text(dump_yaml(data), encoding="utf-8")
    accepted = run_cli("org", "apply", str(path), "-d", str(installation.root))
    assert accepted.returncode == 0, accepted.stderr
    assert f"{slug}: pending" in accepted.stdout
    listed = {a["id"]: a["status"] for a in (await hs.api.list_applications())["applications"]}
    assert listed[slug] == "pending"


# --------------------------------------------------------------------------- rosters

def _no_users(root: Path) -> tuple[Path, str]:
    (root / "users.csv").unlink()
    return root, "users.csv: "


def _no_required_column(root: Path) -> tuple[Path, str]:
    drop_column(root / "enrollments.csv", "role")
    return root, "enrollments.csv:1: "


def _cp1251_users(root: Path) -> tuple[Path, str]:
    users = root / "users.csv"  # Russian names: line 2 is the first with a letter cp1251 spells otherwise
    users.write_bytes(users.read_text(encoding="utf-8").encode("cp1251"))
    return root, "users.csv:2: "


def _empty_classes(root: Path) -> tuple[Path, str]:
    (root / "classes.csv").write_bytes(b"")
    return root, "classes.csv: "


def _not_a_zip(root: Path) -> tuple[Path, str]:
    archive = root.parent / "roster.zip"
    archive.write_bytes(b"not a zip")
    return archive, "roster.zip: "


ROSTER_CASES = {  # case: (make the bad roster, language of the command line)
    "no-users-csv": (_no_users, "en"),
    "no-required-column": (_no_required_column, "ru"),
    "cp1251-users-csv": (_cp1251_users, "en"),
    "empty-classes-csv": (_empty_classes, "ru"),
    "not-a-zip": (_not_a_zip, "en"),
}
NOTHING_WRITTEN = {"en": "nothing was written", "ru": "ничего не записано"}


@pytest.mark.parametrize("case", list(ROSTER_CASES))
async def test_bad_roster_is_refused_and_nothing_is_written(hs, installation, school_roster, tmp_path, case):
    make, lang = ROSTER_CASES[case]
    path, where = make(copy_roster(school_roster, tmp_path / "roster"))
    school = await hs.new_school()
    org = school["org"]
    # the command line checks the roster on the operator's disk before it sends anything
    cli = Cli("roster", "import", "--org", org, str(path), "-d", str(installation.root), lang=lang)

    data = path.read_bytes() if path.is_file() else zip_folder(path)
    with pytest.raises(ApiError) as e:
        await hs.api.import_roster(org, data)
    assert e.value.status == 400 and e.value.errcode == "PARTA_INVALID_ROSTER", e.value
    assert e.value.error.startswith(where), e.value.error

    r = cli.result()
    assert r.returncode == 1, (r.stdout, r.stderr)
    header, *rest = [line.strip() for line in r.stderr.splitlines()]
    assert NOTHING_WRITTEN[lang] in header, r.stderr
    assert any(line.startswith(where) for line in rest), r.stderr

    # nothing half-made: no class room exists ...
    assert set((await class_rooms(hs, org)).values()) == {None}
    # ... and re-running the import with the file fixed takes both classes as new
    fixed = copy_roster(school_roster, tmp_path / "fixed")
    result = await hs.api.import_roster(org, zip_folder(fixed))
    assert added_classes(result) == set(CLASSES), result["details"]
    assert result["problems"] == []
    assert None not in (await class_rooms(hs, org)).values()
    if case == "no-required-column":  # re-running is always safe: once more changes nothing
        again = await hs.api.import_roster(org, zip_folder(fixed))
        assert again["changes"] == 0, again["details"]


async def test_bad_rows_are_reported_and_the_rest_is_imported(hs, school_roster, tmp_path):
    root = copy_roster(school_roster, tmp_path / "roster")
    enrollments = root / "enrollments.csv"
    text = enrollments.read_text(encoding="utf-8")
    text = text if text.endswith("\n") else text + "\n"
    bad_line = text.count("\n") + 1
    enrollments.write_text(text + "enr-bad,,,999999,org-1,pupil-0001,student,false,,\n", encoding="utf-8")

    school = await hs.new_school(roster=root)
    result = school["roster"]
    assert result["format"] == "oneroster-1.2"
    bad = [p for p in result["problems"] if p.startswith(f"enrollments.csv:{bad_line}: ")]
    assert len(bad) == 1 and "999999" in bad[0], result["problems"]
    assert added_classes(result) == set(CLASSES), result["details"]
    assert None not in (await class_rooms(hs, school["org"])).values()
    ghost = RoomRef(school["org"], "class_space", "999999")
    assert await hs.bot.resolve_alias(f"#{T.alias_localpart(ghost)}:{hs.server_name}") is None


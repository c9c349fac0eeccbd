"""Issue 9: the plain class list a school keeps in Excel imports through the command line and the
API like any roster: the pupils and their parents get their class's rooms, a bad row is reported
as ``file:line:column`` without blocking the others, and a later list moves a pupil."""

from __future__ import annotations

import io
import json

import openpyxl
import pytest

from policies.templates import RoomRef

from spaces_provisioner.roster.source import zip_folder

from ..helpers import User, rooms_of
from .test_bad_input import Cli

pytestmark = pytest.mark.synapse
V = "/_matrix/client/v3"

LIST_5A = """Список учащихся 5 «А» класса;;;;;
Классный руководитель: Белова Анна Сергеевна;;;;;
№;Фамилия;Имя;Отчество;ФИО родителя;Кем приходится
1;Алексеев;Матвей;Игоревич;Алексеева Ольга Викторовна;мать
2;Борисова;Ева;Дмитриевна;Борисова Наталья Андреевна;мать
3;Васильев;;;;
"""


async def joined(u: User) -> set[str]:
    return set((await u.get(f"{V}/joined_rooms"))["joined_rooms"])


def person_id(people: dict, family: str, given: str) -> str:
    return next(p["person_id"] for p in people["people"] if p["name"].startswith(f"{family} {given}"))


async def test_cp1251_class_list_through_the_command_line(hs, installation, tmp_path):
    school = await hs.new_school()
    org = school["org"]
    path = tmp_path / "5А.csv"
    path.write_bytes(LIST_5A.replace("\n", "\r\n").encode("cp1251"))

    dry = Cli("roster", "import", "--org", org, str(path), "--dry-run", "--json", "-d", str(installation.root))
    r = dry.result()
    assert r.returncode == 0, (r.stdout, r.stderr)
    answer = json.loads(r.stdout)
    assert answer["format"] == "class-list" and answer["dry_run"] is True
    assert answer["summary"]["people_added"] == 5, answer["summary"]   # 2 pupils, 2 parents, the class teacher
    assert answer["problems"] == ["5А.csv:6:Имя: the name must have at least a family name and a given name"]
    assert (await hs.api.people(org))["people"] == [] or all(
        p["person_id"].startswith("application:") for p in (await hs.api.people(org))["people"])

    r = Cli("roster", "import", "--org", org, str(path), "-d", str(installation.root), lang="ru").result()
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert "5А.csv:6:Имя: в имени должны быть хотя бы фамилия и имя" in r.stdout, r.stdout

    people = await hs.api.people(org)
    pupil = await hs.person(org, person_id(people, "Алексеев", "Матвей"))
    parent = await hs.person(org, person_id(people, "Алексеева", "Ольга"))
    teacher = await hs.person(org, person_id(people, "Белова", "Анна"), confirmed=True)
    rooms = await rooms_of(hs, org, {"chat": RoomRef(org, "class_chat", "class-05a"),
                                     "parents": RoomRef(org, "class_parents", "class-05a")})
    assert rooms["chat"] in await joined(pupil)
    assert rooms["parents"] in await joined(parent)
    assert {rooms["chat"], rooms["parents"]} <= await joined(teacher)

    # the same list again, now as UTF-8 with ',' : nothing changes
    again = tmp_path / "again" / "5А.csv"
    again.parent.mkdir()
    again.write_text(LIST_5A.replace(";", ","), encoding="utf-8-sig")
    assert (await hs.api.import_roster(org, zip_folder(again)))["summary"]["people_added"] == 0


async def test_xlsx_workbook_moves_a_pupil(hs, tmp_path):
    school = await hs.new_school()
    org = school["org"]

    def workbook(classes: dict[str, list[str]]) -> bytes:
        book = openpyxl.Workbook()
        book.remove(book.active)
        for title, pupils in classes.items():
            ws = book.create_sheet(title)
            ws.append(["№", "ФИО", "ФИО родителя"])
            for n, fio in enumerate(pupils, 1):
                ws.append([n, fio, "Родителева " + fio.split()[1] + " Ивановна"])
        buf = io.BytesIO()
        book.save(buf)
        return buf.getvalue()

    first = tmp_path / "first" / "school.xlsx"
    first.parent.mkdir()
    first.write_bytes(workbook({"5А": ["Орлов Олег", "Белова Дарья"], "5Б": ["Волков Иван"]}))
    done = await hs.api.import_roster(org, zip_folder(first))
    assert done["format"] == "class-list" and not done["problems"], done
    people = await hs.api.people(org)
    orlov = await hs.person(org, person_id(people, "Орлов", "Олег"))
    rooms = await rooms_of(hs, org, {"5a": RoomRef(org, "class_chat", "class-05a"),
                                     "5b": RoomRef(org, "class_chat", "class-05b")})
    assert rooms["5a"] in await joined(orlov)

    later = tmp_path / "later" / "school.xlsx"
    later.parent.mkdir()
    later.write_bytes(workbook({"5А": ["Белова Дарья"], "5Б": ["Волков Иван", "Орлов Олег"]}))
    moved = await hs.api.import_roster(org, zip_folder(later))
    assert moved["moves"] == 1, moved
    mine = await joined(orlov)
    assert rooms["5b"] in mine and rooms["5a"] not in mine

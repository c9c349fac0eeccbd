"""The plain class list: cp1251 and UTF-8 CSV, separators, title rows, ФИО in one or three columns,
class spellings, a row per guardian, repeated headers, totals, XLSX with a sheet per class, bad rows."""

from __future__ import annotations

import io
from pathlib import Path

import openpyxl
import pytest

from policies.i18n import set_language
from policies.model import Role

from spaces_provisioner.roster import CLASS_LIST, RosterError, load_roster
from spaces_provisioner.roster.class_list import class_id, column_kind, parse_class, relation_of

REPO = Path(__file__).resolve().parents[4]


def write(tmp_path: Path, name: str, text: str, encoding: str = "utf-8", bom: bool = False) -> Path:
    path = tmp_path / name
    data = text.replace("\n", "\r\n").encode(encoding)
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + data)
    return path


def names(roster, role: Role) -> list[str]:
    return sorted(f"{p.name.family_name} {p.name.given_name}" for p in roster.people.values() if p.role is role)


A5 = """Список учащихся 5 «А» класса
Классный руководитель: Смирнова Ольга Петровна

№;Фамилия;Имя;Отчество;ФИО родителя;Кем приходится;Телефон
1;Иванов;Пётр;Сергеевич;Иванова Анна Викторовна;мать;+7 900 000-00-01
;;;;Иванов Сергей Павлович;отец;
2;Петрова;Мария;;Петров Олег Игоревич;опекун;
№;Фамилия;Имя;Отчество;ФИО родителя;Кем приходится;Телефон
3;Сидоров;;;;;
4;Кузнецова;Алиса;Андреевна;;;
Итого: 4;;;;;;
"""


@pytest.mark.parametrize("encoding,bom", [("cp1251", False), ("utf-8", False), ("utf-8", True)])
def test_title_rows_homeroom_guardians_and_bad_rows(tmp_path, encoding, bom):
    r = load_roster(write(tmp_path, "list.csv", A5, encoding, bom))
    assert r.format == CLASS_LIST
    assert {c.source_id: c.title for c in r.classes.values()} == {"class-05a": "5А"}
    assert names(r, Role.STUDENT) == ["Иванов Пётр", "Кузнецова Алиса", "Петрова Мария"]
    assert names(r, Role.TEACHER) == ["Смирнова Ольга"]
    assert names(r, Role.PARENT) == ["Иванов Сергей", "Иванова Анна", "Петров Олег"]
    ivanov = next(p.source_id for p in r.people.values() if p.name.family_name == "Иванов" and p.role is Role.STUDENT)
    assert len([g for g in r.guardianships if g.student_id == ivanov]) == 2
    assert {g.relation for g in r.guardianships} == {"parent", "guardian"}
    teacher = next(e for e in r.enrollments if e.role is Role.TEACHER)
    assert teacher.primary and teacher.class_id == "class-05a"
    # the pupil without a given name is reported with file, line and column; the rest is kept
    assert [str(p) for p in r.problems] == [
        "list.csv:9:Имя: the name must have at least a family name and a given name"]


def test_same_list_gives_the_same_ids(tmp_path):
    a = load_roster(write(tmp_path, "a.csv", A5, "cp1251"))
    b = load_roster(write(tmp_path, "b.csv", A5.replace(";", ","), "utf-8"))
    assert set(a.people) == set(b.people) and set(a.classes) == set(b.classes)


@pytest.mark.parametrize("written", ["5А", "5 А", "5-а", "5«А»", "5a", "5A", "5 \"А\"", "5а"])
def test_class_spellings_are_one_class(written):
    assert parse_class(written) == (5, "А")
    assert class_id(*parse_class(written)) == "class-05a"


def test_class_number_alone_and_out_of_range():
    assert parse_class("10 класс", number_alone=True) == (10, "")
    assert parse_class("13Б") is None
    assert parse_class("нет класса") is None


def test_header_words_in_russian_and_english():
    assert column_kind("Фамилия") == "family" and column_kind("surname") == "family"
    assert column_kind("Last name") == "family" and column_kind("First Name") == "given"
    assert column_kind("Patronymic") == "middle" and column_kind("Отчество") == "middle"
    assert column_kind("ФИО ученика (полностью)") == "fio"
    assert column_kind("Фамилия родителя") == "guardian_family"
    assert column_kind("Класс") == "class" and column_kind("Литера") == "letter"


def test_relation_words():
    assert relation_of("мать") == "parent" and relation_of("Отец") == "parent" and relation_of("") == "parent"
    assert relation_of("опекун") == "guardian" and relation_of("Бабушка") == "relative"


def test_one_fio_column_class_column_tab_separated(tmp_path):
    text = "ФИО\tКласс\tФИО родителя\tE-mail\nАлиев Рустам Ильхам оглы\t7 б\tАлиева Лейла Руслановна\tl@example.org\n" \
           "Белова Дарья Игоревна\t7Б\t\t\nВолков Иван Петрович\t7-в\t\t\n"
    r = load_roster(write(tmp_path, "seventh.csv", text))
    assert {c.title for c in r.classes.values()} == {"7Б", "7В"}
    rustam = next(p for p in r.people.values() if p.name.given_name == "Рустам")
    assert (rustam.name.family_name, rustam.name.middle_name) == ("Алиев", "Ильхам оглы")
    assert len(r.guardianships) == 1 and not r.problems


def test_grade_and_letter_columns_english_header(tmp_path):
    text = "last,first,middle,grade,letter\nIvanova,Anna,,3,б\nPetrov,Pavel,,3,Б\nOrlov,Oleg,,11,\nOrlova,Olga,,4,B\n"
    r = load_roster(write(tmp_path, "pupils.csv", text))
    assert {c.source_id: c.title for c in r.classes.values()} == {"class-03b": "3Б", "class-11": "11",
                                                                   "class-04v": "4В"}


def test_class_from_the_file_name(tmp_path):
    r = load_roster(write(tmp_path, "9В.csv", "Фамилия;Имя\nОрлов;Олег\n"))
    assert {c.title for c in r.classes.values()} == {"9В"}


def test_pupil_without_a_class_is_a_problem_not_a_stop(tmp_path):
    r = load_roster(write(tmp_path, "pupils.csv", "Фамилия;Имя;Класс\nОрлов;Олег;\nБелова;Дарья;2А\n"))
    assert names(r, Role.STUDENT) == ["Белова Дарья"]
    assert str(r.problems[0]).startswith("pupils.csv:2:Класс: no class for this pupil")


def test_namesakes_parents_are_not_merged(tmp_path):
    """Two unrelated parents with the same ФИО stay two people: one must not see the other's child."""
    text = "ФИО;Класс;ФИО родителя\nИванов Пётр;5А;Иванова Анна Викторовна\nСмирнов Олег;6Б;Иванова Анна Викторовна\n"
    r = load_roster(write(tmp_path, "all.csv", text))
    assert len({g.guardian_id for g in r.guardianships}) == 2


def test_siblings_share_their_parent(tmp_path):
    text = ("ФИО;Класс;ФИО родителя;Телефон\nИванов Пётр;5А;Иванова Анна;+7 900 1\n"
            "Иванова Ольга;8А;Иванова Анна;+7 900 1\n")
    r = load_roster(write(tmp_path, "all.csv", text))
    assert len({g.guardian_id for g in r.guardianships}) == 1 and len(r.guardianships) == 2


def test_xlsx_with_a_sheet_per_class(tmp_path):
    book = openpyxl.Workbook()
    ws = book.active
    ws.title = "5А"
    ws.append(["Список класса"])
    ws.append(["№", "ФИО", "Дата рождения"])
    ws.append([1, "Орлов Олег Олегович", None])
    ws.append([2.0, "Белова Дарья", None])
    ws2 = book.create_sheet("6 б")
    ws2.append(["Фамилия", "Имя", "Отчество"])
    ws2.append(["Волков", "Иван", "Петрович"])
    book.create_sheet("Пусто")
    buf = io.BytesIO()
    book.save(buf)
    path = tmp_path / "school.xlsx"
    path.write_bytes(buf.getvalue())
    r = load_roster(path)
    assert {c.title for c in r.classes.values()} == {"5А", "6Б"}
    assert names(r, Role.STUDENT) == ["Белова Дарья", "Волков Иван", "Орлов Олег"]
    assert not r.problems


def test_folder_of_lists(tmp_path):
    write(tmp_path, "5А.csv", "Фамилия;Имя\nОрлов;Олег\n")
    write(tmp_path, "5Б.csv", "Фамилия;Имя\nБелова;Дарья\n", "cp1251")
    r = load_roster(tmp_path)
    assert {c.title for c in r.classes.values()} == {"5А", "5Б"}


def test_a_file_without_a_name_column_stops(tmp_path):
    with pytest.raises(RosterError) as e:
        load_roster(write(tmp_path, "x.csv", "a;b;c\n1;2;3\n"))
    assert e.value.file == "x.csv"
    assert "header row with the pupils' names" in e.value.hint


def test_broken_xlsx_stops_with_a_hint(tmp_path):
    path = tmp_path / "broken.xlsx"
    path.write_bytes(b"not a zip")
    with pytest.raises(RosterError) as e:
        load_roster(path)
    assert "Excel" in e.value.reason


def test_russian_messages(tmp_path):
    set_language("ru")
    r = load_roster(write(tmp_path, "x.csv", "Фамилия;Имя;Класс\nОрлов;;5А\n"))
    assert str(r.problems[0]) == "x.csv:2:Имя: в имени должны быть хотя бы фамилия и имя"


def test_the_shipped_template_imports():
    r = load_roster(REPO / "config" / "class-list.template.csv")
    assert r.classes and r.people and r.guardianships and not r.problems

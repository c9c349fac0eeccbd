"""Messages the bridge posts: a readable text in the school's language and the structured record.

Every message carries the record under ``org.parta.journal.item`` (the record's JSON, see
``bridge.model.Record.to_json``), so that a client or a later bridge can read it without
parsing text. Texts are gettext messages (English ids, Russian in
``policies/locale/ru/LC_MESSAGES/journal.po``); dates through Babel in the reader's locale.
Edits follow the Matrix spec's "Event replacements" (``m.replace`` with ``m.new_content``).
"""

from __future__ import annotations

import html
from datetime import date, datetime
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_time

from policies.i18n import gettext_ as _
from policies.state_events import JOURNAL_ITEM_KEY

from bridge.model import Lesson, LineItem, MissingSummary, Record, Result, TimetableChange

ITEM_KEY = JOURNAL_ITEM_KEY


def day(value: date | datetime | None, lang: str, tz: str = "Europe/Moscow") -> str:
    """A date as people write it ("12 сентября", "September 12"); "" for None."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = value.astimezone(ZoneInfo(tz)).date() if value.tzinfo else value.date()
    return format_date(value, "d MMMM", locale=lang)


def clock(value: datetime | None, lang: str, tz: str = "Europe/Moscow") -> str:
    """A time of day in the school's zone ("08:30")."""
    if value is None:
        return ""
    return format_time(value.astimezone(ZoneInfo(tz)) if value.tzinfo else value, "HH:mm", locale=lang)


def mark(r: Result) -> str:
    """The mark as the journal writes it: the text score, else the score without a needless ".0"."""
    if r.text_score:
        return r.text_score
    if r.score is None:
        return "—"
    return str(int(r.score)) if float(r.score).is_integer() else f"{r.score:g}"


#: Characters of one message's text: an event is at most 64 KiB (spec: "Size limits") and carries
#: the text twice (plain and HTML, escaped) and the record; longer texts are cut with "…".
MAX_TEXT = 6000


def message(lines: list[str], record: Record | None = None, *, notice: bool = False,
            reply_to: str | None = None) -> dict:
    """``m.room.message`` content: the first line bold in the HTML form, the record attached;
    ``reply_to``: the event it answers (``m.in_reply_to``). The text is cut at ``MAX_TEXT``."""
    lines = [ln for ln in lines if ln]
    budget, kept = MAX_TEXT, []
    for ln in lines:
        if budget <= 0:
            break
        kept.append(ln if len(ln) <= budget else ln[:budget] + "…")
        budget -= len(ln) + 1
    lines = kept
    body = "\n".join(lines)
    formatted = "<br>".join([f"<b>{html.escape(lines[0])}</b>"] + [html.escape(ln) for ln in lines[1:]]) \
        if lines else ""
    content: dict = {"msgtype": "m.notice" if notice else "m.text", "body": body,
                     "format": "org.matrix.custom.html", "formatted_body": formatted}
    if record is not None:
        content[ITEM_KEY] = record.to_json()
    if reply_to:
        content["m.relates_to"] = {"m.in_reply_to": {"event_id": reply_to}}
    return content


def edit(original_event_id: str, new_content: dict) -> dict:
    """An edit of ``original_event_id`` to ``new_content`` (spec: "Event replacements")."""
    body = {k: v for k, v in new_content.items()}
    return {**{k: v for k, v in new_content.items() if k != ITEM_KEY},
            "body": "* " + new_content["body"], "m.new_content": body,
            "m.relates_to": {"rel_type": "m.replace", "event_id": original_event_id}}


def delivery_lines(what: str, rec: Record, lang: str, tz: str, class_title: str = "") -> list[str]:
    """The text of a delivery (``what`` as in ``bridge.router.Delivery``)."""
    if isinstance(rec, LineItem) and what == "homework":
        head = _("Homework · {subject}", lang).format(subject=rec.subject or rec.category or class_title) \
            if (rec.subject or rec.category or class_title) else _("Homework", lang)
        due = _("Due {date}", lang).format(date=day(rec.due, lang, tz)) if rec.due else ""
        return [head, rec.title, rec.description if rec.description != rec.title else "", due]
    if isinstance(rec, Result):
        subject = rec.subject or class_title
        if what == "grade":
            lines = [_("Grade · {subject}: {mark}", lang).format(subject=subject, mark=mark(rec)), rec.title]
            if rec.comment:
                lines.append(_("Teacher's comment: {comment}", lang).format(comment=rec.comment))
            if rec.late:
                lines.append(_("Handed in late", lang))
            return lines
        if what == "submitted":
            return [_("Handed in, not graded yet · {subject}", lang).format(subject=subject), rec.title]
        if what == "missing":
            return [_("Not handed in · {subject}", lang).format(subject=subject), rec.title,
                    _("Teacher's comment: {comment}", lang).format(comment=rec.comment) if rec.comment else ""]
    if isinstance(rec, MissingSummary):
        return [_("Not handed in: {title} ({class_title})", lang).format(title=rec.title, class_title=class_title),
                ", ".join(rec.students)]
    return [rec.kind]


def change_line(what: str, before: dict, after: Record, lang: str, tz: str) -> str:
    """"before → after" for an edited message: the mark, the due date or the text that changed."""
    if isinstance(after, Result) and what == "grade":
        old = before.get("text_score") or _num(before.get("score"))
        return _("Changed: {before} → {after}", lang).format(before=old or "—", after=mark(after))
    if isinstance(after, LineItem):
        old_due = _date(before.get("due"))
        if old_due != after.due and (old_due or after.due):
            return _("Due date changed: {before} → {after}", lang).format(before=day(old_due, lang, tz) or "—",
                                                                   after=day(after.due, lang, tz) or "—")
        return _("Changed: {before} → {after}", lang).format(before=before.get("title", ""), after=after.title)
    return _("Changed", lang)


def material_change(what: str, before: dict, after: Record, lang: str, tz: str) -> list[str] | None:
    """A change that deserves its own notification (a grade lowered, a deadline moved earlier), or None."""
    if isinstance(after, Result) and what == "grade" and after.score is not None and before.get("score") is not None:
        if float(after.score) < float(before["score"]):
            return [_("Grade lowered · {subject}: {before} → {after}", lang).format(
                subject=after.subject, before=before.get("text_score") or _num(before["score"]), after=mark(after)),
                after.title]
    if isinstance(after, LineItem) and after.due is not None:
        old_due = _date(before.get("due"))
        if old_due is not None and _as_date(after.due) < _as_date(old_due):
            return [_("Deadline moved earlier: {title}", lang).format(title=after.title),
                    _("Due date changed: {before} → {after}", lang).format(before=day(old_due, lang, tz),
                                                                    after=day(after.due, lang, tz))]
    return None


def cancelled_lines(lines: list[str], lang: str) -> list[str]:
    """A withdrawn record's text: marked cancelled, the rest kept for reference."""
    return [_("Cancelled", lang) + ": " + lines[0]] + lines[1:] if lines else []


def timetable_lines(change: TimetableChange, lang: str, tz: str) -> list[str]:
    """The announcement of a timetable change."""
    ls = change.lesson
    when = f"{day(ls.start, lang, tz)} {clock(ls.start, lang, tz)}"
    match change.kind.value:
        case "cancelled":
            return [_("Lesson cancelled: {subject}", lang).format(subject=ls.subject), when]
        case "substitution":
            return [_("Substitution: {subject}", lang).format(subject=ls.subject), when,
                    _("Teacher: {teacher}", lang).format(teacher=ls.teacher) +
                    (" " + _("(instead of {teacher})", lang).format(teacher=change.before.teacher)
                     if change.before and change.before.teacher else "")]
        case "moved":
            before = change.before
            old = f"{day(before.start, lang, tz)} {clock(before.start, lang, tz)}" if before else ""
            return [_("Lesson moved: {subject}", lang).format(subject=ls.subject),
                    _("Changed: {before} → {after}", lang).format(before=old, after=when),
                    _("Room: {location}", lang).format(location=ls.location) if ls.location else ""]
        case _:
            return [_("Extra lesson: {subject}", lang).format(subject=ls.subject), when]


def reminder_lines(ls: Lesson, minutes: int, lang: str, tz: str) -> list[str]:
    """A lesson reminder: the subject, the time, the place and the call link when online."""
    return [_("In {minutes} min: {subject} at {time}", lang).format(minutes=minutes, subject=ls.subject,
                                                              time=clock(ls.start, lang, tz)),
            ls.topic,
            _("Room: {location}", lang).format(location=ls.location) if ls.location and not ls.online_url else "",
            _("Online lesson: {url}", lang).format(url=ls.online_url) if ls.online_url else ""]


def _num(v: object) -> str:
    if v is None:
        return ""
    f = float(v)  # type: ignore[arg-type]
    return str(int(f)) if f.is_integer() else f"{f:g}"


def _date(v: object) -> date | datetime | None:
    if not v:
        return None
    s = str(v)
    return datetime.fromisoformat(s) if "T" in s else date.fromisoformat(s)


def _as_date(v: date | datetime) -> date:
    return v.date() if isinstance(v, datetime) else v

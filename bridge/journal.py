"""The bridge's work: read each source, post what is new, edit what changed, never post twice.

One :class:`Journal` serves every configured source. For each reading of a source
(:meth:`Journal.poll`):

1. The source is read with the validators of the last reading (a conditional request);
   a failure is recorded, the next reading waits longer (capped), and after
   ``failure_notice_after`` seconds the school's administrators get one notice in the
   journal status room.
2. Lessons go to the timetable (``bridge.timetable``): changes are announced in the class
   announcements room; reminders come later (:meth:`Journal.remind`).
3. Every other record is routed (``bridge.router``) and each delivery is compared with what
   the database says was posted for (source, kind, id, room): nothing when the fingerprint is
   the same, an edit (``m.replace``, before → after) when it changed, plus one separate
   notification when the change is material (a grade lowered, a deadline moved earlier).
4. After a complete reading, a record missing from ``absent_polls_to_cancel`` readings in a
   row is marked cancelled (its message edited).

Sends use transaction ids derived from the content, so a crash between sending and
recording is healed by the homeserver's own de-duplication when the bridge sends again.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from policies.i18n import N_
from policies.i18n import gettext_ as _

from bridge import render
from bridge.db.store import Posted, SourceState, Store, now_ms
from bridge.directory import Directory
from bridge.model import Lesson, LessonStatus, Record, Snapshot, SourceError, lesson_from_json
from bridge.provisioning import ProvisioningClient, ProvisioningError
from bridge.router import Delivery, route
from bridge.sources.base import Source
from bridge.sources.http import HttpClient
from bridge.timetable import change_of, is_newer

log = logging.getLogger("bridge.journal")


class Matrix(Protocol):
    """What the journal needs of the homeserver (the appservice's intent in production)."""

    async def send(self, room_id: str, content: dict, txn_id: str) -> str:
        """Send an ``m.room.message``; returns the event id. Raises :class:`DeliveryError`."""
        ...


class DeliveryError(Exception):
    """The homeserver refused a message (not in the room, too large, rate limited...): the message
    says why. Nothing is recorded, so the next reading tries again."""


@dataclass(frozen=True)
class JournalSettings:
    """The ``journal`` section of the config (seconds, minutes, an hour of the day)."""

    poll_interval: float = 300
    max_backoff: float = 3600
    absent_polls_to_cancel: int = 3
    failure_notice_after: float = 3600
    digest_hour: int = 18
    reminder_minutes: int = 15
    language: str = "ru"

    @classmethod
    def from_config(cls, section: Mapping) -> JournalSettings:
        """From the config's ``journal`` mapping (missing keys keep their defaults)."""
        fields = cls.__dataclass_fields__
        return cls(**{k: type(getattr(cls, k))(v) for k, v in section.items() if k in fields})


def _txn(*parts: str) -> str:
    return "parta-journal-" + hashlib.sha256("|".join(parts).encode()).hexdigest()[:32]


class Journal:
    """The bridge's engine over a store, the homeserver, the provisioning service and the sources."""

    def __init__(self, store: Store, matrix: Matrix, provisioning: ProvisioningClient, sources: list[Source],
                 settings: JournalSettings, http: HttpClient):
        self.store = store
        self.matrix = matrix
        self.provisioning = provisioning
        self.sources = {s.name: s for s in sources}
        self.settings = settings
        self.http = http
        self._locks: dict[str, asyncio.Lock] = {}
        #: organizations whose posted records or sources' health changed since their last digest pass,
        #: and the day of that pass: digests are recomposed only then (they read every posted row)
        self._news: set[str] = set()
        self._digested: dict[str, date] = {}

    def _lang(self, d: Directory) -> str:
        return d.language if d.language in ("ru", "en") else self.settings.language

    # -- reading a source ------------------------------------------------------------------
    async def poll(self, name: str) -> dict:
        """Read source ``name`` once and post what changed; returns a summary
        ``{"source", "changed": bool, "posted", "edited", "cancelled", "error"}``. Never raises for a source's fault.
        """
        source = self.sources[name]
        lock = self._locks.setdefault(name, asyncio.Lock())
        async with lock:
            state = await self.store.source_state(name)
            summary: dict = {"source": name, "changed": False, "posted": 0, "edited": 0, "cancelled": 0,
                             "error": None}
            try:
                snapshot = await source.read(self.http, state.validators)
                # an unchanged source needs no fresh directory: the cached one names the status room
                d = await self.provisioning.directory(source.org, fresh=snapshot is not None)
            except ProvisioningError as e:
                summary["error"] = str(e)
                if e.status == 404:  # the school is not provisioned yet (a new installation, the demo)
                    log.info("source %s waits for organization %s: %s", name, source.org, e)
                    return summary
                await self._failed(source, state, str(e))
                return summary
            except SourceError as e:
                summary["error"] = str(e)
                await self._failed(source, state, str(e))
                return summary
            if snapshot is not None:
                summary["changed"] = True
                await self._apply(source, snapshot, d, summary)
                state.validators = dict(snapshot.validators)
            if state.notified:
                try:
                    await self._notify_status(source, d, [_("The journal {source} is available again",
                                                            self._lang(d)).format(source=name)], "restored")
                except (ProvisioningError, DeliveryError) as e:
                    log.warning("could not tell the administrators of %s: %s", source.org, e)
            state.last_success, state.failing_since, state.failures = now_ms(), None, 0
            state.last_error, state.notified = None, False
            await self.store.save_source_state(state)
            return summary

    def next_delay(self, state: SourceState) -> float:
        """Seconds until the next reading: the interval, doubled per failure up to ``max_backoff``."""
        if not state.failures:
            return self.settings.poll_interval
        return min(self.settings.poll_interval * 2 ** state.failures, self.settings.max_backoff)

    async def _failed(self, source: Source, state: SourceState, error: str) -> None:
        now = now_ms()
        state.failures += 1
        if state.failing_since is None:
            self._news.add(source.org)  # digests now say how old their data is
        state.failing_since = state.failing_since or now
        state.last_error = error
        log.warning("source %s failed (%d in a row): %s", source.name, state.failures, error)
        if not state.notified and now - state.failing_since >= self.settings.failure_notice_after * 1000:
            try:
                d = await self.provisioning.directory(source.org)
                lang = self._lang(d)
                since = datetime.fromtimestamp(state.failing_since / 1000, ZoneInfo(d.timezone))
                await self._notify_status(source, d, [
                    _("The journal {source} cannot be read since {since}", lang).format(
                        source=source.name, since=f"{render.day(since, lang, d.timezone)} "
                                                  f"{render.clock(since, lang, d.timezone)}"),
                    error, _("Digests say how old their data is until it is read again", lang)],
                    f"failed-{state.failing_since}")
                state.notified = True
            except (ProvisioningError, DeliveryError) as e:
                log.warning("could not tell the administrators of %s: %s", source.org, e)
        await self.store.save_source_state(state)

    async def _notify_status(self, source: Source, d: Directory, lines: list[str], what: str) -> None:
        """A notice in the journal status room (raises ProvisioningError or DeliveryError)."""
        room = d.status_room or await self.provisioning.ensure_status_room(d.org)
        await self.matrix.send(room, render.message(lines, notice=True), _txn("status", source.name, what))

    # -- records ---------------------------------------------------------------------------
    async def _apply(self, source: Source, snapshot: Snapshot, d: Directory, summary: dict) -> None:
        records, since = snapshot.records, snapshot.since
        lessons = [r for r in records if isinstance(r, Lesson)]
        for ls in lessons:
            await self._lesson(ls, d, summary)
        present: set[tuple[str, str]] = {(r.kind, r.item_id) for r in lessons}
        for dl in route([r for r in records if not isinstance(r, Lesson)], d):
            present.add((dl.record.kind, dl.record.item_id))
            d = await self.deliver(dl, d, summary)
        if snapshot.complete:
            for p in await self.store.count_absent(source.name, present):
                left_window = since is not None and (_record_day(p.record) or since) < since
                if p.absent_polls >= self.settings.absent_polls_to_cancel and p.kind != "lesson_change" \
                        and not left_window:
                    await self._cancel(p, d)
                    summary["cancelled"] += 1

    async def _room(self, dl: Delivery, d: Directory) -> tuple[str | None, Directory]:
        if dl.room_id:
            return dl.room_id, d
        person = dl.diary_of or ""
        known = d.diary_of(person)
        if known:
            return known, d
        room = await self.provisioning.ensure_diary(d.org, person)
        return room, d.with_diary(person, room)

    async def deliver(self, dl: Delivery, d: Directory, summary: dict | None = None) -> Directory:
        """Post, edit or leave alone the message of one delivery; returns the directory (with a new diary)."""
        summary = summary if summary is not None else {"posted": 0, "edited": 0}
        try:
            room, d = await self._room(dl, d)
        except ProvisioningError as e:
            log.warning("no room for %s: %s", dl.target, e)
            return d
        if room is None:
            return d
        rec, lang, tz = dl.record, self._lang(d), d.timezone
        c = d.find_class(getattr(rec, "class_id", ""), getattr(rec, "class_title", ""))
        lines = render.delivery_lines(dl.what, rec, lang, tz, c.title if c else "")
        data = {**rec.to_json(), "_what": dl.what, "_lines": lines}
        fp = hashlib.sha256((dl.what + rec.fingerprint()).encode()).hexdigest()
        prev = await self.store.posted(rec.source, rec.kind, rec.item_id, room)
        if prev is not None and prev.fingerprint == fp and not prev.cancelled:
            return d
        try:
            event_id = await self._post(dl, rec, room, prev, lines, data, fp, lang, tz, summary)
        except DeliveryError as e:
            log.warning("%s %s/%s to %s not posted: %s", rec.kind, rec.source, rec.item_id, room, e)
            summary["failed"] = summary.get("failed", 0) + 1
            summary.setdefault("problems", []).append(f"{rec.source}/{rec.item_id}: {e}")
            return d
        await self.store.save_posted(Posted(rec.source, rec.kind, rec.item_id, room, fp, event_id, data, 0, False))
        self._news.add(d.org)
        return d

    async def _post(self, dl: Delivery, rec: Record, room: str, prev: Posted | None, lines: list[str], data: dict,
                    fp: str, lang: str, tz: str, summary: dict) -> str:
        """Send the new message, or the edit (and a material change's notice); returns the event id."""
        if prev is None:
            event_id = await self.matrix.send(room, render.message(lines, rec), _txn(rec.source, rec.kind,
                                                                                      rec.item_id, room, fp))
            summary["posted"] += 1
        else:
            event_id = prev.event_id
            before = prev.record
            change = render.change_line(dl.what, before, rec, lang, tz) if before.get("_what") == dl.what else ""
            await self.matrix.send(room, render.edit(event_id, render.message(lines + [change], rec)),
                                   _txn("edit", rec.source, rec.kind, rec.item_id, room, fp))
            material = render.material_change(dl.what, before, rec, lang, tz) \
                if before.get("_what") == dl.what else None
            if material:
                await self.matrix.send(room, render.message(material, rec),
                                       _txn("material", rec.source, rec.kind, rec.item_id, room, fp))
            summary["edited"] += 1
        return event_id

    async def _cancel(self, p: Posted, d: Directory) -> None:
        lang = self._lang(d)
        what = p.record.get("_what", "")
        lines = render.cancelled_lines(list(p.record.get("_lines") or [p.item_id]), lang)
        content = render.message(lines)
        content[render.ITEM_KEY] = {**{k: v for k, v in p.record.items() if not k.startswith("_")},
                                    "cancelled": True}
        await self.matrix.send(p.room_id, render.edit(p.event_id, content),
                               _txn("cancel", p.source, p.kind, p.item_id, p.room_id, what))
        await self.store.set_cancelled(p)
        self._news.add(d.org)

    # -- the timetable ---------------------------------------------------------------------
    async def _lesson(self, ls: Lesson, d: Directory, summary: dict) -> None:
        stored = await self.store.lesson(ls.source, ls.item_id)
        before = stored[0] if stored else None
        if not is_newer(before, ls) or (stored and stored[1] == ls.fingerprint()):
            return
        change = change_of(before, ls)
        c = d.find_class(ls.class_id, ls.class_title)
        room = c.rooms.get("class_announcements") if c else None
        if change is not None and room:
            lang = self._lang(d)
            key = f"{ls.item_id}#{change.kind.value}"
            data = {**ls.to_json(), "_what": change.kind.value}
            fp = ls.fingerprint()
            prev = await self.store.posted(ls.source, "lesson_change", key, room)
            content = render.message(render.timetable_lines(change, lang, d.timezone), ls)
            try:
                if prev is None:
                    event_id = await self.matrix.send(room, content, _txn(ls.source, "lesson_change", key, room, fp))
                    summary["posted"] += 1
                else:
                    event_id = prev.event_id
                    await self.matrix.send(room, render.edit(event_id, content), _txn("edit", key, room, fp))
                    summary["edited"] += 1
            except DeliveryError as e:  # the lesson stays unread: the next reading announces it
                log.warning("the change of lesson %s not announced in %s: %s", ls.item_id, room, e)
                summary["failed"] = summary.get("failed", 0) + 1
                return
            await self.store.save_posted(Posted(ls.source, "lesson_change", key, room, fp, event_id, data, 0, False))
        moved = before is not None and lesson_from_json(before).start != ls.start
        await self.store.save_lesson(ls.source, ls.item_id, ls.to_json(), ls.fingerprint(),
                                     int(ls.start.timestamp() * 1000) if ls.start else 0)
        if moved:
            await self.store.set_reminded(ls.source, ls.item_id, False)

    async def remind(self, now: datetime | None = None) -> int:
        """Post the reminders of lessons starting within ``reminder_minutes``; returns how many."""
        now = now or datetime.now(ZoneInfo("UTC"))
        minutes = self.settings.reminder_minutes
        start_ms = int(now.timestamp() * 1000)
        sent = 0
        for source_name, data in await self.store.lessons_starting(start_ms + minutes * 60_000, start_ms):
            ls = lesson_from_json(data)
            source = self.sources.get(source_name)
            if source is None or ls.status != LessonStatus.SCHEDULED:
                await self.store.set_reminded(source_name, ls.item_id)
                continue
            try:
                d = await self.provisioning.directory(source.org)
            except ProvisioningError as e:
                log.warning("reminders of %s wait: %s", source.org, e)
                continue
            c = d.find_class(ls.class_id, ls.class_title)
            room = c.rooms.get("class_announcements") if c else None
            if room:
                left = max(1, round(((ls.start or now) - now).total_seconds() / 60))
                try:
                    await self.matrix.send(room, render.message(render.reminder_lines(ls, left, self._lang(d),
                                                                                      d.timezone), ls),
                                           _txn("remind", source_name, ls.item_id, str(ls.start)))
                except DeliveryError as e:  # not marked: the next round tries again while it is still ahead
                    log.warning("the reminder of lesson %s not posted in %s: %s", ls.item_id, room, e)
                    continue
                sent += 1
            await self.store.set_reminded(source_name, ls.item_id)
        return sent

    # -- digests ---------------------------------------------------------------------------
    async def digest(self, now: datetime | None = None) -> int:
        """Post or edit today's digest of every pupil with news, from the digest hour on; returns how many changed.

        One ``m.notice`` per child per day in the child's diary: today's grades and "not
        handed in", tomorrow's homework; edited (not followed by new messages) as the day goes on.
        """
        now = now or datetime.now(ZoneInfo("UTC"))
        changed = 0
        orgs = sorted({s.org for s in self.sources.values()})
        for org in orgs:
            try:
                d = await self.provisioning.directory(org)
            except ProvisioningError as e:
                log.warning("digests of %s wait: %s", org, e)
                continue
            local = now.astimezone(ZoneInfo(d.timezone))
            if local.hour < self.settings.digest_hour:
                continue
            if self._digested.get(org) == local.date() and org not in self._news:
                continue  # nothing new since this day's digests were composed
            self._news.discard(org)
            self._digested[org] = local.date()
            changed += await self._digests_of(d, local.date(), now)
        return changed

    async def _digests_of(self, d: Directory, today: date, now: datetime) -> int:
        lang, tz = self._lang(d), d.timezone
        sources = [s for s in self.sources.values() if s.org == d.org]
        rows: list[Posted] = []
        stale: list[str] = []
        for src in sources:
            rows += await self.store.posted_of_source(src.name)
            st = await self.store.source_state(src.name)
            if st.failing_since and st.last_success:
                when = datetime.fromtimestamp(st.last_success / 1000, ZoneInfo(tz))
                stale.append(f"{render.day(when, lang, tz)} {render.clock(when, lang, tz)}")
            elif st.failing_since:
                stale.append("—")
        rows += [p for p in await self.store.posted_of_source("chat") if d.class_of_room(p.room_id)]
        tomorrow = today + timedelta(days=1)
        homework_by_class: dict[str, list[str]] = {}
        for p in rows:
            if p.kind == "line_item" and not p.cancelled and _day_of(p.record.get("due")) == tomorrow:
                c = d.find_class(p.record.get("class_id", ""), p.record.get("class_title", ""))
                if c:
                    homework_by_class.setdefault(c.class_id, []).append(
                        f"{p.record.get('subject') or ''}: {p.record.get('title')}".strip(": "))
        changed = 0
        for s in d.students.values():
            if not s.diary:
                continue
            mine = [p for p in rows if p.room_id == s.diary and p.kind == "result" and not p.cancelled
                    and _posted_day(p, tz) == today]
            grades = [f"{p.record.get('subject')}: {p.record.get('text_score') or render._num(p.record.get('score'))}"
                      for p in mine if p.record.get("_what") == "grade"]
            missing = [f"{p.record.get('subject')}: {p.record.get('title')}" for p in mine
                       if p.record.get("_what") == "missing"]
            homework = [h for cid in s.classes for h in homework_by_class.get(cid, [])]
            if not (grades or missing or homework):
                continue
            lines = [_("The day of {name}, {date}", lang).format(name=s.name, date=render.day(today, lang, tz))]
            if grades:
                lines.append(_("Grades: {list}", lang).format(list="; ".join(grades)))
            if missing:
                lines.append(_("Not handed in: {list}", lang).format(list="; ".join(missing)))
            if homework:
                lines.append(_("Homework for tomorrow: {list}", lang).format(list="; ".join(homework)))
            if stale:
                lines.append(_("Data as of {when}", lang).format(when=", ".join(stale)))
            content = render.message(lines, notice=True)
            try:
                changed += await self._send_digest(d, s.person_id, s.diary, today, content)
            except DeliveryError as e:
                log.warning("the digest of %s in %s not posted: %s", s.person_id, s.diary, e)
        return changed

    async def _send_digest(self, d: Directory, person_id: str, diary: str, today: date, content: dict) -> int:
        """Post the day's digest in ``diary``, or edit it when it changed; returns 1 when something was sent."""
        fp = hashlib.sha256(content["body"].encode()).hexdigest()
        day_key = today.isoformat()
        known = await self.store.digest(d.org, person_id, day_key)
        if known is None:
            event_id = await self.matrix.send(diary, content, _txn("digest", d.org, person_id, day_key))
            await self.store.save_digest(d.org, person_id, day_key, diary, event_id, fp)
            return 1
        if known[2] != fp:
            await self.matrix.send(known[0], render.edit(known[1], content),
                                   _txn("digest-edit", d.org, person_id, day_key, fp))
            await self.store.save_digest(d.org, person_id, day_key, known[0], known[1], fp)
            return 1
        return 0


def _record_day(record: dict) -> date | None:
    """The day a stored record is about (its due, score or assigned date), for windowed sources."""
    for key in ("due", "score_date", "assigned", "start"):
        if record.get(key):
            return _day_of(record[key])
    return None


def _day_of(v: object) -> date | None:
    if not v:
        return None
    s = str(v)
    return (datetime.fromisoformat(s).date() if "T" in s else date.fromisoformat(s))


def _posted_day(p: Posted, tz: str) -> date | None:
    """The day a result belongs to: its score date, else the day the bridge last posted it."""
    return _day_of(p.record.get("score_date")) or datetime.fromtimestamp(p.updated_at / 1000, ZoneInfo(tz)).date()


class CommandHandler:
    """Answers ``!дз`` in class chats (``bridge.commands``) for a :class:`Journal`."""

    def __init__(self, journal: Journal):
        self.journal = journal

    async def _directory_of(self, room_id: str) -> tuple[Directory, str, str] | None:
        """The organization, class id and room kind of a class room (directories refreshed once if unknown)."""
        j = self.journal
        for fresh in (False, True):
            if fresh:
                for org in sorted({s.org for s in j.sources.values()}):
                    try:
                        await j.provisioning.directory(org, fresh=True)
                    except ProvisioningError:
                        continue
            for d in j.provisioning.cached():
                hit = d.class_of_room(room_id)
                if hit:
                    return d, hit[0].class_id, hit[1]
        return None

    async def on_message(self, room_id: str, sender: str, event_id: str, body: str,
                         today: date | None = None) -> str | None:
        """Handle a message; returns what happened (``recorded``, a refusal reason, or None when not a command)."""
        from bridge import commands

        if not commands.is_command(body) or not await self.journal.store.claim_event(event_id):
            return None
        found = await self._directory_of(room_id)
        if found is None:
            return None  # not a class room of a school the bridge serves: stay silent
        d, class_id, kind = found
        lang = self.journal._lang(d)
        c = d.classes[class_id]
        async def reply(reason: str, **kw: str) -> None:
            try:
                await self.journal.matrix.send(room_id, commands.refusal(reason, lang, reply_to=event_id, **kw),
                                               _txn("reply", event_id, reason))
            except DeliveryError as e:
                log.warning("could not answer %s in %s: %s", event_id, room_id, e)

        if kind != "class_chat":
            await reply(N_("Homework is posted in the class chat of {class_title}"), class_title=c.title)
            return "not_class_chat"
        if not d.teacher_of(sender, class_id):
            await reply(N_("Only the teachers of class {class_title} post homework here"), class_title=c.title)
            return "not_teacher"
        today = today or datetime.now(ZoneInfo(d.timezone)).date()
        try:
            cmd = commands.parse_homework(body, today)
        except commands.CommandError as e:
            await reply(str(e.args[0]), word=body.split()[-1])
            return "malformed"
        teacher = next((t.person_id for t in d.teachers.values() if t.user_id == sender), None)
        item = commands.homework_item(cmd, event_id, class_id, teacher, today)
        await self.journal.store.save_chat_homework(event_id, d.org, class_id, sender, cmd.text,
                                                    cmd.due.isoformat() if cmd.due else None, event_id)
        summary: dict = {"posted": 0, "edited": 0}
        await self.journal.deliver(Delivery(item, "homework", room_id=room_id), d, summary)
        if summary.get("failed"):
            await reply(N_("The homework could not be posted: {error}"), error=summary["problems"][0])
            return "not_posted"
        # written back to the journals of the school that accept writes (OneRoster REST with write: true)
        for src in self.journal.sources.values():
            writer = getattr(src, "write_line_item", None)
            if src.org != d.org or writer is None or not getattr(src, "writable", False):
                continue
            try:
                await writer(self.journal.http, item)
            except SourceError as e:
                await reply(N_("The homework is posted here, but the journal {source} did not take it: {error}"),
                            source=src.name, error=str(e))
                return "recorded_not_written"
        return "recorded"

"""Queries of the bridge's database (see ``bridge.db.upgrade`` for the tables).

Every method is one statement or one transaction; timestamps are milliseconds since the epoch.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from mautrix.util.async_db import Database


def now_ms() -> int:
    """Milliseconds since the epoch."""
    return int(time.time() * 1000)


@dataclass
class Posted:
    """A message the bridge posted for a record in a room."""

    source: str
    kind: str
    item_id: str
    room_id: str
    fingerprint: str
    event_id: str
    record: dict
    absent_polls: int
    cancelled: bool
    updated_at: int = 0


@dataclass
class SourceState:
    """A source's HTTP validators and failure record (``failing_since`` in ms, or None)."""

    source: str
    validators: dict
    last_success: int | None
    failing_since: int | None
    failures: int
    last_error: str | None
    notified: bool


class Store:
    """The bridge's queries over a mautrix ``Database`` (already started and upgraded)."""

    def __init__(self, db: Database):
        self.db = db

    # -- posted messages -----------------------------------------------------------------
    async def posted(self, source: str, kind: str, item_id: str, room_id: str) -> Posted | None:
        """The message posted for this record in this room, if any."""
        row = await self.db.fetchrow(
            "SELECT * FROM posted WHERE source=$1 AND kind=$2 AND item_id=$3 AND room_id=$4",
            source, kind, item_id, room_id)
        return _posted(row) if row else None

    async def posted_of_source(self, source: str) -> list[Posted]:
        """Every message posted for the source's records (cancelled ones too)."""
        return [_posted(r) for r in await self.db.fetch("SELECT * FROM posted WHERE source=$1", source)]

    async def save_posted(self, p: Posted) -> None:
        """Insert or replace the row of ``p`` (the absence count starts again)."""
        await self.db.execute(
            "INSERT INTO posted (source, kind, item_id, room_id, fingerprint, event_id, record, absent_polls,"
            " cancelled, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, 0, $8, $9)"
            " ON CONFLICT (source, kind, item_id, room_id) DO UPDATE SET fingerprint=excluded.fingerprint,"
            " event_id=excluded.event_id, record=excluded.record, absent_polls=0, cancelled=excluded.cancelled,"
            " updated_at=excluded.updated_at",
            p.source, p.kind, p.item_id, p.room_id, p.fingerprint, p.event_id,
            json.dumps(p.record, ensure_ascii=False, sort_keys=True), p.cancelled, now_ms())

    async def mark_seen(self, source: str, keys: set[tuple[str, str]]) -> None:
        """Records ``(kind, item_id)`` of a complete reading are present: their absence count is 0."""
        conn: Any
        async with self.db.acquire() as conn, conn.transaction():
            for kind, item_id in keys:
                await conn.execute("UPDATE posted SET absent_polls=0 WHERE source=$1 AND kind=$2 AND item_id=$3"
                                   " AND absent_polls<>0", source, kind, item_id)

    async def count_absent(self, source: str, present: set[tuple[str, str]]) -> list[Posted]:
        """One more missed reading for every live row of ``source`` not in ``present``; returns them updated."""
        out: list[Posted] = []
        conn: Any
        async with self.db.acquire() as conn, conn.transaction():
            for r in await conn.fetch("SELECT * FROM posted WHERE source=$1 AND cancelled=false", source):
                if (r["kind"], r["item_id"]) in present:
                    continue
                await conn.execute("UPDATE posted SET absent_polls=absent_polls+1 WHERE source=$1 AND kind=$2"
                                   " AND item_id=$3 AND room_id=$4", source, r["kind"], r["item_id"], r["room_id"])
                p = _posted(r)
                p.absent_polls += 1
                out.append(p)
        return out

    async def set_cancelled(self, p: Posted) -> None:
        """Mark a posted record cancelled (it stays, so that a reappearance edits it again)."""
        await self.db.execute("UPDATE posted SET cancelled=true, updated_at=$5 WHERE source=$1 AND kind=$2"
                              " AND item_id=$3 AND room_id=$4", p.source, p.kind, p.item_id, p.room_id, now_ms())

    # -- the timetable ---------------------------------------------------------------------
    async def lesson(self, source: str, item_id: str) -> tuple[dict, str, bool] | None:
        """A lesson as last read: (record JSON, fingerprint, reminded)."""
        row = await self.db.fetchrow("SELECT record, fingerprint, reminded FROM lessons WHERE source=$1"
                                     " AND item_id=$2", source, item_id)
        return (json.loads(row["record"]), row["fingerprint"], bool(row["reminded"])) if row else None

    async def save_lesson(self, source: str, item_id: str, record: dict, fingerprint: str, start_ts: int) -> None:
        """Remember a lesson as read now (keeps whether it was reminded)."""
        await self.db.execute(
            "INSERT INTO lessons (source, item_id, record, fingerprint, start_ts) VALUES ($1, $2, $3, $4, $5)"
            " ON CONFLICT (source, item_id) DO UPDATE SET record=excluded.record, fingerprint=excluded.fingerprint,"
            " start_ts=excluded.start_ts",
            source, item_id, json.dumps(record, ensure_ascii=False, sort_keys=True), fingerprint, start_ts)

    async def lessons_starting(self, until_ms: int, since_ms: int) -> list[tuple[str, dict]]:
        """Lessons not yet reminded that start in ``[since_ms, until_ms]``: (source, record JSON)."""
        rows = await self.db.fetch("SELECT source, record FROM lessons WHERE reminded=false AND start_ts<=$1"
                                   " AND start_ts>=$2", until_ms, since_ms)
        return [(r["source"], json.loads(r["record"])) for r in rows]

    async def set_reminded(self, source: str, item_id: str, reminded: bool = True) -> None:
        """The lesson's reminder is posted (or, for a moved lesson, due again)."""
        await self.db.execute("UPDATE lessons SET reminded=$3 WHERE source=$1 AND item_id=$2", source, item_id,
                              reminded)

    # -- sources -------------------------------------------------------------------------
    async def source_state(self, source: str) -> SourceState:
        """The source's state (a fresh one when it was never read)."""
        row = await self.db.fetchrow("SELECT * FROM source_state WHERE source=$1", source)
        if row is None:
            return SourceState(source, {}, None, None, 0, None, False)
        return SourceState(row["source"], json.loads(row["validators"] or "{}"), row["last_success"],
                           row["failing_since"], row["failures"], row["last_error"], bool(row["notified"]))

    async def save_source_state(self, s: SourceState) -> None:
        """Insert or replace the source's state."""
        await self.db.execute(
            "INSERT INTO source_state (source, validators, last_success, failing_since, failures, last_error,"
            " notified) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (source) DO UPDATE SET"
            " validators=excluded.validators, last_success=excluded.last_success,"
            " failing_since=excluded.failing_since, failures=excluded.failures, last_error=excluded.last_error,"
            " notified=excluded.notified",
            s.source, json.dumps(s.validators), s.last_success, s.failing_since, s.failures, s.last_error,
            s.notified)

    # -- digests -------------------------------------------------------------------------
    async def digest(self, org: str, student_id: str, day: str) -> tuple[str, str, str] | None:
        """The day's digest for a pupil: (room id, event id, fingerprint)."""
        row = await self.db.fetchrow("SELECT room_id, event_id, fingerprint FROM digests WHERE org=$1 AND"
                                     " student_id=$2 AND day=$3", org, student_id, day)
        return (row["room_id"], row["event_id"], row["fingerprint"]) if row else None

    async def save_digest(self, org: str, student_id: str, day: str, room_id: str, event_id: str,
                          fingerprint: str) -> None:
        """Remember the day's digest (its first event id stays the one edits point at)."""
        await self.db.execute(
            "INSERT INTO digests (org, student_id, day, room_id, event_id, fingerprint) VALUES"
            " ($1, $2, $3, $4, $5, $6) ON CONFLICT (org, student_id, day) DO UPDATE SET"
            " fingerprint=excluded.fingerprint", org, student_id, day, room_id, event_id, fingerprint)

    # -- commands ------------------------------------------------------------------------
    async def claim_event(self, event_id: str) -> bool:
        """True the first time an event id is claimed (a command is answered once)."""
        row = await self.db.fetchrow("INSERT INTO handled_events (event_id, ts) VALUES ($1, $2)"
                                     " ON CONFLICT (event_id) DO NOTHING RETURNING event_id", event_id, now_ms())
        return row is not None

    async def save_chat_homework(self, item_id: str, org: str, class_id: str, teacher: str, text: str,
                                 due: str | None, event_id: str) -> None:
        """Record homework a teacher posted with ``!дз``."""
        await self.db.execute(
            "INSERT INTO chat_homework (id, org, class_id, teacher, text, due, event_id, created_at)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (id) DO NOTHING",
            item_id, org, class_id, teacher, text, due, event_id, now_ms())

    async def chat_homework(self, org: str) -> list[dict]:
        """Homework recorded from chats for an organization."""
        return [dict(r) for r in await self.db.fetch("SELECT * FROM chat_homework WHERE org=$1", org)]


def _posted(row) -> Posted:  # noqa: ANN001 - an asyncpg Record or an sqlite3 Row
    return Posted(row["source"], row["kind"], row["item_id"], row["room_id"], row["fingerprint"],
                  row["event_id"], json.loads(row["record"]), row["absent_polls"], bool(row["cancelled"]),
                  row["updated_at"])

"""Schema versions of the bridge's database (``mautrix.util.async_db.UpgradeTable``).

Each version is one function; a new version is appended, never edited (a database made by
an older bridge is brought forward on start).
"""

from __future__ import annotations

from mautrix.util.async_db import Connection, UpgradeTable

upgrade_table = UpgradeTable(version_table_name="journal_version", database_name="journal bridge")


@upgrade_table.register(description="Posted messages, sources, digests, reminders, chat homework")  # type: ignore[call-arg, arg-type]
async def upgrade_v1(conn: Connection) -> None:
    """Version 1.

    - ``posted``: one row per message the bridge posted for a record in a room (the record's
      JSON and fingerprint, the event id, how many complete readings it has been missing from).
    - ``lessons``: the timetable as last read, to tell changes (cancellations, substitutions).
    - ``source_state``: the HTTP validators and the failure record of each source.
    - ``digests``: the one digest per pupil and day, edited as the day goes on.
    - ``handled_events``: commands already answered (a repeated transaction is not answered twice).
    """
    await conn.execute("""CREATE TABLE posted (
        source TEXT NOT NULL, kind TEXT NOT NULL, item_id TEXT NOT NULL, room_id TEXT NOT NULL,
        fingerprint TEXT NOT NULL, event_id TEXT NOT NULL, record TEXT NOT NULL,
        absent_polls INTEGER NOT NULL DEFAULT 0, cancelled BOOLEAN NOT NULL DEFAULT false,
        updated_at BIGINT NOT NULL,
        PRIMARY KEY (source, kind, item_id, room_id))""")
    await conn.execute("""CREATE TABLE lessons (
        source TEXT NOT NULL, item_id TEXT NOT NULL, record TEXT NOT NULL, fingerprint TEXT NOT NULL,
        start_ts BIGINT NOT NULL, reminded BOOLEAN NOT NULL DEFAULT false,
        PRIMARY KEY (source, item_id))""")
    await conn.execute("""CREATE TABLE source_state (
        source TEXT PRIMARY KEY, validators TEXT NOT NULL DEFAULT '{}', last_success BIGINT,
        failing_since BIGINT, failures INTEGER NOT NULL DEFAULT 0, last_error TEXT,
        notified BOOLEAN NOT NULL DEFAULT false)""")
    await conn.execute("""CREATE TABLE digests (
        org TEXT NOT NULL, student_id TEXT NOT NULL, day TEXT NOT NULL, room_id TEXT NOT NULL,
        event_id TEXT NOT NULL, fingerprint TEXT NOT NULL,
        PRIMARY KEY (org, student_id, day))""")
    await conn.execute("""CREATE TABLE handled_events (
        event_id TEXT PRIMARY KEY, ts BIGINT NOT NULL)""")
    await conn.execute("""CREATE TABLE chat_homework (
        id TEXT PRIMARY KEY, org TEXT NOT NULL, class_id TEXT NOT NULL, teacher TEXT NOT NULL,
        text TEXT NOT NULL, due TEXT, event_id TEXT NOT NULL, created_at BIGINT NOT NULL)""")

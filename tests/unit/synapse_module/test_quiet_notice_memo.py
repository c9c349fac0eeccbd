"""The quiet-hours notice is recorded once per (room, teacher, window) in ``parta_quiet_notices``; a
process that knows the row exists writes nothing again for the next held-back message of the window
(a fake database standing for Synapse's; the notice itself is proven in
``tests/integration/test_quiet_hours_attacks.py``)."""

from __future__ import annotations

import datetime as dt
from unittest import mock

from synapse_module import quiet_hours

START = dt.datetime(2026, 12, 7, 18, 0, tzinfo=dt.UTC)


class _Db:
    """Primary-key semantics of ``parta_quiet_notices``: an insert counts once per key."""

    def __init__(self) -> None:
        self.rows: set[tuple] = set()
        self.writes = 0

    async def run(self, _desc, fn):
        db = self

        class Txn:
            rowcount = 0

            def execute(self, sql, args=()):
                if sql.startswith("INSERT"):
                    db.writes += 1
                    key = tuple(args[:3])
                    self.rowcount = 0 if key in db.rows else 1
                    db.rows.add(key)
        return fn(Txn())


def _quiet(db: _Db) -> quiet_hours.QuietHours:
    api = mock.Mock()
    api.run_db_interaction = db.run
    q = quiet_hours.QuietHours(api, mock.Mock(), mock.Mock(), "@bot:s", "ru", now=lambda: START)
    q._schema_ready = True
    return q


async def test_one_notice_per_window_and_one_write_per_process():
    db = _Db()
    q = _quiet(db)
    assert await q._first_notice("!chat", "@t:s", START, "$1") is True
    assert await q._first_notice("!chat", "@t:s", START, "$2") is False
    assert await q._first_notice("!chat", "@t:s", START, "$3") is False
    assert db.writes == 1
    # another teacher, another room, the next window: each its own notice
    assert await q._first_notice("!chat", "@t2:s", START, "$4") is True
    assert await q._first_notice("!other", "@t:s", START, "$5") is True
    assert await q._first_notice("!chat", "@t:s", START + dt.timedelta(days=1), "$6") is True


async def test_another_process_that_sent_the_notice_first_is_respected_and_remembered():
    db = _Db()
    first, second = _quiet(db), _quiet(db)  # two Synapse processes over one database
    assert await first._first_notice("!chat", "@t:s", START, "$1") is True
    assert await second._first_notice("!chat", "@t:s", START, "$2") is False  # the primary key decides
    writes = db.writes
    assert await second._first_notice("!chat", "@t:s", START, "$3") is False
    assert db.writes == writes

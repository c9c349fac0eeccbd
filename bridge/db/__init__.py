"""The bridge's own database (mautrix ``async_db``: SQLite by default, PostgreSQL as an option).

``upgrade`` holds the schema versions (``UpgradeTable``); ``store`` the queries. The
database is what makes the bridge idempotent: every message it posted is remembered by
(source, kind, item id, room) with the record's fingerprint, so a restart, a re-import or a
repeated delivery never posts twice.
"""

from bridge.db.store import Store
from bridge.db.upgrade import upgrade_table

__all__ = ["Store", "upgrade_table"]

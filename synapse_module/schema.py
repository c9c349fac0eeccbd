"""The module's own tables, created on first use in whichever Synapse process needs them.

On the worker topology several processes may run ``CREATE TABLE IF NOT EXISTS`` for the same table at
the same moment on a fresh PostgreSQL database; PostgreSQL then fails all but one of them with a
unique violation on its catalog (``pg_type_typname_nsp_index``): ``IF NOT EXISTS`` checks before it
inserts, it does not lock. The loser's transaction is rolled back, and by then the table exists, so
one retry of the whole statement list settles it (the statements are idempotent).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

#: Attempts at the statement list: a second one only after another process's concurrent create won.
ATTEMPTS = 3


async def ensure_schema(api: Any, desc: str, statements: Sequence[str]) -> None:
    """Run ``statements`` (idempotent DDL) in one transaction through ``ModuleApi.run_db_interaction``.

    Retries when a concurrent creation by another process made the transaction fail; raises the
    last error when every attempt failed.
    """
    def create(txn: Any) -> None:
        for stmt in statements:
            txn.execute(stmt)

    for attempt in range(ATTEMPTS):
        try:
            await api.run_db_interaction(desc, create)
            return
        except Exception:  # noqa: BLE001 - the driver's IntegrityError differs by database engine
            if attempt == ATTEMPTS - 1:
                raise

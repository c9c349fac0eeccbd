"""Which tests the PostgreSQL pass of ``make test`` runs: the database-free tests run in the SQLite pass only.

``make test`` runs the whole suite on SQLite and then again with ``PARTA_TEST_DB=postgres`` so that
everything touching Synapse or a database is proven on both. Tests under :data:`DB_FREE` (pure rules,
parsers, renderers, repository checks, ModuleApi mocks: no Synapse, no database, nothing that reads
``PARTA_TEST_DB``) would repeat the same computation, so the hooks below mark them ``db_free`` and the
Makefile's PostgreSQL line deselects them with ``-m "not db_free"``. Run by hand
(``PARTA_TEST_DB=postgres pytest tests/unit/policies``) they still run.

A test under :data:`DB_FREE` that asks for the session's database or homeserver (a fixture of
:data:`DB_FIXTURES` in its closure) is not marked: it runs in both passes whatever its folder.
"""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

#: Folders and files (relative to the repository, ``/``-separated) whose tests use no database and no
#: Synapse process. A new folder belongs here only when none of its tests opens a database (not even
#: a SQLite file: that one runs in both passes too) or starts a homeserver.
DB_FREE = (
    "tests/unit/policies",
    "tests/unit/repository",
    "tests/unit/synapse_module",  # the module against mocks of ModuleApi and the pinned Synapse's sources
    "tests/unit/bridge/sources",
    "tests/unit/bridge/test_commands.py",
    "tests/unit/bridge/test_config.py",
    "tests/unit/bridge/test_router_privacy.py",
    "tests/unit/spaces_provisioner/roster",
    "tests/unit/spaces_provisioner/web",
)

#: Session fixtures that mean a database or the homeserver (tests/conftest.py): everything touching the
#: installation depends on ``postgres_dsn``.
DB_FIXTURES = frozenset({"postgres_dsn"})

MARK = "db_free"


def is_db_free(item: pytest.Item) -> bool:
    """Whether ``item`` lies under :data:`DB_FREE` and needs none of :data:`DB_FIXTURES`."""
    try:
        path = Path(str(item.path)).resolve().relative_to(REPO).as_posix()
    except ValueError:  # a test outside the repository (pytester): not ours to judge
        return False
    under = any(path == p or path.startswith(p + "/") for p in DB_FREE)
    return under and not DB_FIXTURES & set(getattr(item, "fixturenames", ()))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", f"{MARK}: uses no database and no Synapse; the PostgreSQL pass of "
                                       "make test skips it (tests/passes.py)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if is_db_free(item):
            item.add_marker(MARK)

"""Backups (issue 13, docs/deployment.md "Backups"): docker/backup.sh saves the running test installation
(PostgreSQL: Synapse, the provisioning service's schema, the journal bridge; the installation directory;
the media) and docker/restore.sh brings it back into a new database and a new directory, where the
accounts, the school, the signing key, parta.yaml's secrets and an uploaded file are what they were.

PostgreSQL only: that is the production database (SQLite files are copied with the directory).
"""

from __future__ import annotations

import os
import subprocess
import uuid
from pathlib import Path

import psycopg2
import pytest

from ..conftest import PG_ADMIN_DSN, _pg
from .media_world import upload

REPO = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.synapse,
    pytest.mark.skipif(os.environ.get("PARTA_TEST_DB", "sqlite") != "postgres",
                       reason="backups of the production database (PostgreSQL) only"),
]


def rows(dsn: str, sql: str) -> list[tuple]:
    conn = psycopg2.connect(dsn)
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
            return cur.fetchall()
    finally:
        conn.close()


@pytest.fixture
def restored_db():
    """An empty database created as Synapse needs (C collation), dropped afterwards."""
    name = f"parta_restore_{uuid.uuid4().hex[:10]}"
    _pg(f"CREATE DATABASE {name} ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0")
    try:
        yield PG_ADMIN_DSN.replace("dbname=postgres", f"dbname={name}")
    finally:
        _pg(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


async def test_a_backup_restores_the_database_the_keys_and_the_media(hs, installation, restored_db, tmp_path):
    school = await hs.new_school()
    someone = await hs.outsider()
    mxc = await upload(someone, b"%PDF-1.4 lesson plan\n", "application/pdf", "plan.pdf")
    media_id = mxc.rsplit("/", 1)[1]
    dsn = installation.database
    out = tmp_path / "backup"

    done = subprocess.run(["sh", str(REPO / "docker" / "backup.sh"), dsn, str(installation.root), str(out)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    stamp = done.stdout.strip().splitlines()[-1]
    assert {p.name for p in out.iterdir()} == {f"parta-{stamp}.pgdump", f"parta-data-{stamp}.tar.gz",
                                               f"parta-media-{stamp}.tar.gz"}
    assert all(p.stat().st_mode & 0o077 == 0 for p in out.iterdir())  # secrets inside: the owner's only

    target = tmp_path / "restored"
    done = subprocess.run(["sh", str(REPO / "docker" / "restore.sh"), str(out), stamp, restored_db, str(target)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr

    # the database: Synapse's accounts and rooms, the school in the service's schema, the bridge's tables
    for sql in ("SELECT name FROM users ORDER BY name", "SELECT room_id FROM rooms ORDER BY room_id",
                "SELECT media_id FROM local_media_repository ORDER BY media_id"):
        assert rows(restored_db, sql) == rows(dsn, sql), sql
    assert (school["org"],) in rows(restored_db, "SELECT id FROM parta_provisioning.organizations")
    assert (media_id,) in rows(restored_db, "SELECT media_id FROM local_media_repository")
    # the installation's identity and secrets, byte for byte
    keys = [p.name for p in installation.root.glob("*.signing.key")] + ["parta.yaml", "homeserver.yaml"]
    for name in keys:
        assert (target / name).read_bytes() == (installation.root / name).read_bytes(), name
    # the uploaded file
    stored = [p for p in (installation.root / "media_store").rglob("*") if p.is_file() and p.name == media_id[4:]]
    assert stored, "the upload is in the media store"
    for p in stored:
        assert (target / "media_store" / p.relative_to(installation.root / "media_store")).read_bytes() \
            == p.read_bytes()


def test_restore_refuses_an_existing_directory_and_a_partial_backup(tmp_path):
    existing = tmp_path / "there"
    existing.mkdir()
    (tmp_path / "b").mkdir()
    done = subprocess.run(["sh", str(REPO / "docker" / "restore.sh"), str(tmp_path / "b"), "S", "dbname=x",
                           str(existing)], capture_output=True, text=True)
    assert done.returncode == 2 and "parta-S.pgdump is missing" in done.stderr
    for name in ("parta-S.pgdump", "parta-data-S.tar.gz", "parta-media-S.tar.gz"):
        (tmp_path / "b" / name).write_bytes(b"")
    done = subprocess.run(["sh", str(REPO / "docker" / "restore.sh"), str(tmp_path / "b"), "S", "dbname=x",
                           str(existing)], capture_output=True, text=True)
    assert done.returncode == 2 and "exists" in done.stderr

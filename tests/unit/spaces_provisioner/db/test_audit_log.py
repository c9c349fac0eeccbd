"""The audit log's helper and its migration: an older database keeps its lines and gains the organization
column (filled from each line's detail) and the client's address; ``audit(tx, actor, action, **detail)``
keeps working as before. PostgreSQL too when ``PARTA_TEST_DB=postgres``."""

from __future__ import annotations

import json
import os
import uuid

import psycopg2
import pytest
import sqlalchemy as sa

from policies import moderation
from policies.capabilities import Account, Membership, RoomInfo
from policies.model import Role

from spaces_provisioner.db import schema as st

PG_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"

#: The audit log as Parta made it before issue 12 (SQLAlchemy's DDL for each database).
OLD = sa.MetaData()
OLD_AUDIT = sa.Table("audit_log", OLD, sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
                     sa.Column("ts", sa.BigInteger, nullable=False), sa.Column("actor", sa.Text, nullable=False),
                     sa.Column("action", sa.Text, nullable=False), sa.Column("detail", sa.Text, nullable=False))


def _pg(sql: str) -> None:
    conn = psycopg2.connect(PG_ADMIN)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
    finally:
        conn.close()


@pytest.fixture(params=["sqlite", "postgres"])
def url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'parta.db'}"
        return
    if os.environ.get("PARTA_TEST_DB") != "postgres":
        pytest.skip("PostgreSQL only with PARTA_TEST_DB=postgres")
    name = f"parta_audit_{uuid.uuid4().hex[:10]}"
    _pg(f"CREATE DATABASE {name}")
    try:
        yield PG_ADMIN.replace("dbname=postgres", f"dbname={name}")
    finally:
        _pg(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def test_an_older_audit_log_is_migrated_and_keeps_its_lines(url):
    engine = st.make_engine(url)
    OLD.create_all(engine)
    with engine.begin() as conn:
        for i, (action, detail) in enumerate([("organization.approve", {"id": "school-7"}),
                                              ("person.remove", {"org": "school-7", "person": "p1"}),
                                              ("account.create", {"user_id": "@x:s"})], 1):
            conn.execute(OLD_AUDIT.insert().values(ts=1000 * i, actor="operator", action=action,
                                                   detail=json.dumps(detail)))
    engine.dispose()
    store = st.Store(url)
    with store.begin() as tx:
        rows = tx.execute(sa.select(st.audit_log).order_by(st.audit_log.c.id)).all()
        assert [(r.action, r.org_id, r.origin) for r in rows] == [
            ("organization.approve", "school-7", None), ("person.remove", "school-7", None),
            ("account.create", None, None)]
        # the old positional call still works; the request's address comes along
        token = st.audit_origin.set("192.0.2.7")
        try:
            st.audit(tx, "@admin:s", "link.revoke", org="school-7", code="ABCD")
        finally:
            st.audit_origin.reset(token)
        st.audit(tx, "parta", "roster.import", org="school-7")
        last = tx.execute(sa.select(st.audit_log).order_by(st.audit_log.c.id.desc()).limit(2)).all()
        assert [(r.actor, r.org_id, r.origin) for r in last] == [("parta", "school-7", None),
                                                                 ("@admin:s", "school-7", "192.0.2.7")]
        assert json.loads(last[1].detail) == {"org": "school-7", "code": "ABCD"}
    store.close()
    st.Store(url).close()          # a second start changes nothing


def _account(user_id: str, *orgs: str) -> Account:
    return Account(user_id, {o: Membership(org=o, role=Role.STUDENT) for o in orgs})


def test_a_report_goes_only_to_the_reporters_schools():
    pupil_a = _account("@a:s", "A")
    both = _account("@ab:s", "A", "B")
    assert moderation.report_schools(pupil_a, RoomInfo(kind="class_chat", org="A")) == {"A"}
    assert moderation.report_schools(pupil_a, RoomInfo(kind="class_chat", org="B")) == set()
    assert moderation.report_schools(both, RoomInfo(kind="network", orgs=("B", "C"))) == {"B"}
    # a direct chat, or a person: the schools the reporter shares with the reported person, else the reporter's
    assert moderation.report_schools(both, RoomInfo(kind="dm"), {"B"}) == {"B"}
    assert moderation.report_schools(both, None, {"Z"}) == {"A", "B"}
    assert moderation.report_schools(_account("@out:s"), None, {"A"}) == set()

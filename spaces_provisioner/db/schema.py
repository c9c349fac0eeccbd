"""The provisioning service's own database: applications, organizations, rosters, rooms, audit log.

SQLite by default (a file in the installation directory), PostgreSQL through
psycopg2 (tables in the schema ``parta_provisioning`` of the given database). SQLAlchemy Core
gives one set of statements for both. Every write of one operation runs in one
transaction (``with store.begin() as tx``), so a refused input leaves nothing behind.

Tables (``metadata`` below is the reference): ``applications`` (pending and
approved organization applications), ``organizations``, ``rooms`` (room key →
room id), ``classes``, ``people`` (roster people and the application's contacts;
``user_id`` once they have an account), ``enrollments``, ``guardianships``,
``audit_log`` (with the organization and the client's address: :func:`audit`), ``reports``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

PG_SCHEMA = "parta_provisioning"  # not "parta": a role of that name would put it first in Synapse's search_path

metadata = sa.MetaData()

applications = sa.Table(
    "applications", metadata,
    sa.Column("id", sa.Text, primary_key=True),          # the organization's slug
    sa.Column("status", sa.Text, nullable=False),         # pending | approved
    sa.Column("fingerprint", sa.Text, nullable=False),    # sha256 of the canonical application
    sa.Column("payload", sa.Text, nullable=False),        # canonical JSON
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("updated_at", sa.BigInteger, nullable=False),
)

organizations = sa.Table(
    "organizations", metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("fingerprint", sa.Text, nullable=False),    # of the approved application
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("approved_at", sa.BigInteger, nullable=False),
)

rooms = sa.Table(
    "rooms", metadata,
    sa.Column("key", sa.Text, primary_key=True),          # RoomRef.key
    sa.Column("org_id", sa.Text, nullable=False, index=True),
    sa.Column("room_id", sa.Text, nullable=False, unique=True),
)

classes = sa.Table(
    "classes", metadata,
    sa.Column("org_id", sa.Text, primary_key=True),
    sa.Column("class_id", sa.Text, primary_key=True),    # roster sourcedId
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("grades", sa.Text, nullable=False),        # JSON list
)

people = sa.Table(
    "people", metadata,
    sa.Column("org_id", sa.Text, primary_key=True),
    sa.Column("person_id", sa.Text, primary_key=True),   # roster sourcedId, or "application:administrator"
    sa.Column("family_name", sa.Text, nullable=False),
    sa.Column("given_name", sa.Text, nullable=False),
    sa.Column("middle_name", sa.Text, nullable=False),
    sa.Column("role", sa.Text, nullable=False),
    sa.Column("grades", sa.Text, nullable=False),        # JSON list
    sa.Column("confirmed", sa.Boolean, nullable=False, default=False),
    sa.Column("user_id", sa.Text, nullable=True, index=True),
    sa.Column("status", sa.Text, nullable=False, default="active"),   # active | removed
    sa.Column("display_name_set", sa.Text, nullable=True),           # the display name the bot last set
    sa.Column("guardian_email", sa.Text, nullable=True),             # a young pupil's parent's checked e-mail
)

enrollments = sa.Table(
    "enrollments", metadata,
    sa.Column("org_id", sa.Text, primary_key=True),
    sa.Column("class_id", sa.Text, primary_key=True),
    sa.Column("person_id", sa.Text, primary_key=True),
    sa.Column("role", sa.Text, nullable=False),
    sa.Column("is_primary", sa.Boolean, nullable=False, default=False),
)

guardianships = sa.Table(
    "guardianships", metadata,
    sa.Column("org_id", sa.Text, primary_key=True),
    sa.Column("student_id", sa.Text, primary_key=True),
    sa.Column("guardian_id", sa.Text, primary_key=True),
    sa.Column("relation", sa.Text, nullable=False),
)

links = sa.Table(
    "links", metadata,
    sa.Column("code", sa.Text, primary_key=True),          # also the Synapse registration token
    sa.Column("org_id", sa.Text, nullable=False, index=True),
    sa.Column("role", sa.Text, nullable=True),             # who registers with it; None: chat link only
    sa.Column("class_id", sa.Text, nullable=True),
    sa.Column("person_id", sa.Text, nullable=True),        # personal code of one roster person
    sa.Column("child_user_id", sa.Text, nullable=True),    # a parent's link: the child's account
    sa.Column("child_person_id", sa.Text, nullable=True),  # ... or the child's roster entry
    sa.Column("rooms", sa.Text, nullable=False, default="[]"),  # JSON list of room ids (chat links)
    sa.Column("uses", sa.Integer, nullable=False, default=0),
    sa.Column("uses_allowed", sa.Integer, nullable=True),
    sa.Column("expires_at", sa.BigInteger, nullable=True),
    sa.Column("revoked", sa.Boolean, nullable=False, default=False),
    sa.Column("created_by", sa.Text, nullable=False),
    sa.Column("created_at", sa.BigInteger, nullable=False),
)

registrations = sa.Table(
    "registrations", metadata,                              # accounts created with a Parta link
    sa.Column("user_id", sa.Text, primary_key=True),
    sa.Column("code", sa.Text, nullable=False),
    sa.Column("org_id", sa.Text, nullable=False),
    sa.Column("person_id", sa.Text, nullable=False),
    sa.Column("processed_at", sa.BigInteger, nullable=False),
)

redemptions = sa.Table(
    "redemptions", metadata,                                # links used by signed-in accounts
    sa.Column("code", sa.Text, primary_key=True),
    sa.Column("user_id", sa.Text, primary_key=True),
    sa.Column("ts", sa.BigInteger, nullable=False),
)

page_registrations = sa.Table(
    "page_registrations", metadata,                         # what the registration page learned
    sa.Column("localpart", sa.Text, primary_key=True),
    sa.Column("code", sa.Text, nullable=False),
    sa.Column("family_name", sa.Text, nullable=False),
    sa.Column("given_name", sa.Text, nullable=False),
    sa.Column("middle_name", sa.Text, nullable=False),
    sa.Column("guardian_email", sa.Text, nullable=True),
    sa.Column("created_at", sa.BigInteger, nullable=False),
)

email_codes = sa.Table(
    "email_codes", metadata,                                # 6-digit codes sent to parents
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("code", sa.Text, nullable=False),            # the link the registration uses
    sa.Column("email", sa.Text, nullable=False),
    sa.Column("digest", sa.Text, nullable=False),          # sha256 of the 6 digits with a salt
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("expires_at", sa.BigInteger, nullable=False),
    sa.Column("verified", sa.Boolean, nullable=False, default=False),
)

state = sa.Table(
    "state", metadata,                                      # small service values (sweep positions)
    sa.Column("key", sa.Text, primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

audit_log = sa.Table(
    "audit_log", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("ts", sa.BigInteger, nullable=False),
    sa.Column("actor", sa.Text, nullable=False),
    sa.Column("action", sa.Text, nullable=False),
    sa.Column("detail", sa.Text, nullable=False),        # JSON
    # added in issue 12 (Store._migrate adds them to an older database and fills org_id from detail)
    sa.Column("org_id", sa.Text, nullable=True, index=True),  # the organization acted on; None: installation-wide
    sa.Column("origin", sa.Text, nullable=True),         # the client's address (API), None: the service itself
)

reports = sa.Table(
    "reports", metadata,                                    # Matrix reports delivered to a school (issue 12)
    sa.Column("id", sa.Text, primary_key=True),           # "event:17", "user:3", "room:5" (Synapse's report id)
    sa.Column("org_id", sa.Text, primary_key=True),       # the school it went to ("": it reached none)
    sa.Column("kind", sa.Text, nullable=False),           # event | room | user
    sa.Column("reporter", sa.Text, nullable=False),
    sa.Column("room_id", sa.Text, nullable=True),
    sa.Column("event_id", sa.Text, nullable=True),
    sa.Column("target_user", sa.Text, nullable=True),     # the reported user, or the reported event's sender
    sa.Column("reason", sa.Text, nullable=False, default=""),
    sa.Column("content", sa.Text, nullable=True),         # the reported message's text as reported
    sa.Column("received_ts", sa.BigInteger, nullable=False),
    sa.Column("notice_event_id", sa.Text, nullable=True),  # the notice in the school's moderation room
)

#: Where the current request comes from (the client's address), set by the API per request and
#: read by :func:`audit`: every ``audit(...)`` inside a request records it without being told.
audit_origin: ContextVar[str | None] = ContextVar("audit_origin", default=None)


def now_ms() -> int:
    """Milliseconds since the epoch (the unit of every timestamp column)."""
    return int(time.time() * 1000)


def make_engine(url: str) -> Engine:
    """An engine for ``sqlite:///PATH`` or a PostgreSQL DSN (URI or ``key=value``).

    For PostgreSQL the tables live in schema ``parta_provisioning`` (created when missing).
    """
    if url.startswith("sqlite:"):
        engine = sa.create_engine(url)

        @sa.event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record):  # noqa: ANN001
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=10000")
            cur.close()

        return engine
    import psycopg2

    def connect():
        conn = psycopg2.connect(url)
        with conn.cursor() as cur:
            cur.execute(f"CREATE SCHEMA IF NOT EXISTS {PG_SCHEMA}")
            cur.execute(f"SET search_path TO {PG_SCHEMA}")
        conn.commit()
        return conn

    return sa.create_engine("postgresql+psycopg2://", creator=connect, pool_pre_ping=True)


class Store:
    """The database of one installation. ``begin()`` opens a transaction."""

    def __init__(self, url: str):
        self.engine = make_engine(url)
        metadata.create_all(self.engine)
        self._migrate()

    def _migrate(self) -> None:
        """Bring a database made by an older Parta up to ``metadata`` (each step idempotent, existing rows kept).

        ``create_all`` makes missing tables only; columns added to an existing table are added here:
        ``audit_log.org_id`` and ``origin`` (issue 12), ``org_id`` filled from each row's ``detail``
        (``org``, or ``id`` of an application's and an organization's own lines).
        """
        with self.engine.begin() as conn:
            have = {c["name"] for c in sa.inspect(conn).get_columns("audit_log")}
            if "org_id" in have and "origin" in have:
                return
            for column in ("org_id", "origin"):
                if column not in have:
                    conn.execute(sa.text(f"ALTER TABLE audit_log ADD COLUMN {column} TEXT"))
            if conn.dialect.name == "postgresql":  # in the database: psycopg2's executemany is a statement a row
                by_id = ", ".join(f"'{a}'" for a in _ORG_BY_ID)
                conn.execute(sa.text(
                    "UPDATE audit_log SET org_id = NULLIF(CASE WHEN json_typeof(detail::json -> k) = 'string' "
                    "THEN detail::json ->> k END, '') FROM (SELECT id AS row_id, CASE WHEN action IN "
                    f"({by_id}) THEN 'id' ELSE 'org' END AS k FROM audit_log) AS keys WHERE id = keys.row_id"))
            else:
                rows = conn.execute(sa.select(audit_log.c.id, audit_log.c.action, audit_log.c.detail)).all()
                filled = [{"row_id": r.id, "org": org} for r in rows
                          if (org := audit_org(r.action, json.loads(r.detail or "{}"))) is not None]
                if filled:
                    conn.execute(audit_log.update().where(audit_log.c.id == sa.bindparam("row_id"))
                                 .values(org_id=sa.bindparam("org")), filled)
            for index in audit_log.indexes:
                index.create(conn, checkfirst=True)

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """A transaction: committed when the block ends, rolled back on an exception."""
        with self.engine.begin() as conn:
            yield conn

    def close(self) -> None:
        """Release the connection pool."""
        self.engine.dispose()


#: Audit actions whose organization is named by ``id`` (the application's slug) rather than ``org``.
_ORG_BY_ID = ("application.apply", "organization.approve")


def audit_org(action: str, detail: dict) -> str | None:
    """The organization an audit line is about: its ``org`` detail (``id`` for an application's lines)."""
    org = detail.get("id") if action in _ORG_BY_ID else detail.get("org")
    return org if isinstance(org, str) and org else None


def audit(tx: Connection, actor: str, action: str, **detail) -> None:
    """Append a line to the audit log (inside the caller's transaction, so it is kept only with the change).

    ``actor``: a user id, ``operator``, ``parta`` or ``homeserver``; ``action``: ``noun.verb``
    (``person.remove``, ``moderation.redact``...); ``detail``: JSON-serialisable keywords, kept as
    given. ``org=`` (``id=`` for ``application.apply`` and ``organization.approve``) also fills the
    ``org_id`` column the per-organization queries use; the client's address comes from
    :data:`audit_origin` (set by the API for each request).
    """
    tx.execute(audit_log.insert().values(ts=now_ms(), actor=actor, action=action,
                                         detail=json.dumps(detail, ensure_ascii=False, sort_keys=True),
                                         org_id=audit_org(action, detail), origin=audit_origin.get()))

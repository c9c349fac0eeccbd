"""Session fixtures: one real Synapse process with Parta's module plus the provisioning service.

``PARTA_TEST_DB=postgres`` runs the same suite with Synapse and the provisioning
database on a fresh PostgreSQL database (C collation), created here and dropped at
the end. ``PARTA_TEST_TOPOLOGY=workers`` runs it on Synapse's worker topology behind nginx
(PostgreSQL and Redis; ``tests/workers_topology.py``). The only test-specific changes to the
generated configuration are relaxed rate limits (many clients log in from one address within
seconds) and cheap password hashes; the test database's commits do not wait for the disk.
"""

from __future__ import annotations

import email
import email.policy
import os
import uuid
from pathlib import Path

import psycopg2
import pytest
from ruamel.yaml import YAML

from spaces_provisioner.install.installation import init_installation
from spaces_provisioner.install.metrics import enable_metrics
from spaces_provisioner.install.supervisor import running
from spaces_provisioner.settings import Settings
from tests.samples import shared_rosters_dir

from .helpers import Homeserver
from .passes import pytest_collection_modifyitems, pytest_configure  # noqa: F401 - hooks: the db_free mark
from .processes import free_port
from .schools import write_attack_roster
from .workers_topology import make_workers, workers_wanted

REPO = Path(__file__).resolve().parents[1]
SHARED_ROSTERS = shared_rosters_dir() or REPO.parent / "shared" / "data" / "rosters"
PG_ADMIN_DSN = os.environ.get("PARTA_TEST_PG", "host=127.0.0.1 port=5432 user=postgres dbname=postgres")
SERVER_NAME = "school.test"

RELAXED = {"per_second": 1000, "burst_count": 1000}
RATE_LIMITS = {
    "rc_message": RELAXED, "rc_registration": RELAXED, "rc_room_creation": RELAXED,
    "rc_login": {"address": RELAXED, "account": RELAXED, "failed_attempts": RELAXED},
    "rc_joins": {"local": RELAXED, "remote": RELAXED},
    "rc_joins_per_room": RELAXED,
    "rc_invites": {"per_room": RELAXED, "per_user": RELAXED, "per_issuer": RELAXED},
    "rc_3pid_validation": RELAXED, "rc_admin_redaction": RELAXED, "rc_presence": {"per_user": RELAXED},
    "rc_delayed_event_mgmt": RELAXED, "rc_reports": RELAXED, "rc_room_directory": RELAXED,
    # the links' tests ask the token validity endpoint (Synapse: 0.1/s, burst 5, per address) many times
    "rc_registration_token_validity": RELAXED,
}


def _pg(sql: str) -> None:
    conn = psycopg2.connect(PG_ADMIN_DSN)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
    finally:
        conn.close()


#: Test-only: the cheapest password hash Synapse accepts. Every account a test makes and every
#: password sign-in costs one bcrypt hash, 0.2-0.3 s of a core at the configured 12 rounds; the
#: suite proves behaviour, and bench/provision.py measures at the real rounds.
TEST_BCRYPT_ROUNDS = 4


def relax_rate_limits(config_path: Path) -> None:
    """Test-only: raise Synapse's rate limits so that many test clients can act at once, and make
    password hashes cheap (``TEST_BCRYPT_ROUNDS``)."""
    y = YAML()
    data = y.load(config_path.read_text(encoding="utf-8"))
    data.update(RATE_LIMITS)
    data["bcrypt_rounds"] = TEST_BCRYPT_ROUNDS
    with config_path.open("w", encoding="utf-8") as f:
        y.dump(data, f)


@pytest.fixture(scope="session")
def postgres_dsn():
    """A fresh PostgreSQL database (C collation) when PARTA_TEST_DB=postgres (or the worker topology,
    which needs PostgreSQL), else None."""
    if os.environ.get("PARTA_TEST_DB", "sqlite") != "postgres" and not workers_wanted():
        yield None
        return
    name = f"parta_test_{uuid.uuid4().hex[:10]}"
    _pg(f"CREATE DATABASE {name} LOCALE 'C' TEMPLATE template0 ENCODING 'UTF8'")
    # test-only: commits of this throwaway database do not wait for the disk (4-10 ms a commit here, and a
    # PostgreSQL pass makes tens of thousands); still atomic and isolated, only a PostgreSQL crash could lose
    # the last ones (PostgreSQL docs: "Asynchronous Commit")
    _pg(f"ALTER DATABASE {name} SET synchronous_commit = off")
    try:
        yield PG_ADMIN_DSN.replace("dbname=postgres", f"dbname={name}")
    finally:
        _pg(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


class Mailbox:
    """A real SMTP server (aiosmtpd) that keeps every message it receives."""

    def __init__(self):
        from aiosmtpd.controller import Controller

        self.messages: list[email.message.EmailMessage] = []
        self.port = free_port()
        mailbox = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
                mailbox.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
                return "250 OK"

        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)

    def to(self, address: str) -> list:
        """Messages sent to ``address``."""
        return [m for m in self.messages if address in m["To"]]


@pytest.fixture(scope="session")
def mailbox():
    """The SMTP server the homeserver's ``email`` settings point to."""
    box = Mailbox()
    box.controller.start()
    yield box
    box.controller.stop()


@pytest.fixture(scope="session")
def installation(tmp_path_factory, postgres_dsn, mailbox) -> Settings:
    """An initialized installation directory (not running), its e-mail going to ``mailbox``."""
    root = tmp_path_factory.mktemp("parta")
    settings = init_installation(root, SERVER_NAME, postgres_dsn=postgres_dsn, port=free_port(),
                                 provisioning_port=free_port(), bridge_port=free_port(),
                                 turn_port=free_port())  # not 3478: make test runs SQLite and PostgreSQL side by side
    relax_rate_limits(settings.homeserver_config)
    y = YAML()
    data = y.load(settings.homeserver_config.read_text(encoding="utf-8"))
    data["email"] = {"smtp_host": "127.0.0.1", "smtp_port": mailbox.port,
                     "notif_from": "Parta <noreply@school.test>", "enable_notifs": False}
    # test-only: the quiet-hours tests run a push gateway on 127.0.0.1, which Synapse's pushers
    # (a blocklisted HTTP client) refuse unless allowed
    data["ip_range_whitelist"] = ["127.0.0.1"]
    with settings.homeserver_config.open("w", encoding="utf-8") as f:
        y.dump(data, f)
    enable_metrics(settings.homeserver_config, free_port())  # /_synapse/metrics: tests/integration/test_metrics.py
    if workers_wanted():  # PARTA_TEST_TOPOLOGY=workers: Synapse's workers behind nginx (homeserver_url: nginx)
        make_workers(settings)
    return settings


@pytest.fixture(scope="session")
def services(installation):
    """Synapse and the provisioning service, running for the whole session."""
    with running(installation) as procs:
        yield procs


@pytest.fixture(scope="session")
async def hs(installation, services):
    """A :class:`tests.helpers.Homeserver` handle: the bot, the provisioning API, logins."""
    handle = Homeserver(installation)
    await handle.open()
    yield handle
    await handle.close()


@pytest.fixture(scope="session")
def school_roster(tmp_path_factory) -> Path:
    """A generated two-class school (``tests.schools.attack_school``) as a OneRoster 1.2 roster folder."""
    return write_attack_roster(tmp_path_factory.mktemp("school-roster"))


@pytest.fixture(scope="session")
def sds_sample() -> Path:
    """The School Data Sync v2.1 sample roster (written by others; read in place)."""
    path = SHARED_ROSTERS / "sds-v2.1-sample"
    if not path.exists():
        pytest.skip("the shared roster samples are not next to the repository")
    return path


@pytest.fixture(scope="session")
def oneroster_sample() -> Path:
    """The OneRoster 1.2 sample roster (written by others; read in place)."""
    path = SHARED_ROSTERS / "oneroster-v1p2-sample"
    if not path.exists():
        pytest.skip("the shared roster samples are not next to the repository")
    return path

"""Issue 9: an operation killed with SIGKILL at any point completes on the next run, with no duplicates.

A homeserver of its own (the session's one keeps running for the other tests): its provisioning
service is started with ``PARTA_TEST_CRASH_AT`` naming a point of :mod:`spaces_provisioner.faults`,
the operation is sent, the service dies there (no clean-up), a normal service is started and the
same operation sent again. Then every room exists once, under its address, everyone is placed and
has one account, and a third run changes nothing.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections import Counter

import aiohttp
import pytest

from policies.state_events import PartaEventTypes
from policies.templates import RoomRef, default_templates

from spaces_provisioner.api.client import ApiClient
from spaces_provisioner.install.installation import init_installation
from spaces_provisioner.install.processes import start_provisioning, start_synapse
from spaces_provisioner.roster.source import zip_folder

from ..conftest import PG_ADMIN_DSN, SERVER_NAME, _pg, relax_rate_limits
from ..helpers import EXAMPLE_APPLICATION, Homeserver, User
from ..processes import free_port
from ..schools import attack_cast, edit_roster, write_attack_roster

pytestmark = pytest.mark.synapse
T = default_templates()
V = "/_matrix/client/v3"


@pytest.fixture(scope="module")
def own(tmp_path_factory):
    """An installation with its own Synapse running; the provisioning service is the test's."""
    dsn = None
    if os.environ.get("PARTA_TEST_DB", "sqlite") == "postgres":
        name = f"parta_resume_{uuid.uuid4().hex[:10]}"
        _pg(f"CREATE DATABASE {name} LOCALE 'C' TEMPLATE template0 ENCODING 'UTF8'")
        dsn = PG_ADMIN_DSN.replace("dbname=postgres", f"dbname={name}")
    root = tmp_path_factory.mktemp("resume")
    settings = init_installation(root, SERVER_NAME, postgres_dsn=dsn, port=free_port(),
                                 provisioning_port=free_port(), turn_port=free_port())
    relax_rate_limits(settings.homeserver_config)
    synapse = start_synapse(settings.homeserver_config, settings.homeserver_url, settings.logs_dir)
    try:
        synapse.wait_healthy(90)
        yield settings
    finally:
        synapse.stop()
        if dsn is not None:
            _pg(f"DROP DATABASE IF EXISTS {dsn.rsplit('=', 1)[1]} WITH (FORCE)")
        shutil.rmtree(root, ignore_errors=True)


class Service:
    """The provisioning service of ``own``, started (optionally armed to crash) and stopped by the test."""

    def __init__(self, settings, crash_at: str | None = None):
        self.settings = settings
        previous = os.environ.get("PARTA_TEST_CRASH_AT")
        if crash_at:
            os.environ["PARTA_TEST_CRASH_AT"] = crash_at
        try:
            self.service = start_provisioning(settings.root, settings.provisioning_url, settings.logs_dir)
        finally:
            if previous is None:
                os.environ.pop("PARTA_TEST_CRASH_AT", None)
            else:
                os.environ["PARTA_TEST_CRASH_AT"] = previous
        self.service.wait_healthy(60)

    def killed(self) -> bool:
        return self.service.process.wait(timeout=60) == -9

    def stop(self) -> None:
        if self.service.process.poll() is None:
            self.service.stop()


async def crashed(settings, point: str, call) -> None:
    """Run ``call(api)`` against a service armed to die at ``point``; assert that it died there."""
    service = Service(settings, point)
    try:
        async with ApiClient(settings.provisioning_url, settings.operator_token) as api:
            with pytest.raises((aiohttp.ClientError, ConnectionError)):
                await call(api)
        assert service.killed(), f"the service did not die at {point}"
    finally:
        service.stop()


async def school_rooms_once(hs: Homeserver, org: str) -> dict[str, str]:
    """Every room of the organization's templates, found by its address, exactly once among the
    rooms the bot made for it (no duplicate from a resumed run)."""
    with_tags: Counter = Counter()
    for room_id in await hs.bot.joined_rooms_of(hs.bot.user_id):
        state = await hs.bot.room_state_or_none(room_id)
        tag = (state or {}).get((PartaEventTypes.ROOM, "")) or {}
        if tag.get("org") == org and tag.get("kind") != "archive":
            with_tags[(tag.get("kind"), tag.get("class"))] += 1
    duplicates = {k: n for k, n in with_tags.items() if n > 1}
    assert not duplicates, duplicates
    rooms = {}
    for ref in T.refs_for_org(org, sorted({c for _k, c in with_tags if c})):
        room_id = await hs.bot.resolve_alias(f"#{T.alias_localpart(ref)}:{hs.server_name}")
        assert room_id is not None, ref
        rooms[ref.key] = room_id
    return rooms


async def new_org(api: ApiClient, tag: str) -> str:
    from spaces_provisioner.cli.application_file import read_application_data

    data = read_application_data(EXAMPLE_APPLICATION)
    data["slug"] = f"r-{tag.replace('_', '-')[:20]}-{uuid.uuid4().hex[:6]}"
    await api.apply_application(data)
    await api.approve(data["slug"])
    return data["slug"]


@pytest.mark.parametrize("point", ["roster.applied", "reconcile.room_created:3", "reconcile.joined:2"])
async def test_roster_import_killed_completes(own, tmp_path, point):
    c = attack_cast()
    roster = write_attack_roster(tmp_path / "roster")
    service = Service(own)
    try:
        async with ApiClient(own.provisioning_url, own.operator_token) as api:
            org = await new_org(api, point.split(":")[0].replace(".", "-"))
            if point.startswith("reconcile.joined"):
                # people with accounts, so that the later roster's reconcile joins (and moves) them
                await api.import_roster(org, zip_folder(roster))
                await api.provision_many(org)
                roster = edit_roster(roster, move={c.student: "class-01a"})
    finally:
        service.stop()
    await crashed(own, point, lambda api: api.import_roster(org, zip_folder(roster)))
    service = Service(own)
    try:
        hs = Homeserver(own)
        await hs.open()
        try:
            again = await hs.api.import_roster(org, zip_folder(roster))
            assert again["problems"] == [], again
            rooms = await school_rooms_once(hs, org)
            assert (await hs.api.import_roster(org, zip_folder(roster)))["changes"] == 0
            if point.startswith("reconcile.joined"):
                people = {p["person_id"]: p for p in (await hs.api.people(org))["people"]}
                chat = rooms[RoomRef(org, "class_chat", "class-01a").key]
                assert people[c.student]["user_id"] in await hs.bot.joined_members(chat)
        finally:
            await hs.close()
    finally:
        service.stop()


async def test_accounts_killed_completes_without_duplicates(own, tmp_path):
    roster = write_attack_roster(tmp_path / "roster")
    service = Service(own)
    try:
        async with ApiClient(own.provisioning_url, own.operator_token) as api:
            org = await new_org(api, "accounts")
            await api.import_roster(org, zip_folder(roster))
    finally:
        service.stop()
    await crashed(own, "accounts.created:5", lambda api: api.provision_many(org))
    service = Service(own)
    try:
        hs = Homeserver(own)
        await hs.open()
        try:
            done = await hs.api.provision_many(org)
            people = [p for p in (await hs.api.people(org))["people"] if not p["person_id"].startswith("application:")]
            user_ids = [p["user_id"] for p in people]
            assert all(user_ids) and len(set(user_ids)) == len(user_ids)
            # everyone the interrupted run left without a usable password has one now
            by_person = {a["person_id"]: a for a in done["accounts"]}
            for p in people:
                if p["person_id"] in by_person:
                    user = await hs.login(p["user_id"], by_person[p["person_id"]]["password"])
                    assert isinstance(user, User)
            # the interrupted run's people (its passwords were lost with it) got new ones
            assert len(by_person) == len(people), (len(by_person), len(people))
            # no second account for anyone: every account of the run's names is someone's
            for p in people:
                base = p["user_id"].split(":")[0]
                assert await hs.bot.get_user(f"{base}2:{hs.server_name}") is None or any(
                    q["user_id"] == f"{base}2:{hs.server_name}" for q in people)
            assert (await hs.api.provision_many(org))["created"] == 0
        finally:
            await hs.close()
    finally:
        service.stop()


async def test_rollover_killed_completes(own, tmp_path):
    c = attack_cast()
    roster = write_attack_roster(tmp_path / "roster")
    service = Service(own)
    try:
        async with ApiClient(own.provisioning_url, own.operator_token) as api:
            org = await new_org(api, "rollover")
            await api.import_roster(org, zip_folder(roster))
            await api.provision_person(org, c.student)
    finally:
        service.stop()
    await crashed(own, "rollover.archived:2", lambda api: api.rollover(org, year="2025/26"))
    service = Service(own)
    try:
        hs = Homeserver(own)
        await hs.open()
        try:
            done = await hs.api.rollover(org, year="2025/26")
            assert not done.get("already"), done
            people = {p["person_id"]: p for p in (await hs.api.people(org))["people"]}
            assert people[c.student]["classes"] == ["class-06a"]
            rooms = await school_rooms_once(hs, org)
            assert people[c.student]["user_id"] in await hs.bot.joined_members(
                rooms[RoomRef(org, "class_chat", "class-06a").key])
            again = await hs.api.rollover(org, year="2025/26")
            assert again.get("already") and again["changes"] == 0, again
        finally:
            await hs.close()
    finally:
        service.stop()

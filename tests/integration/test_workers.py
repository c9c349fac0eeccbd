"""Issue 13 part 1: Parta on Synapse's worker topology (``parta init --workers``).

Runs on the session installation built as workers (``PARTA_TEST_TOPOLOGY=workers``: main, the
sync and client workers, the event persister, the media worker, the pusher, the background-tasks
worker, Redis and nginx, on a fresh PostgreSQL database; ``tests/workers_topology.py``); skipped
otherwise (``make test`` runs this file with the attack files on that topology). Every request
goes through nginx, whose ``X-Parta-Upstream`` header names the process that served it.
"""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest

from policies.templates import RoomRef, default_templates

from spaces_provisioner.install.workers import UPSTREAM_HEADER, Topology

from ..helpers import q
from ..schools import attack_cast, write_attack_roster
from ..workers_topology import workers_wanted
from .media_world import download, post_file, upload

pytestmark = [pytest.mark.synapse,
              pytest.mark.skipif(not workers_wanted(), reason="needs PARTA_TEST_TOPOLOGY=workers")]
T = default_templates()
V = "/_matrix/client/v3"


async def served_by(u, method: str, path: str, body=None) -> tuple[int, str, dict]:
    """``(status, the process nginx sent the request to, JSON body)`` of a request as ``u``."""
    async with aiohttp.ClientSession() as s, s.request(
            method, u.base_url + path, json=body, headers={"Authorization": f"Bearer {u.token}"}) as r:
        try:
            data = await r.json(content_type=None)
        except ValueError:
            data = {}
        return r.status, r.headers.get(UPSTREAM_HEADER, ""), data if isinstance(data, dict) else {}


@pytest.fixture(scope="module")
def topology(installation, services) -> Topology:
    t = Topology.load(installation.root)
    assert t is not None and t.nginx_url == installation.homeserver_url
    return t


@pytest.fixture(scope="module")
async def school(hs, tmp_path_factory):
    c = attack_cast()
    a = await hs.new_school(roster=write_attack_roster(tmp_path_factory.mktemp("workers-roster")))
    org = a["org"]
    staff = await hs.bot.resolve_alias(f"#{T.alias_localpart(RoomRef(org, 'staff_room'))}:{hs.server_name}")
    chat = await hs.bot.resolve_alias(
        f"#{T.alias_localpart(RoomRef(org, 'class_chat', c.class_id))}:{hs.server_name}")
    return {"org": org, "cast": c, "staff": staff, "class_chat": chat}


async def test_requests_land_on_different_workers(hs, topology, school):
    """Sync goes to the sync worker, the rest of the client API to the client worker, media to the
    media worker, what no worker serves to main; module resources and the Admin API stay closed."""
    pupil = await hs.person(school["org"], school["cast"].student)
    assert (await served_by(pupil, "GET", f"{V}/sync?timeout=0"))[:2] == (200, "client_sync")
    assert (await served_by(pupil, "GET", f"{V}/joined_rooms"))[:2] == (200, "client_main")
    assert (await served_by(pupil, "GET", "/_matrix/client/v1/media/config"))[:2] == (200, "media")
    assert (await served_by(pupil, "GET", f"{V}/pushrules/"))[:2] == (200, "main")
    assert (await served_by(pupil, "GET", "/_synapse/client/parta/registrations"))[0] == 404
    assert (await served_by(pupil, "GET", "/_synapse/admin/v1/server_version"))[0] == 404
    # nginx's log names the address it reached: each worker's own port
    port = {p.name: p.port for p in topology.processes}
    log = (topology.nginx_conf.parent / "logs" / "access.log").read_text(encoding="utf-8").splitlines()
    assert any("/sync?" in line and line.endswith(f"client_sync 127.0.0.1:{port['client_sync']}") for line in log)
    assert any("/joined_rooms " in line and line.endswith(f"client_main 127.0.0.1:{port['client_main']}")
               for line in log)
    assert any("/media/config " in line and line.endswith(f"media 127.0.0.1:{port['media']}") for line in log)


async def test_role_change_reaches_the_other_workers(hs, school, capsys):
    """An unconfirmed teacher is refused the staff room on the client worker; the operator confirms
    them (the provisioning service's bot writes through the main process, the event persister stores
    it); the join on the client worker and the room in the sync worker's /sync follow. The delay is
    measured and printed (no timed assertion: the machine is shared)."""
    c = school["cast"]
    teacher = await hs.person(school["org"], c.unconfirmed, confirmed=False)
    status, upstream, body = await served_by(teacher, "POST", f"{V}/join/{q(school['staff'])}", {})
    assert (status, upstream, body.get("org.parta.reason")) == (403, "client_main", "not_for_staff_room"), body
    start = time.monotonic()
    await hs.api.update_person(school["org"], teacher.user_id, {"confirmed": True})
    confirmed_at = time.monotonic()
    while True:
        status, upstream, body = await served_by(teacher, "POST", f"{V}/join/{q(school['staff'])}", {})
        if status == 200 or time.monotonic() - confirmed_at > 60:
            break
        await asyncio.sleep(0.05)
    joined_at = time.monotonic()
    assert (status, upstream) == (200, "client_main"), body
    status, upstream, body = await served_by(teacher, "GET", f"{V}/sync?timeout=0")
    assert (status, upstream) == (200, "client_sync")
    assert school["staff"] in body["rooms"]["join"]
    with capsys.disabled():
        print(f"\nworkers: confirmation written in {confirmed_at - start:.2f} s; the join on the client worker "
              f"succeeded {joined_at - confirmed_at:.2f} s after it")


async def test_display_names_changed_in_a_row(hs, school):
    """Names set one after another (a teacher joins, is confirmed and gets the badge, joins a second
    school): on workers each change's room update is cancelled over replication, and Synapse 1.163
    answers 500 while the last cancellation has not arrived (``_update_join_states``' assertion).
    The bot tries again; every change succeeds and the rooms end with the last name."""
    pupil = await hs.person(school["org"], school["cast"].student)
    names = [f"Проверка Имени {i}" for i in range(5)]
    for name in names:
        await hs.bot.set_displayname(pupil.user_id, name)
    deadline = time.monotonic() + 60
    while True:
        status, _, member = await served_by(
            pupil, "GET", f"{V}/rooms/{q(school['class_chat'])}/state/m.room.member/{q(pupil.user_id)}")
        assert status == 200, member
        if member.get("displayname") == names[-1] or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.2)
    assert member.get("displayname") == names[-1]


async def test_files_keep_their_rooms_on_the_media_worker(hs, school):
    """Upload and download go to the media worker, and Parta's rule (a file is for the rooms it was
    posted in) holds there: the classmate downloads, a pupil of another class is refused."""
    c = school["cast"]
    teacher = await hs.person(school["org"], c.teacher, confirmed=True)
    classmate = await hs.person(school["org"], c.classmate)
    other = await hs.person(school["org"], c.other_class)
    uri = await upload(teacher, b"worksheet 1\n", "text/plain", "worksheet.txt")
    await teacher.join(school["class_chat"])
    assert (await post_file(teacher, school["class_chat"], uri, "worksheet.txt"))[0] == 200
    for u in (classmate, other):
        try:
            await u.join(school["class_chat"])
        except Exception:  # noqa: BLE001 - the other class's pupil may not join; that is the point
            pass
    status, body, _ = await download(classmate, uri)
    assert (status, body) == (200, b"worksheet 1\n")
    status, _body, data = await download(other, uri)
    assert status in (403, 404) and data.get("errcode") in ("M_FORBIDDEN", "M_NOT_FOUND"), data
    _s, upstream, _b = await served_by(classmate, "GET", "/_matrix/client/v1/media/download/"
                                       + uri.removeprefix("mxc://"))
    assert upstream == "media"

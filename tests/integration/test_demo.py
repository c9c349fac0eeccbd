"""Issue 2, the main job end to end: ``parta demo --json`` brings up a school a newcomer can sign in to.

The demo runs as the user runs it (``python -m spaces_provisioner.cli demo``) in its own
data directory and ports, next to the session's homeserver. The test reads its one
JSON line, signs in as school A's administrator and as the account in no
organization with a real Matrix client, then stops the demo with Ctrl-C (SIGINT) and
checks that no Synapse is left behind.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys

import pytest
from mautrix.api import HTTPAPI, Method
from mautrix.errors import MatrixRequestError

from policies.templates import RoomRef, default_templates

from spaces_provisioner.homeserver.bot import BotClient
from spaces_provisioner.roster.generate import generate_school
from spaces_provisioner.settings import Settings

from ..helpers import REPO, password_login, q
from ..processes import alive, children_of, group_exists, port_pair, read_json_line

pytestmark = [
    pytest.mark.synapse,
    pytest.mark.skipif(os.environ.get("PARTA_TEST_DB", "sqlite") == "postgres",
                       reason="the demo runs on SQLite by design; the SQLite run covers it"),
]
T = default_templates()
READY_TIMEOUT = 120
STOP_TIMEOUT = 30
ROLES_A = {"admin", "head", "teacher", "teacher_unconfirmed", "student", "parent"}
ROLES_B = {"teacher", "student"}
#: The demo's school A: the generator's small school, seed 7 (spaces_provisioner.cli.demo.SEED)
SCHOOL_A = generate_school("small", seed=7)


async def login(base_url: str, user_id: str, password: str) -> HTTPAPI:
    r = await password_login(base_url, user_id, password)
    assert r["user_id"] == user_id
    api = HTTPAPI(base_url=base_url, token=r["access_token"])
    api.default_retry_count = 0
    return api


async def bodies(api: HTTPAPI, room_id: str) -> list[str]:
    """The texts of a room's messages, as ``api``'s user reads them."""
    r = await api.request(Method.GET, f"/_matrix/client/v3/rooms/{q(room_id)}/messages",
                          query_params={"dir": "b", "limit": "100"})
    return [e["content"].get("body", "") for e in r["chunk"] if e["type"] == "m.room.message"]


async def hierarchy(api: HTTPAPI, room_id: str) -> list[dict]:
    rooms, token = [], None
    while True:
        query = {"limit": "50", **({"from": token} if token else {})}
        r = await api.request(Method.GET, f"/_matrix/client/v1/rooms/{q(room_id)}/hierarchy", query_params=query)
        rooms += r["rooms"]
        token = r.get("next_batch")
        if not token:
            return rooms


async def poll_answered_and_exported(base: str, settings: Settings, teacher_account: dict, pupil: HTTPAPI,
                                     parent: HTTPAPI, room: str) -> None:
    """The teacher starts a poll (as Element sends it) in ``room``; the pupil and the parent answer; the
    teacher's CSV export (``GET /api/v1/rooms/{room}/polls/{event}/results``) lists both answers."""
    import aiohttp

    teacher = await login(base, teacher_account["user_id"], teacher_account["password"])
    try:
        path = f"/_matrix/client/v3/rooms/{q(room)}/send/org.matrix.msc3381.poll.start/demo-poll"
        poll = (await teacher.request(Method.PUT, path, {"org.matrix.msc3381.poll.start": {
            "question": {"org.matrix.msc1767.text": "Экскурсия в музей"}, "max_selections": 1,
            "kind": "org.matrix.msc3381.poll.disclosed",
            "answers": [{"id": "yes", "org.matrix.msc1767.text": "Согласны"}]}}))["event_id"]
        for n, u in enumerate((pupil, parent)):
            await u.request(Method.PUT, f"/_matrix/client/v3/rooms/{q(room)}/send/org.matrix.msc3381.poll.response/"
                                        f"demo-answer-{n}", {
                "m.relates_to": {"rel_type": "m.reference", "event_id": poll},
                "org.matrix.msc3381.poll.response": {"answers": ["yes"]}})
        url = f"{settings.provisioning_url}/api/v1/rooms/{q(room)}/polls/{q(poll)}/results"
        async with aiohttp.ClientSession() as s, s.get(url, params={"format": "csv"}, headers={
                "Authorization": f"Bearer {teacher.token}"}) as r:
            assert r.status == 200, await r.text()
            rows = (await r.read()).decode("utf-8-sig").splitlines()
        assert sum(1 for row in rows if ";Согласны;" in row) == 2, rows
    finally:
        await teacher.session.close()


async def report_reaches_moderation_and_redaction_is_audited(base: str, settings: Settings, school: str,
                                                             teacher_account: dict, admin: HTTPAPI, pupil: HTTPAPI,
                                                             room: str, moderation_room: str) -> None:
    """The pupil reports the teacher's message in ``room`` (Element's "Report"); within the service's
    5-second sweep it appears in the school's moderation room; the administrator redacts it through the
    API with their own token and the redaction is in the audit log."""
    import aiohttp

    teacher = await login(base, teacher_account["user_id"], teacher_account["password"])
    try:
        path = f"/_matrix/client/v3/rooms/{q(room)}/send/m.room.message/demo-report"
        message = await teacher.request(Method.PUT, path, {"msgtype": "m.text", "body": "Сообщение для жалобы"})
    finally:
        await teacher.session.close()
    await pupil.request(Method.POST, f"/_matrix/client/v3/rooms/{q(room)}/report/{q(message['event_id'])}",
                        {"reason": "обидное сообщение"})
    notice = None
    for _ in range(100):  # the service's own sweep, every 5 s
        chunk = (await admin.request(Method.GET, f"/_matrix/client/v3/rooms/{q(moderation_room)}/messages",
                                     query_params={"dir": "b", "limit": "20"}))["chunk"]
        notice = next((e for e in chunk if "org.parta.report" in e["content"]
                       and "Сообщение для жалобы" in e["content"].get("body", "")), None)
        if notice is not None:
            break
        await asyncio.sleep(0.3)
    assert notice is not None, "the report did not reach the moderation room"
    report = notice["content"]["org.parta.report"]["id"]
    headers = {"Authorization": f"Bearer {admin.token}"}
    async with aiohttp.ClientSession(headers=headers) as s:
        async with s.post(f"{settings.provisioning_url}/api/v1/organizations/{q(school)}/moderation",
                          json={"action": "redact", "report": report}) as r:
            assert r.status == 200, await r.text()
        async with s.get(f"{settings.provisioning_url}/api/v1/organizations/{q(school)}/audit",
                         params={"action": "moderation.redact"}) as r:
            entries = (await r.json())["entries"]
    assert entries and entries[0]["detail"]["report"] == report and entries[0]["detail"]["event"] == \
        message["event_id"], entries


@pytest.fixture
def demo(tmp_path):
    """``parta demo --json`` running in ``tmp_path``: yields (process, data dir, stderr file)."""
    port = port_pair()
    data_dir = tmp_path / "demo"
    stderr_path = tmp_path / "demo.stderr"
    with stderr_path.open("wb") as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-m", "spaces_provisioner.cli", "demo", "--port", str(port),
             "--data-dir", str(data_dir), "--json"],
            cwd=REPO, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=stderr,
            env={**os.environ, "PARTA_LANG": "en"}, start_new_session=True)
    children: set[int] = set()
    try:
        yield proc, port, data_dir, stderr_path, children
    finally:
        # whatever happened in the test: nothing of the demo may outlive it
        children.update(children_of(proc.pid))
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for pid in children:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        proc.stdout.close()


async def test_demo_reaches_its_json_line_and_shows_school_a(demo):
    proc, port, data_dir, stderr_path, children = demo
    summary, _before = await asyncio.to_thread(read_json_line, proc, READY_TIMEOUT)

    # the JSON line, exactly as issue 2 describes it
    assert set(summary) == {"homeserver", "provisioning", "server_name", "organizations", "accounts", "journal"}
    assert summary["homeserver"] == f"http://127.0.0.1:{port}"
    assert summary["provisioning"] == f"http://127.0.0.1:{port + 1}"
    assert summary["server_name"] == "parta.localhost"
    orgs = summary["organizations"]
    assert len(orgs) == 2
    for o in orgs:
        assert set(o) == {"id", "name", "space_id"}, o
        assert o["id"] and o["name"] and o["space_id"].startswith("!"), o
    school_a, school_b = (o["id"] for o in orgs)
    assert school_a != school_b
    accounts = summary["accounts"]
    for a in accounts:
        assert set(a) == {"role", "organization", "user_id", "password"}, a
        assert a["user_id"].endswith(":parta.localhost") and a["password"], a
    roles = {org: sorted(a["role"] for a in accounts if a["organization"] == org) for org in (school_a, school_b, None)}
    assert roles[school_a] == sorted(ROLES_A)
    assert roles[school_b] == sorted(ROLES_B)
    assert roles[None] == ["none"]
    assert len(accounts) == len(ROLES_A) + len(ROLES_B) + 1
    assert len({a["user_id"] for a in accounts}) == len(accounts)

    # school A's administrator sees the school rooms and every generated class's rooms
    base = summary["homeserver"]
    account = {(a["organization"], a["role"]): a for a in accounts}
    admin = await login(base, account[school_a, "admin"]["user_id"], account[school_a, "admin"]["password"])
    outsider = await login(base, account[None, "none"]["user_id"], account[None, "none"]["password"])
    settings = Settings.load(data_dir)
    bot = BotClient(settings.homeserver_url, settings.bot_access_token, settings.bot_user_id,
                    unix_socket=settings.admin_socket)
    try:
        space_a = orgs[0]["space_id"]
        seen = {r["room_id"]: r for r in await hierarchy(admin, space_a)}
        refs = T.refs_for_org(school_a, [c.source_id for c in SCHOOL_A.classes])
        expected = {ref.key: await bot.resolve_alias(f"#{T.alias_localpart(ref)}:{summary['server_name']}")
                    for ref in refs}
        assert None not in expected.values(), expected
        assert set(seen) == set(expected.values())
        assert seen[space_a]["name"] == orgs[0]["name"]
        # a Russian school: classes 1А…11Б, each with its class chat
        names = {r.get("name") for r in seen.values()}
        for title in ("1А", "5Б", "11А", "11Б"):
            assert f"{title} · класс" in names, sorted(n for n in names if n)
        # the student and the parent are people of the generated school, with Russian names
        student = SCHOOL_A.pupil_by_id()[SCHOOL_A.demo_people()["student"]]
        student_id = account[school_a, "student"]["user_id"]
        profile = await admin.request(Method.GET, f"/_matrix/client/v3/profile/{q(student_id)}")
        assert profile["displayname"].startswith(f"{student.family_name} {student.given_name}"), profile

        # the account in no organization is refused the same request
        with pytest.raises(MatrixRequestError) as e:
            await hierarchy(outsider, space_a)
        assert e.value.http_status == 403, e.value

        # the journal (issue 10): the demo's pupil sees homework in the class chat, a grade in the
        # diary (as the parent does) and a lesson reminder and a cancellation in the class announcements,
        # in the school's language (Russian), whatever the operator's terminal speaks
        assert all(s["error"] is None for s in summary["journal"]["sources"]), summary["journal"]
        assert summary["journal"]["reminders"] == 1, summary["journal"]
        pupil = await login(base, student_id, account[school_a, "student"]["password"])
        parent = await login(base, account[school_a, "parent"]["user_id"], account[school_a, "parent"]["password"])
        try:
            cls = SCHOOL_A.class_by_id()[student.class_id]
            rooms = {k: await bot.resolve_alias(f"#{T.alias_localpart(RoomRef(school_a, k, cls.source_id))}:"
                                                f"{summary['server_name']}")
                     for k in ("class_chat", "class_announcements")}
            chat = await bodies(pupil, rooms["class_chat"])
            assert any("Домашнее задание" in b and "Упражнение 12" in b for b in chat), chat
            announced = await bodies(pupil, rooms["class_announcements"])
            assert any("Физика" in b and "https://call.parta.localhost/" in b for b in announced), announced
            assert any("Урок отменён: Химия" in b for b in announced), announced
            joined = set((await pupil.request(Method.GET, "/_matrix/client/v3/joined_rooms"))["joined_rooms"])
            for u in (pupil, parent):
                grades = [b for r in joined & set((await u.request(Method.GET, "/_matrix/client/v3/joined_rooms"))
                                                  ["joined_rooms"]) for b in await bodies(u, r) if "Оценка · " in b]
                assert grades == ["Оценка · Русский язык: 5\nУпражнение 12\nКомментарий учителя: Аккуратно и без "
                                  "ошибок"], grades
            # issue 11: the class teacher's poll in the class's materials room, answered by the pupil and the
            # parent, exported by the teacher as CSV
            materials = T.alias_localpart(RoomRef(school_a, "class_materials", cls.source_id))
            await poll_answered_and_exported(base, settings, account[school_a, "teacher"], pupil, parent,
                                             await bot.resolve_alias(f"#{materials}:{summary['server_name']}"))
            # issue 12: the pupil's report about a message reaches the school's moderation room, and the
            # administrator's redaction is audited
            moderation = T.alias_localpart(RoomRef(school_a, "moderation"))
            await report_reaches_moderation_and_redaction_is_audited(
                base, settings, school_a, account[school_a, "teacher"], admin, pupil, rooms["class_chat"],
                await bot.resolve_alias(f"#{moderation}:{summary['server_name']}"))
        finally:
            for api in (pupil, parent):
                await api.session.close()
    finally:
        for api in (admin, outsider, bot.api):
            await api.session.close()

    # Ctrl-C stops the demo and both of its services, within 30 s
    children.update(children_of(proc.pid))
    assert len(children) >= 3, children  # Synapse, the provisioning service and the journal bridge
    proc.send_signal(signal.SIGINT)
    try:
        code = proc.wait(STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the demo did not stop within {STOP_TIMEOUT} s of SIGINT")
    assert code == 0, stderr_path.read_text(errors="replace")[-3000:]
    assert not group_exists(proc.pid)  # the demo's own process group
    for pid in children:               # Synapse and the provisioning service run in their own groups
        assert not alive(pid), pid
        assert not group_exists(pid), pid

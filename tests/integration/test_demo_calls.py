"""Issue 11 in the running demo: school A's teacher starts a lesson call in the demo pupil's class
chat and the pupil joins it (the LiveKit tokens' claims checked), and school B's pupil gets no token.

The demo runs as the user runs it (``parta demo --json``; the fixture of ``test_demo.py``).
"""

from __future__ import annotations

import asyncio
import os

import pytest

from policies.templates import RoomRef, default_templates

from spaces_provisioner.homeserver.bot import BotClient
from spaces_provisioner.ops.calls import livekit_identity, livekit_room
from spaces_provisioner.roster.generate import generate_school
from spaces_provisioner.settings import Settings

from ..calls import ask_token, claims, device_of, get_token_body, join_call, leave_call
from ..helpers import User, password_login
from ..processes import read_json_line
from .test_demo import READY_TIMEOUT
from .test_demo import demo as demo  # noqa: F401 - the fixture: `parta demo --json` in its own directory

pytestmark = [
    pytest.mark.synapse,
    pytest.mark.skipif(os.environ.get("PARTA_TEST_DB", "sqlite") == "postgres",
                       reason="the demo runs on SQLite by design; the SQLite run covers it"),
]
T = default_templates()
SCHOOL_A = generate_school("small", seed=7)


async def test_demo_lesson_call(demo):  # noqa: F811 - the imported fixture
    proc, _port, data_dir, _stderr, _children = demo
    summary, _before = await asyncio.to_thread(read_json_line, proc, READY_TIMEOUT)
    settings = Settings.load(data_dir)
    school_a, school_b = (o["id"] for o in summary["organizations"])
    account = {(a["organization"], a["role"]): a for a in summary["accounts"]}
    users: list[User] = []
    for key in ((school_a, "teacher"), (school_a, "student"), (school_b, "student")):
        r = await password_login(settings.homeserver_url, account[key]["user_id"], account[key]["password"])
        users.append(User(settings.homeserver_url, r["user_id"], r["access_token"]))
    teacher, pupil, pupil_b = users
    bot = BotClient(settings.homeserver_url, settings.bot_access_token, settings.bot_user_id,
                    unix_socket=settings.admin_socket)
    try:
        student = SCHOOL_A.pupil_by_id()[SCHOOL_A.demo_people()["student"]]
        chat = await bot.resolve_alias(
            f"#{T.alias_localpart(RoomRef(school_a, 'class_chat', student.class_id))}:{summary['server_name']}")
        # the pupil cannot start the lesson; the teacher can
        code, body, _ = await ask_token(settings, await get_token_body(pupil, chat))
        assert code == 403 and body["org.parta.reason"] == "may_not_start_call", body
        code, body, _ = await ask_token(settings, await get_token_body(teacher, chat))
        assert code == 200, body
        assert body["url"] == settings.livekit_url
        c = claims(settings, body["jwt"])
        assert c["sub"] == livekit_identity(teacher.user_id, await device_of(teacher), "m1")
        assert c["video"]["room"] == livekit_room(chat) and c["video"]["roomJoin"] and c["video"]["canPublish"]
        await join_call(teacher, chat)
        # the lesson runs: the pupil joins the same LiveKit room; school B's pupil gets nothing
        code, body, _ = await ask_token(settings, await get_token_body(pupil, chat))
        assert code == 200, body
        c = claims(settings, body["jwt"])
        assert c["sub"] == livekit_identity(pupil.user_id, await device_of(pupil), "m1")
        assert c["video"]["room"] == livekit_room(chat) and c["video"]["canSubscribe"]
        code, body, _ = await ask_token(settings, await get_token_body(pupil_b, chat))
        assert code == 403 and body["org.parta.reason"] == "call_not_member" and "jwt" not in body, body
        await leave_call(teacher, chat)
    finally:
        for u in users:
            await u.close()
        await bot.close()

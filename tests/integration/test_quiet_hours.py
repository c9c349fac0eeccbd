"""Quiet hours against a real Synapse and a real HTTP pusher (issue 12, quiet hours).

The class teacher registers an HTTP pusher pointing at the tests' push gateway
(``POST /_matrix/client/v3/pushers/set``) and sets office hours with their own token through the
provisioning API. Inside the quiet window a parent's message in the class's parents' room never
reaches the gateway (the module drops the teacher's push actions: no push, no notification
count) and the parent gets one notice from the Parta bot per chat and window; the
administration's plain message waits too (this school's ``quiet_hours_silence``), its urgent one
(``org.parta.urgent``) is pushed. Inside office hours the parent's message is pushed. Ordering
makes the absence certain: Synapse's pusher sends a user's notifications in stream order, so once a
later message reached the gateway, an earlier one that did not was never going to.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from ..helpers import q
from .quiet_world import Gateway, Quiet, V, build, hours_around, office_hours, send, sent

pytestmark = pytest.mark.synapse


@pytest.fixture(scope="module")
async def w(hs, tmp_path_factory) -> Quiet:
    return await build(hs, tmp_path_factory)


@pytest.fixture(scope="module")
async def gateway(w) -> AsyncIterator[Gateway]:
    g = Gateway()
    await g.start()
    code, body = await w.teacher.attempt("POST", f"{V}/pushers/set", {
        "kind": "http", "app_id": "org.parta.test", "pushkey": "teacher-phone", "app_display_name": "Parta tests",
        "device_display_name": "телефон", "lang": "ru", "data": {"url": g.url}})
    assert code == 200, body
    yield g
    assert g.runner is not None
    await g.runner.cleanup()


async def notices(w: Quiet, room: str) -> list[dict]:
    """The Parta bot's office-hours notices in ``room`` as the parent reads them (newest first)."""
    code, body = await w.parent.attempt("GET", f"{V}/rooms/{q(room)}/messages", query={"dir": "b", "limit": "50"})
    assert code == 200, body
    return [e for e in body["chunk"] if e["type"] == "m.room.message"
            and "org.parta.office_hours" in e["content"]]


async def test_a_parent_at_night_does_not_notify_and_gets_one_notice(hs, w, gateway):
    night = hours_around(inside=False)
    code, body = await office_hours(hs, w.teacher, w.teacher.user_id, night)
    assert code == 200, body
    assert body["own"] == night and body["text"]
    parents = w.rooms["class_parents"]
    first = sent(await send(w.parent, parents, "Добрый вечер! Завтра будет контрольная?"))
    second = sent(await send(w.parent, parents, "И ещё: что задано?"))
    # the administration's urgent announcement passes, after the parent's messages
    urgent = sent(await send(w.admin, w.rooms["announcements"], "Завтра школа закрыта: авария теплосети",
                             **{"org.parta.urgent": True}))
    await gateway.wait_for(urgent)
    assert first not in gateway.event_ids() and second not in gateway.event_ids()
    pushed = next(n for n in gateway.received if n.get("event_id") == urgent)
    assert pushed["sender"] == w.admin.user_id and pushed["devices"][0]["pushkey"] == "teacher-phone"
    # what the teacher's clients show: the parents' room has new messages but no notification count
    code, synced = await w.teacher.attempt("GET", f"{V}/sync", query={"timeout": "0"})
    assert code == 200, synced
    room = synced["rooms"]["join"][parents]
    assert {first, second} <= {e["event_id"] for e in room["timeline"]["events"]}
    assert room["unread_notifications"].get("notification_count", 0) == 0, room["unread_notifications"]
    assert synced["rooms"]["join"][w.rooms["announcements"]]["unread_notifications"]["notification_count"] >= 1
    # one notice for the chat and the window, a reply to the first message, with the office hours
    for _ in range(100):
        found = await notices(w, parents)
        if found:
            break
        await asyncio.sleep(0.1)
    await asyncio.sleep(1.0)  # the second message's turn: it must send nothing more
    found = await notices(w, parents)
    assert len(found) == 1, found
    notice = found[0]
    assert notice["sender"] == hs.settings.bot_user_id and notice["content"]["msgtype"] == "m.notice"
    assert notice["content"]["m.relates_to"]["m.in_reply_to"]["event_id"] == first
    assert notice["content"]["org.parta.office_hours"] == {"user_id": w.teacher.user_id, **night}
    assert body["text"] in notice["content"]["body"]
    code, profile = await w.parent.attempt("GET", f"{V}/profile/{q(w.teacher.user_id)}/displayname")
    assert code == 200 and profile["displayname"] in notice["content"]["body"], (profile, notice)  # the name
    assert w.teacher.user_id not in notice["content"]["body"]                                     # not the id
    # the notice itself notifies nobody (m.notice, suppressed by the default push rules)
    assert notice["event_id"] not in gateway.event_ids()


async def notices_room(hs, u) -> str:
    """The id of ``u``'s server-notices room (invited by Parta's system user; joined here)."""
    system = f"@parta-notices:{hs.server_name}"
    query = {"timeout": "0"}
    for _ in range(20):  # incremental syncs (an initial one is cached by Synapse for a while)
        code, synced = await u.attempt("GET", f"{V}/sync", query=query)
        assert code == 200, synced
        query = {"timeout": "1000", "since": synced["next_batch"]}
        for room_id, r in synced["rooms"].get("invite", {}).items():
            if any(e["type"] == "m.room.member" and e["sender"] == system for e in r["invite_state"]["events"]):
                await u.join(room_id)
                return room_id
        for room_id, r in synced["rooms"].get("join", {}).items():
            if any(e.get("sender") == system for e in r["timeline"]["events"]):
                return room_id
    raise AssertionError("no server-notices room")


async def test_a_parent_at_night_in_a_direct_chat_gets_one_server_notice(hs, w, gateway):
    """The bot is no member of a direct chat: the notice reaches the parent as a server notice
    (their own «Уведомления Parta» room), once per chat and window; nobody else writes there."""
    night = hours_around(inside=False)
    code, body = await office_hours(hs, w.teacher, w.teacher.user_id, night)
    assert code == 200, body
    code, created = await w.parent.attempt("POST", f"{V}/createRoom", {
        "preset": "trusted_private_chat", "is_direct": True, "invite": [w.teacher.user_id]})
    assert code == 200, created
    dm = created["room_id"]
    await w.teacher.join(dm)
    first = sent(await send(w.parent, dm, "Здравствуйте! Можно завтра забрать сына пораньше?"))
    urgent = sent(await send(w.admin, w.rooms["announcements"], "Срочно: завтра сокращённые уроки",
                             **{"org.parta.urgent": True}))
    await gateway.wait_for(urgent)
    assert first not in gateway.event_ids()  # pushers send in stream order: the parent's never will
    room = await notices_room(hs, w.parent)
    code, named = await w.parent.attempt("GET", f"{V}/rooms/{q(room)}/state/m.room.name/")
    assert code == 200 and named["name"] == "Уведомления Parta", named
    system = f"@parta-notices:{hs.server_name}"
    found = await eventually_notices(w.parent, room)
    assert len(found) == 1, found
    content = found[0]["content"]
    assert found[0]["sender"] == system and content["msgtype"] == "m.notice"
    assert content["org.parta.office_hours"] == {"user_id": w.teacher.user_id, "room_id": dm, "event_id": first,
                                                 **night}
    assert body["text"] in content["body"] and "личном чате" in content["body"], content["body"]
    # a second message in the same window adds none
    second = sent(await send(w.parent, dm, "И ещё вопрос про экскурсию"))
    urgent = sent(await send(w.admin, w.rooms["announcements"], "Срочно: уточнение", **{"org.parta.urgent": True}))
    await gateway.wait_for(urgent)
    assert second not in gateway.event_ids()
    await asyncio.sleep(1.0)
    assert len(await notices(w, room)) == 1
    # the room is the system user's alone: the parent neither writes nor invites there, nobody
    # joins it uninvited, nobody invites the system user anywhere, and the directory does not show it
    code, refusal = await send(w.parent, room, "ответ")
    assert code == 403, refusal
    code, refusal = await w.parent.attempt("POST", f"{V}/rooms/{q(room)}/invite", {"user_id": w.teacher.user_id})
    assert code == 403, refusal
    code, refusal = await w.teacher.attempt("POST", f"{V}/join/{q(room)}", {})
    assert code == 403, refusal
    code, refusal = await w.parent.attempt("POST", f"{V}/rooms/{q(dm)}/invite", {"user_id": system})
    assert code == 403, refusal
    code, refusal = await w.parent.attempt("POST", f"{V}/createRoom", {
        "preset": "trusted_private_chat", "is_direct": True, "invite": [system]})
    assert code == 403, refusal
    for u in (w.parent, w.teacher, w.admin):
        assert system not in await u.search_users("parta")


async def eventually_notices(u, room: str) -> list[dict]:
    """The office-hours notices in ``room`` once there is one (as ``u`` reads them)."""
    for _ in range(100):
        code, body = await u.attempt("GET", f"{V}/rooms/{q(room)}/messages", query={"dir": "b", "limit": "50"})
        assert code == 200, body
        found = [e for e in body["chunk"] if e["type"] == "m.room.message" and "org.parta.office_hours" in e["content"]]
        if found:
            return found
        await asyncio.sleep(0.1)
    raise AssertionError(f"no notice in {room}")


async def test_the_administrations_plain_message_waits_too(hs, w, gateway):
    code, body = await office_hours(hs, w.teacher, w.teacher.user_id, hours_around(inside=False))
    assert code == 200, body
    plain = sent(await send(w.admin, w.rooms["announcements"], "Напоминание о родительском собрании"))
    urgent = sent(await send(w.admin, w.rooms["announcements"], "Срочно: отмена уроков",
                             **{"org.parta.urgent": True}))
    await gateway.wait_for(urgent)
    assert plain not in gateway.event_ids()


async def test_inside_office_hours_a_parent_notifies(hs, w, gateway):
    code, body = await office_hours(hs, w.teacher, w.teacher.user_id, hours_around(inside=True))
    assert code == 200, body
    message = sent(await send(w.parent, w.rooms["class_parents"], "Спасибо, всё понятно"))
    await gateway.wait_for(message)
    pushed = next(n for n in gateway.received if n.get("event_id") == message)
    assert pushed["sender"] == w.parent.user_id and pushed["room_id"] == w.rooms["class_parents"]


async def test_the_school_clears_and_parents_read_office_hours(hs, w):
    """The administration clears a teacher's own hours (the school's default, none here, applies);
    a parent of the school reads them."""
    code, body = await office_hours(hs, w.admin, w.teacher.user_id, {})  # cleared: the school's default
    assert code == 200 and body["own"] is None and body["office_hours"] is None
    code, body = await office_hours(hs, w.parent, w.teacher.user_id)  # a parent of the school reads them
    assert code == 200 and body["user_id"] == w.teacher.user_id

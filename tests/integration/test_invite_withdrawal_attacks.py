"""Pending invitations of people who lost the right to the room (brief "invites", issue of the
federation-leaving review): an invitation (membership ``invite``, not accepted yet) shows the room's
name and the inviter, and is one click from a join.

Attack: a teacher is invited into a cross-school network room, a colleague's group chat or a class
chat, then the school removes them, takes their confirmation back or makes them a parent, before
they accept. Rule that closes it: the reconciler withdraws every pending invitation its invitee may
no longer accept, with the same decision as for joined members (``Capabilities.may_join``,
``policies.federation.may_stay_in_network_room``, ``may_contact`` for people's chats): a kick by the
bot where it holds the power (the Matrix spec, "Room membership": a kick of an invited user revokes
the invitation), else declined on the invitee's behalf; the membership becomes ``leave``. A join
then is refused by the module with Parta's reason. A stale invitation the reconciler has not
withdrawn yet (the window between the registry's change and the withdrawal, or one the bot sent
past the rules) is no ticket either: the module's join check refuses it.

Legitimate twins: a colleague still allowed keeps the invitation and joins.
"""

from __future__ import annotations

import itertools
import json

import pytest
from mautrix.api import Method

from policies.state_events import REGISTRY_ALIAS_LOCALPART, PartaEventTypes, user_state_key
from policies.templates import RoomRef, default_templates

from ..helpers import User, eventually, ok, q, refused, write_classes_roster
from .federation_world import federated_servers
from .test_federation import invite, join, network_room, partner_pair

pytestmark = pytest.mark.synapse
V = "/_matrix/client/v3"
T = default_templates()
_n = itertools.count(1)


async def _school(hs, tmp_path) -> dict:
    """A school of class 5А: teachers t1 (of 5А) to t5, all confirmed and signed in, its
    administrator and head signed in; ``{"org", "chat" (5А's class chat), "t1".."t5", "admin", "head"}``."""
    teachers = [f"t{i}" for i in range(1, 6)]
    school = await hs.new_school(roster=write_classes_roster(
        tmp_path / f"r{next(_n)}", [("c5a", "5А", "05")],
        people=[(t, "teacher", f"Учитель{t[1:]}", "Иванова", "") for t in teachers],
        enrollments=[("c5a", "t1", "teacher")]))
    org = school["org"]
    out: dict = {"org": org}
    for t in teachers:
        out[t] = await hs.person(org, t, confirmed=True)
    acc = {a["role"]: a for a in school["approve"]["accounts"]}
    for role in ("admin", "head"):
        out[role] = await hs.login(acc[role]["user_id"], acc[role]["password"])
    out["chat"] = await hs.bot.resolve_alias(f"#{T.alias_localpart(RoomRef(org, 'class_chat', 'c5a'))}:"
                                             f"{hs.server_name}")
    return out


async def _local_network_room(hs, org: str, member: User) -> str:
    """A network room of ``org`` made by the operator, ``member`` joined (by the bot)."""
    room = (await hs.api.call("POST", "/network-rooms", json={"name": f"Методобъединение {next(_n)}",
                                                              "orgs": [org]}))["room_id"]
    await hs.bot.request(Method.POST, f"/_synapse/admin/v1/join/{q(room)}", {"user_id": member.user_id})
    return room


async def _member_event(hs, room: str, user_id: str) -> dict:
    """The current ``m.room.member`` event of ``user_id`` in ``room`` (read as the server admin)."""
    events = await hs.bot.room_events_as_admin(room)
    return next((e for e in events if e["type"] == "m.room.member" and e.get("state_key") == user_id), {})


async def _invited_rooms(u: User) -> set[str]:
    """The rooms ``u``'s client lists as invitations (``GET /sync``'s ``rooms.invite``). Each call's filter
    differs: Synapse answers a repeated initial sync from its response cache for two minutes."""
    f = json.dumps({"room": {"timeline": {"limit": 1}, "not_rooms": [f"!unused{next(_n)}:invalid"]},
                    "presence": {"types": []}})
    r = await u.get(f"{V}/sync", {"filter": f, "timeout": "0"})
    return set((r.get("rooms") or {}).get("invite") or {})


async def _withdrawn(hs, room: str, u: User) -> None:
    """``u``'s invitation into ``room`` is gone: the membership is ``leave`` and the client no longer lists it."""
    event = await _member_event(hs, room, u.user_id)
    assert event.get("content", {}).get("membership") == "leave", event
    assert room not in await _invited_rooms(u)


async def _still_invited(hs, room: str, u: User) -> None:
    event = await _member_event(hs, room, u.user_id)
    assert event.get("content", {}).get("membership") == "invite", event
    assert room in await _invited_rooms(u)


async def _reconcile_details(hs, org: str) -> list[str]:
    return (await hs.api.call("POST", f"/organizations/{org}/reconcile"))["details"]


# -- network rooms of this server ---------------------------------------------------------------
async def test_a_network_room_invitation_is_withdrawn_when_the_teacher_loses_the_right(hs, tmp_path):
    """Attack: t1 invites colleagues t2, t4, t5 into the school's network room; the school takes t2's
    confirmation back, makes t4 a parent and removes t5 before they accept. Each invitation is withdrawn
    by the bot (a kick: membership ``leave``, sender the bot) and disappears from their client; t2's and
    t4's join is refused (``network_staff_only``), the removed t5's account is suspended.
    Twin: t3, still confirmed, keeps the invitation and joins. A second reconcile withdraws nothing more."""
    s = await _school(hs, tmp_path)
    org, t1, t2, t3, t4, t5 = s["org"], s["t1"], s["t2"], s["t3"], s["t4"], s["t5"]
    room = await _local_network_room(hs, org, t1)
    for u in (t2, t3, t4, t5):
        await t1.invite(room, u.user_id)
        await _still_invited(hs, room, u)

    await hs.api.update_person(org, "t2", {"confirmed": False})
    await hs.api.update_person(org, "t4", {"role": "parent"})
    await hs.api.remove_person(org, "t5")

    for u in (t2, t4, t5):
        await _withdrawn(hs, room, u)
        assert (await _member_event(hs, room, u.user_id))["sender"] == hs.bot.user_id
    refused(await t2.attempt("POST", f"{V}/join/{q(room)}", {}), "network_staff_only")
    refused(await t4.attempt("POST", f"{V}/join/{q(room)}", {}), "network_staff_only")
    code, body = await t5.attempt("POST", f"{V}/join/{q(room)}", {})
    assert code == 403 and body.get("errcode") in ("M_USER_SUSPENDED", "M_FORBIDDEN"), body
    assert t2.user_id not in set((await t1.get(f"{V}/rooms/{q(room)}/joined_members"))["joined"])

    # the legitimate twin: still confirmed staff, still invited, and in
    await _still_invited(hs, room, t3)
    assert (await t3.join(room)) == room
    # idempotent: nothing left to withdraw
    assert not [d for d in await _reconcile_details(hs, org) if "invitation" in d]


async def test_a_stale_network_room_invitation_is_no_ticket(hs, tmp_path):
    """Module twin: an invitation that reaches someone no longer allowed, past the rules (the bot, a
    server admin, invites; or the reconciler has not withdrawn it yet), is refused at the join
    (``user_may_join_room``: ``network_staff_only``), while a confirmed colleague invited alike joins."""
    s = await _school(hs, tmp_path)
    org, t1, t2, t3 = s["org"], s["t1"], s["t2"], s["t3"]
    room = await _local_network_room(hs, org, t1)
    await hs.api.update_person(org, "t2", {"confirmed": False})
    for u in (t2, t3):
        await hs.bot.invite(room, u.user_id)  # the server admin: past the module's invite check
        await _still_invited(hs, room, u)
    refused(await t2.attempt("POST", f"{V}/join/{q(room)}", {}), "network_staff_only")
    assert (await _member_event(hs, room, t2.user_id))["content"]["membership"] == "invite"
    assert (await t3.join(room)) == room
    # t1's own invitation of the unconfirmed teacher is refused before it exists
    refused(await t1.attempt("POST", f"{V}/rooms/{q(room)}/invite", {"user_id": t2.user_id}), "network_staff_only")


# -- people's chats -----------------------------------------------------------------------------
async def test_a_group_chat_invitation_is_declined_when_the_relationship_ends(hs, tmp_path):
    """Attack: t1 makes a group chat inviting colleagues t2 and t3; the school makes t2 a parent (of no
    child t1 teaches: no longer someone t1 may chat with) before t2 accepts. The invitation is declined
    on t2's behalf (the bot holds no power in people's chats) and forgotten: membership ``leave``, gone
    from t2's client; t2's join is refused (``invite_only``). Twin: t3 keeps the invitation and joins."""
    s = await _school(hs, tmp_path)
    org, t1, t2, t3 = s["org"], s["t1"], s["t2"], s["t3"]
    chat = await t1.create_room({"name": f"Проект {next(_n)}", "invite": [t2.user_id, t3.user_id]})
    await _still_invited(hs, chat, t2)

    await hs.api.update_person(org, "t2", {"role": "parent"})

    await _withdrawn(hs, chat, t2)
    refused(await t2.attempt("POST", f"{V}/join/{q(chat)}", {}), "invite_only")
    # nor can t1 invite t2 again
    refused(await t1.attempt("POST", f"{V}/rooms/{q(chat)}/invite", {"user_id": t2.user_id}), "parent_scope")
    await _still_invited(hs, chat, t3)
    assert (await t3.join(chat)) == chat
    assert not [d for d in await _reconcile_details(hs, org) if "invitation" in d]


async def test_a_stale_group_chat_invitation_is_no_ticket(hs, tmp_path):
    """Module twin: in the window between the registry's change and the reconciler's withdrawal (the
    registry entry written as the reconciler writes it first), t2, made a parent, accepts t1's pending
    invitation: refused (``chat_not_allowed``: an invitation is no ticket), while t3 joins."""
    s = await _school(hs, tmp_path)
    org, t1, t2, t3 = s["org"], s["t1"], s["t2"], s["t3"]
    chat = await t1.create_room({"name": f"Проект {next(_n)}", "invite": [t2.user_id, t3.user_id]})
    registry = await hs.bot.resolve_alias(f"#{REGISTRY_ALIAS_LOCALPART}:{hs.server_name}")
    key = user_state_key(t2.user_id)
    entry = await hs.bot.state_event(registry, PartaEventTypes.PERSON, key)
    entry["orgs"][org] = {**entry["orgs"][org], "role": "parent", "confirmed": False, "classes": []}
    await hs.bot.send_state(registry, PartaEventTypes.PERSON, key, entry)
    await _still_invited(hs, chat, t2)

    async def refused_now():
        code, body = await t2.attempt("POST", f"{V}/join/{q(chat)}", {})
        return body if code == 403 else None

    body = await eventually(refused_now)  # the module reads the registry from Synapse's caches
    assert body and body.get("errcode") == "M_FORBIDDEN" and body.get("org.parta.reason") == "chat_not_allowed", body
    assert (await t3.join(chat)) == chat


# -- the school's own rooms ---------------------------------------------------------------------
async def test_a_class_chat_invitation_is_withdrawn_when_the_invitee_may_no_longer_join(hs, tmp_path):
    """Attack: 5А's teacher t1 invites the school's administrator and head into the class chat (they
    may join it, not placed there); the operator makes the administrator a teacher of no class before
    they accept. The bot withdraws that invitation (a kick); the join is refused
    (``not_for_class_chat``). Twin: the head keeps the invitation and joins."""
    s = await _school(hs, tmp_path)
    org, t1, admin, head, chat = s["org"], s["t1"], s["admin"], s["head"], s["chat"]
    for u in (admin, head):
        await t1.invite(chat, u.user_id)
        await _still_invited(hs, chat, u)

    await hs.api.update_person(org, admin.user_id, {"role": "teacher"})

    await _withdrawn(hs, chat, admin)
    assert (await _member_event(hs, chat, admin.user_id))["sender"] == hs.bot.user_id
    refused(await admin.attempt("POST", f"{V}/join/{q(chat)}", {}), "not_for_class_chat")
    await _still_invited(hs, chat, head)
    assert (await head.join(chat)) == chat
    assert not [d for d in await _reconcile_details(hs, org) if "invitation" in d]


# -- a partner's network room (two servers; slow) ------------------------------------------------
@pytest.fixture(scope="module")
def two_servers(tmp_path_factory):
    with federated_servers(tmp_path_factory.mktemp("federation-invites")) as running:
        yield running


@pytest.fixture(scope="module")
async def fed2(two_servers, tmp_path_factory):
    async with partner_pair(two_servers, tmp_path_factory, "roster-invites") as fed:
        yield fed


async def test_a_partner_rooms_invitation_is_declined_when_the_partner_school_removes_its_teacher(fed2):
    """Attack: A's teacher invites B's confirmed teacher into A's network room (B's server is in no
    room with A's yet: only B's teacher's client knows the invitation); B's school removes its teacher
    before they accept. B's reconciler declines the invitation on the former teacher's behalf (A sees
    membership ``leave``), and their client no longer lists it; a join is refused.
    Twin: before the removal, the same invitation into another of A's network rooms is accepted."""
    room2 = await network_room(fed2.a)
    ok(await invite(fed2.a.teacher, room2, fed2.b.teacher.user_id))
    ok(await join(fed2.b.teacher, room2, via=fed2.a.hs.server_name))
    room = await network_room(fed2.a)
    ok(await invite(fed2.a.teacher, room, fed2.b.teacher.user_id))

    async def listed() -> bool:
        return room in await _invited_rooms(fed2.b.teacher)

    assert await eventually(listed, timeout=45)
    removed = await fed2.b.hs.api.call("DELETE", f"/organizations/{fed2.b.org}/people/{q(fed2.b.teacher.user_id)}")
    # B's reconciler did it (B's server is in no room with A's: only the invitee's own view listed it)
    assert any(room in d and "declined" in d for d in removed["details"]), removed["details"]

    async def declined() -> bool:
        event = await _member_event(fed2.a.hs, room, fed2.b.teacher.user_id)
        return event.get("content", {}).get("membership") == "leave"

    assert await eventually(declined, timeout=45), "A still shows B's former teacher as invited"
    assert room not in await _invited_rooms(fed2.b.teacher)
    code, body = await join(fed2.b.teacher, room, via=fed2.a.hs.server_name)
    assert code == 403, body

"""The wraps of Synapse internals (synapse_module.hooks) fit the pinned Synapse, and decide right.

The shape check runs against the installed Synapse's own classes: an upgrade that renames or
reorders what a wrap relies on fails here, loudly, instead of leaving a rule unguarded. The
decisions run with stand-ins for Synapse's handlers (the rules themselves are proven against a
real Synapse in tests/integration/test_lifecycle_attacks.py).
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from synapse.api.errors import SynapseError

from policies.capabilities import Account, Decision, Membership, default_capabilities
from policies.model import Role

from synapse_module import hooks

BOT = "@parta:s"
ORG = "school-7"
TEACHER = Account("@t:s", {ORG: Membership(org=ORG, role=Role.TEACHER, confirmed=True, classes=frozenset({"5a"}))})
PUPIL = Account("@p:s", {ORG: Membership(org=ORG, role=Role.STUDENT, classes=frozenset({"5a"}))})
STRANGER = Account("@x:s")
PEOPLE = {a.user_id: a for a in (TEACHER, PUPIL, STRANGER)}


def test_the_wrapped_methods_have_the_shape_the_wraps_need():
    assert hooks.synapse_version() == hooks.PINNED_SYNAPSE
    hooks.check_targets()  # raises HookError when Synapse changed them


def requester(user_id: str):
    return SimpleNamespace(user=SimpleNamespace(to_string=lambda: user_id))


class Denied(SynapseError):
    def __init__(self, d: Decision):
        super().__init__(403, d.reason)


def wrap_to_device():
    sent: list[dict] = []

    async def original(requester, message_type, messages):
        sent.append(messages)

    async def person(u):
        return PEOPLE[u]

    async def settings(*people):
        return {}

    return hooks._wrap_to_device(original, BOT, default_capabilities(), person, settings, Denied), sent


async def test_to_device_reaches_only_people_one_may_reach():
    wrapped, sent = wrap_to_device()
    with pytest.raises(Denied):
        await wrapped(requester(STRANGER.user_id), "m.key.verification.request", {PUPIL.user_id: {"*": {}}})
    await wrapped(requester(TEACHER.user_id), "m.key.verification.request",
                  {PUPIL.user_id: {"*": {}}, STRANGER.user_id: {"*": {}}, TEACHER.user_id: {"D": {}}})
    assert sent == [{PUPIL.user_id: {"*": {}}, TEACHER.user_id: {"D": {}}}]  # the stranger is dropped


async def test_login_names_with_role_words_or_look_alikes_are_refused():
    async def original(localpart, *args, **kwargs):
        return None

    async def taken(localpart):
        return ["ivan.petrov"]

    check = hooks._wrap_check_username(original, BOT, taken, "en")
    for bad, reason in (("teacher.x", "role_word"), ("ivan_petrov", "login_lookalike"), ("ivan89161234567",
                                                                                         "login_contact")):
        with pytest.raises(SynapseError) as e:
            await check(bad)
        assert e.value.errcode == "M_INVALID_USERNAME" and e.value.error_dict(None)["org.parta.reason"] == reason
    await check("ivan.petrov")     # the account itself (Synapse's own check says whether it is taken)
    await check("parta")           # the bot's own name


async def test_membership_reasons_are_dropped_where_one_may_not_post():
    seen: list[dict | None] = []

    async def original(requester, target, room_id, action, txn_id=None, remote_room_hosts=None,
                       third_party_signed=None, ratelimit=True, content=None):
        seen.append(content)

    async def may_post(user_id, room_id):
        return room_id == "!chat"

    wrapped = hooks._wrap_update_membership(original, BOT, may_post)
    await wrapped(requester(PUPIL.user_id), "target", "!announcements", "leave", content={"reason": "buy"})
    await wrapped(requester(PUPIL.user_id), "target", "!chat", "leave", content={"reason": "bye"})
    await wrapped(requester(BOT), "target", "!announcements", "kick", None, None, None, True, {"reason": "x"})
    assert seen == [{}, {"reason": "bye"}, {"reason": "x"}]


async def test_profile_fields_are_set_only_by_the_server():
    seen: list[str] = []

    async def original(*, target_user, requester, field_name, new_value, by_admin=False, propagate=True):
        seen.append(field_name)

    wrapped = hooks._wrap_set_profile_field(original, BOT, Denied)
    for field in ("avatar_url", "displayname", "org.example.contact"):
        with pytest.raises(Denied):
            await wrapped(target_user=None, requester=requester(PUPIL.user_id), field_name=field, new_value="x")
    await wrapped(target_user=None, requester=requester(BOT), field_name="displayname", new_value="Иванов И.")
    await wrapped(target_user=None, requester=requester(PUPIL.user_id), field_name="avatar_url", new_value="",
                  by_admin=True)
    assert seen == ["displayname", "avatar_url"]

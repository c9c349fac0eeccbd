"""The Synapse module's adapter layer, without Synapse running (``Mock(spec=ModuleApi)``, as
tchapgouv's synapse-room-access-rules tests do): its config, the callbacks it registers, and
that a refusal reaches Synapse as ``M_FORBIDDEN`` with Parta's reason. That the rules hold is
proven against a real Synapse in ``tests/integration/test_attacks.py``; this is only the wiring.
"""

from __future__ import annotations

from unittest.mock import AsyncMock, Mock

import pytest
from synapse.module_api import NOT_SPAM, ModuleApi
from synapse.module_api.errors import ConfigError

from policies.capabilities import Account, Membership, RoomInfo
from policies.model import Role

from synapse_module import PartaModule
from synapse_module.module import Refusal

CONFIG = {"bot_user_id": "@parta:school.test", "registry_alias": "#parta.registry:school.test"}


def module() -> tuple[PartaModule, Mock]:
    api = Mock(spec=ModuleApi)
    return PartaModule(PartaModule.parse_config(CONFIG), api), api


def test_config_of_a_homeserver_written_by_parta_init_is_read():
    config = PartaModule.parse_config({**CONFIG, "provisioning_url": "http://127.0.0.1:8009"})
    assert (config.bot_user_id, config.registry_alias, config.language) == (
        "@parta:school.test", "#parta.registry:school.test", "ru")


def test_missing_setting_is_a_config_error_naming_it():
    with pytest.raises(ConfigError, match="bot_user_id"):
        PartaModule.parse_config({"registry_alias": "#parta.registry:school.test"})


def test_callbacks_are_registered_with_synapse():
    _m, api = module()
    spam = api.register_spam_checker_callbacks.call_args.kwargs
    assert {"user_may_join_room", "user_may_invite", "user_may_create_room", "user_may_send_state_event",
            "check_event_for_spam", "check_username_for_spam"} <= set(spam)
    assert {"on_create_room", "check_visibility_can_be_modified"} <= set(
        api.register_third_party_rules_callbacks.call_args.kwargs)


async def test_refused_join_is_m_forbidden_with_parta_reason_and_the_allowed_one_passes():
    m, _api = module()
    room = RoomInfo(kind="class_chat", org="school-7", class_id="class-05a", class_title="5А", org_name="Школа № 7")
    outsider = Account("@out:school.test")
    pupil = Account("@pupil:school.test", {"school-7": Membership(
        org="school-7", role=Role.STUDENT, classes=frozenset({"class-05a"}))})
    m.look = Mock(room=AsyncMock(return_value=room), person=AsyncMock(side_effect=lambda u: {
        outsider.user_id: outsider, pupil.user_id: pupil}[u]))
    with pytest.raises(Refusal) as e:
        await m.user_may_join_room(outsider.user_id, "!class:school.test", False)
    assert e.value.code == 403 and e.value.errcode == "M_FORBIDDEN"
    assert e.value.error_dict(None)["org.parta.reason"]
    assert await m.user_may_join_room(pupil.user_id, "!class:school.test", False) is NOT_SPAM


# -- the journal bridge: its exact user id, nobody else -------------------------------------------
BRIDGE = "@parta_journal:school.test"
CHAT = RoomInfo(kind="class_chat", org="school-7", class_id="class-05a", class_title="5А", org_name="Школа № 7")


def bridge_module(room: RoomInfo | None = CHAT, settings: dict | None = None) -> PartaModule:
    m, _api = module()
    m.look = Mock(room=AsyncMock(return_value=room), person=AsyncMock(side_effect=Account),
                  org=AsyncMock(return_value={"settings": {"journal_bridge": True} if settings is None else settings}),
                  settings=AsyncMock(return_value={}), member_ids=AsyncMock(return_value=[]))
    return m


def reason(e: pytest.ExceptionInfo) -> str:
    return e.value.error_dict(None)["org.parta.reason"]


def test_the_bridge_user_id_defaults_to_parta_journal_on_the_bots_server():
    assert PartaModule.parse_config(CONFIG).bridge == BRIDGE
    assert PartaModule.parse_config({**CONFIG, "journal_bridge_user_id": "@j:school.test"}).bridge == "@j:school.test"


async def test_the_bridge_joins_a_served_room_only_invited():
    m = bridge_module()
    assert await m.user_may_join_room(BRIDGE, "!chat:school.test", True) is NOT_SPAM
    with pytest.raises(Refusal) as e:
        await m.user_may_join_room(BRIDGE, "!chat:school.test", False)
    assert reason(e) == "bridge_invite_only"
    with pytest.raises(Refusal) as e:
        await bridge_module(settings={}).user_may_join_room(BRIDGE, "!chat:school.test", True)
    assert reason(e) == "journal_bridge_off"
    with pytest.raises(Refusal) as e:
        await bridge_module(RoomInfo(kind="staff_room", org="school-7")).user_may_join_room(BRIDGE, "!s:x", True)
    assert reason(e) == "bridge_room_not_served"
    with pytest.raises(Refusal) as e:
        await bridge_module(None).user_may_join_room(BRIDGE, "!mine:school.test", True)
    assert reason(e) == "bridge_room_not_served"


@pytest.mark.parametrize("lookalike", ["@parta_journaI:school.test", "@parta_journal:school.test.evil",
                                       "@Parta_Journal:school.test", "@parta_journal_:school.test"])
async def test_a_lookalike_of_the_bridge_gets_nothing_extra(lookalike):
    m = bridge_module()
    with pytest.raises(Refusal) as e:
        await m.user_may_join_room(lookalike, "!chat:school.test", True)
    assert reason(e) == "not_in_organization"


async def test_the_bridge_never_invites_creates_or_sends_state():
    m = bridge_module()
    with pytest.raises(Refusal) as e:
        await m.user_may_invite(BRIDGE, "@pupil:school.test", "!chat:school.test")
    assert reason(e) == "bridge_no_invite"
    with pytest.raises(Refusal) as e:
        await m.user_may_create_room(BRIDGE, {})
    assert reason(e) == "bridge_no_create_room"
    with pytest.raises(Refusal) as e:
        await m.user_may_send_state_event(BRIDGE, "!chat:school.test", "m.room.topic", "", {"topic": "x"})
    assert reason(e) == "bridge_no_state"


async def test_the_bridge_posts_messages_where_it_serves():
    m = bridge_module(RoomInfo(kind="class_announcements", org="school-7", class_id="c"))

    def event(etype: str, state: bool = False):
        return Mock(sender=BRIDGE, room_id="!a:school.test", type=etype, content={"msgtype": "m.notice", "body": "ДЗ"},
                    redacts=None, is_state=Mock(return_value=state))

    assert await m.check_event_for_spam(event("m.room.message")) is NOT_SPAM
    with pytest.raises(Refusal) as e:
        await m.check_event_for_spam(event("m.reaction"))
    assert reason(e) == "bridge_messages_only"
    with pytest.raises(Refusal) as e:
        await m.check_event_for_spam(event("m.room.topic", state=True))
    assert reason(e) == "bridge_no_state"


async def test_the_bridge_finds_nobody_and_nobody_finds_it():
    m = bridge_module()
    assert await m.check_username_for_spam({"user_id": "@pupil:school.test"}, BRIDGE) is True
    assert await m.check_username_for_spam({"user_id": BRIDGE}, "@pupil:school.test") is True

"""The module's partner servers come from its own config (``federation: {partners: [...]}``, written by
``parta init --federate-with``), never from Synapse's private config; without the section federation is
off (``policies.federation.FederationConfig``, fail closed). That the partners are honoured against real
servers: tests/integration/test_federation.py."""

from __future__ import annotations

import logging
from types import SimpleNamespace
from unittest.mock import AsyncMock, Mock

import pytest
from synapse.module_api import ModuleApi
from synapse.module_api.errors import ConfigError

from policies.federation import FederationConfig

from synapse_module import PartaModule
from synapse_module.module import Refusal

CONFIG = {"bot_user_id": "@parta:school.test", "registry_alias": "#parta.registry:school.test"}


def test_partners_are_read_from_the_modules_federation_section():
    config = PartaModule.parse_config({**CONFIG, "federation": {"partners": ["school2.example", "127.0.0.1:8448"]}})
    assert config.federation == FederationConfig(frozenset({"school2.example", "127.0.0.1:8448"}))
    assert config.federation.enabled
    module = PartaModule(config, Mock(spec=ModuleApi))
    assert module.partners == {"school2.example", "127.0.0.1:8448"}


def test_without_the_section_federation_is_off_and_said_so(caplog):
    with caplog.at_level(logging.WARNING, logger="synapse_module.module"):
        config = PartaModule.parse_config(CONFIG)
    assert config.federation == FederationConfig() and not config.federation.enabled
    assert "no federation section" in caplog.text and "parta init --force" in caplog.text
    # an empty list (what parta init writes without --federate-with) is off too, silently
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="synapse_module.module"):
        assert not PartaModule.parse_config({**CONFIG, "federation": {"partners": []}}).federation.enabled
        assert not PartaModule.parse_config({**CONFIG, "federation": {}}).federation.enabled
    assert caplog.text == ""


def test_synapses_own_whitelist_is_not_read(monkeypatch):
    """An installation initialised before the section existed: Synapse's whitelist names a partner,
    the module's config does not, so the module federates with nobody (fail closed)."""
    from synapse_module import module as module_py

    for target in (module_py.hooks, module_py.secret_ballots, module_py.QuietHours, module_py.NewEvents):
        monkeypatch.setattr(target, "install", lambda *a, **k: None)  # they need a whole homeserver
    api = Mock(spec=ModuleApi)
    api._hs = SimpleNamespace(config=SimpleNamespace(
        federation=SimpleNamespace(federation_domain_whitelist={"school2.example": True}),
        servernotices=SimpleNamespace(server_notices_mxid=None), matrix_rtc=None,
        media=SimpleNamespace(can_load_media_repo=False)))
    assert PartaModule(PartaModule.parse_config(CONFIG), api).partners == frozenset()
    configured = PartaModule.parse_config({**CONFIG, "federation": {"partners": ["school3.example"]}})
    assert PartaModule(configured, api).partners == {"school3.example"}


@pytest.mark.parametrize("section, says", [
    (["school2.example"], "must be a mapping"),
    ({"partners": "school2.example"}, "must be a list"),
    ({"partners": ["school2.example", ""]}, "must be a list"),
    ({"partners": [" school2.example"]}, "must be a list"),
    ({"partners": ["https://school2.example"]}, "https://school2.example"),
    ({"partners": ["school2.example"], "whitelist": True}, "unknown federation settings"),
])
def test_a_malformed_section_is_a_config_error_naming_it(section, says):
    with pytest.raises(ConfigError, match=f"federation: .*{says}"):
        PartaModule.parse_config({**CONFIG, "federation": section})


async def test_federated_invitations_are_refused_without_partners():
    module = PartaModule(PartaModule.parse_config(CONFIG), Mock(spec=ModuleApi))
    event = SimpleNamespace(sender="@t:school2.example", state_key="@t:school.test",
                            unsigned={"invite_room_state": []})
    with pytest.raises(Refusal) as e:
        await module.federated_user_may_invite(event)
    assert e.value.error_dict(None)["org.parta.reason"] == "federation_off"


async def test_federated_invitations_from_a_configured_partner_reach_the_policy():
    """With the partner in the module's config the invitation is judged by the rules (here: no
    network room in the stripped state), not refused as federation_off."""
    module = PartaModule(PartaModule.parse_config({**CONFIG, "federation": {"partners": ["school2.example"]}}),
                         Mock(spec=ModuleApi))
    module.look.person = AsyncMock()  # type: ignore[method-assign]
    event = SimpleNamespace(sender="@t:school2.example", state_key="@t:school.test",
                            unsigned={"invite_room_state": []})
    with pytest.raises(Refusal) as e:
        await module.federated_user_may_invite(event)
    assert e.value.error_dict(None)["org.parta.reason"] == "federation_invite_refused"

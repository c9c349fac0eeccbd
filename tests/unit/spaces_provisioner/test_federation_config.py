"""parta init --federate-with: the partner list and the settings it writes (spaces_provisioner.install)."""

from __future__ import annotations

from pathlib import Path

import pytest

from spaces_provisioner.install.homeserver_config import InitError, check_partner, federation_settings, listeners


def test_partners_are_matrix_server_names_other_than_our_own():
    assert check_partner("school1.example", " school2.example ") == "school2.example"
    assert check_partner("school1.example", "127.0.0.1:8448") == "127.0.0.1:8448"
    with pytest.raises(InitError, match="'https://school2.example'.*not a Matrix server name"):
        check_partner("school1.example", "https://school2.example")
    with pytest.raises(InitError, match="this server's own name"):
        check_partner("school1.example", "school1.example")


def test_federation_opens_only_with_partners():
    settings = {k: v for k, v, _comment in federation_settings(["school2.example"])}
    assert settings["federation_domain_whitelist"] == ["school2.example"]
    assert settings["room_prejoin_state"] == {"additional_event_types": ["org.parta.room"]}
    assert settings["trusted_key_servers"] == []
    sock = Path("/tmp/x.sock")
    assert listeners(8008, sock, False)[0]["resources"][0]["names"] == ["client", "openid"]
    assert listeners(8008, sock, False, federating=True)[0]["resources"][0]["names"] == ["client", "federation", "keys"]


def _edit(root: Path, partners: list[str] | None) -> dict:
    """``edit_synapse_config`` on a minimal generated file (as ``parta init``, ``--force`` included)."""
    from ruamel.yaml import YAML

    from spaces_provisioner.install.homeserver_config import edit_synapse_config

    (root / "log.config").write_text("version: 1\nhandlers:\n  file:\n    filename: x.log\n", encoding="utf-8")
    config = root / "homeserver.yaml"
    if not config.exists():
        config.write_text(f"# Synapse's own\nserver_name: school1.example\nlog_config: {root / 'log.config'}\n",
                          encoding="utf-8")
    edit_synapse_config(config, root=root, port=8008, server_name="school1.example", postgres_dsn=None,
                        public_baseurl="https://school1.example/", federate_with=partners)
    return YAML(typ="safe").load(config.read_text(encoding="utf-8"))


def _module(data: dict) -> dict:
    return next(m["config"] for m in data["modules"] if m["module"] == "synapse_module.PartaModule")


def test_the_partners_are_written_for_synapse_and_for_the_module_alike(tmp_path):
    data = _edit(tmp_path, [" school2.example", "school3.example"])
    assert data["federation_domain_whitelist"] == ["school2.example", "school3.example"]
    assert _module(data)["federation"] == {"partners": ["school2.example", "school3.example"]}
    # and the module reads them back (its own parser, as Synapse gives it the section)
    from synapse_module import PartaModule

    assert PartaModule.parse_config(_module(data)).federation.partners == {"school2.example", "school3.example"}


def test_without_partners_both_say_no_federation(tmp_path):
    data = _edit(tmp_path, None)
    assert data["federation_domain_whitelist"] == []
    assert _module(data)["federation"] == {"partners": []}


def test_init_force_rewrites_both_lists_together(tmp_path):
    """An installation from before the module's section (Synapse's whitelist only) re-initialised with
    ``parta init --force``: the module's section is written, the same as Synapse's list; a later
    ``--force`` with other partners (or none) changes both."""
    config = tmp_path / "homeserver.yaml"
    (tmp_path / "log.config").write_text("version: 1\n", encoding="utf-8")
    config.write_text(f"server_name: school1.example\nlog_config: {tmp_path / 'log.config'}\n"
                      "federation_domain_whitelist: [school2.example]\nmodules:\n"
                      "  - module: synapse_module.PartaModule\n    config: {bot_user_id: '@parta:school1.example'}\n",
                      encoding="utf-8")
    for partners in (["school2.example"], ["school3.example"], None):
        data = _edit(tmp_path, partners)
        assert _module(data)["federation"]["partners"] == data["federation_domain_whitelist"] == (partners or [])

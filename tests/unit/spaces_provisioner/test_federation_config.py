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

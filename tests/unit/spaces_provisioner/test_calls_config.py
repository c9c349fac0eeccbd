"""Calls without a homeserver: coturn's configuration and Synapse's TURN and MatrixRTC settings as
``parta init`` writes them (install/turn.py, install/matrix_rtc.py), the token requests' shapes and
the LiveKit names (ops/calls.py, against MSC4195's test vectors as lk-jwt-service checks them)."""

from __future__ import annotations

import stat

import pytest
from ruamel.yaml import YAML
from synapse.config.matrixrtc import MatrixRtcConfigModel

from spaces_provisioner.errors import ProvisioningError
from spaces_provisioner.install import matrix_rtc, turn
from spaces_provisioner.ops import calls
from spaces_provisioner.ops.calls import ROOM_SLOT, TokenRequest, livekit_identity, livekit_room
from spaces_provisioner.settings import Settings


def test_livekit_names_follow_msc4195_test_vectors():
    assert livekit_room("!roomid:example.com", "slot1234") == "O8437W3+jmzMVjoIP3tNwbm+XxHQk2iKpOA7aqw3qSc"
    assert livekit_identity("@alice:example.com", "DEVICE123", "memberABC") == \
        "J+T45tGruxc+HrUOqJJlyQSV33m728Cme4+vt8/SWrU"
    assert livekit_room("!r:x") == livekit_room("!r:x", ROOM_SLOT) != livekit_room("!r:x", "other")


def test_identity_of_each_request_shape():
    legacy = TokenRequest("!r:x", ROOM_SLOT, "t", "x", "", "DEV", None)
    assert legacy.identity("@a:x") == "@a:x:DEV"
    msc4195 = TokenRequest("!r:x", ROOM_SLOT, "t", "x", "@a:x", "DEV", "m1")
    assert msc4195.identity("@a:x") == livekit_identity("@a:x", "DEV", "m1")


OPENID = {"access_token": "tok", "token_type": "Bearer", "matrix_server_name": "school.test", "expires_in": 3600}


def test_token_requests_are_read_as_lk_jwt_service_reads_them():
    r = calls.parse_get_token({"room_id": "!r:x", "slot_id": ROOM_SLOT, "openid_token": OPENID, "delay_id": "ignored",
                         "member": {"id": "m1", "claimed_user_id": "@a:x", "claimed_device_id": "DEV"}})
    assert (r.room_id, r.access_token, r.server_name, r.claimed_user_id, r.member_id) == \
        ("!r:x", "tok", "school.test", "@a:x", "m1")
    r = calls.parse_sfu_get({"room": "!r:x", "openid_token": OPENID, "device_id": "DEV"})
    assert (r.room_id, r.slot_id, r.device_id, r.member_id) == ("!r:x", ROOM_SLOT, "DEV", None)


@pytest.mark.parametrize("body", [
    {},
    {"room_id": "!r:x", "slot_id": ROOM_SLOT, "openid_token": OPENID},                       # no member
    {"room_id": "!r:x", "slot_id": "", "openid_token": OPENID,
     "member": {"id": "m1", "claimed_user_id": "@a:x", "claimed_device_id": "DEV"}},
    {"room_id": "!r:x", "slot_id": ROOM_SLOT, "openid_token": {"access_token": "tok"},
     "member": {"id": "m1", "claimed_user_id": "@a:x", "claimed_device_id": "DEV"}},
    {"room_id": 5, "slot_id": ROOM_SLOT, "openid_token": OPENID,
     "member": {"id": "m1", "claimed_user_id": "@a:x", "claimed_device_id": "DEV"}},
])
def test_malformed_token_requests_are_400(body):
    with pytest.raises(ProvisioningError) as e:
        calls.parse_get_token(body)
    assert e.value.status == 400


def _homeserver_yaml(tmp_path):
    path = tmp_path / "homeserver.yaml"
    path.write_text("server_name: school.test\nexperimental_features:\n  msc9999_enabled: true\n", encoding="utf-8")
    return path


def test_coturn_config_and_synapse_turn_settings(tmp_path):
    hs = _homeserver_yaml(tmp_path)
    t = turn.configure_turn(tmp_path, hs, "https://school.example/", port=3479)
    conf = (tmp_path / "turnserver.conf").read_text(encoding="utf-8")
    assert stat.S_IMODE((tmp_path / "turnserver.conf").stat().st_mode) == 0o600
    assert stat.S_IMODE(hs.stat().st_mode) == 0o600
    lines = set(conf.splitlines())
    assert {"use-auth-secret", f"static-auth-secret={t.secret}", "realm=school.example", "listening-port=3479",
            "no-cli", "no-multicast-peers", "no-tcp-relay", "min-port=49152", "max-port=65535"} <= lines
    for denied in ("10.0.0.0-10.255.255.255", "127.0.0.0-127.255.255.255", "169.254.0.0-169.254.255.255",
                   "192.168.0.0-192.168.255.255", "172.16.0.0-172.31.255.255", "::1",
                   "fe80::-febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff"):
        assert f"denied-peer-ip={denied}" in lines
    assert not any(line.startswith("allowed-peer-ip=") for line in lines)
    data = YAML(typ="safe").load(hs.read_text(encoding="utf-8"))
    assert data["turn_uris"] == ["turn:school.example:3479?transport=udp", "turn:school.example:3479?transport=tcp"]
    assert data["turn_shared_secret"] == t.secret and len(t.secret) >= 32
    assert data["turn_user_lifetime"] == "1h" and data["turn_allow_guests"] is False
    # again (parta init --force): the secret, the port and the operator's allowed peers stay
    (tmp_path / "turnserver.conf").write_text(conf + "allowed-peer-ip=10.0.0.1\n", encoding="utf-8")
    again = turn.configure_turn(tmp_path, hs, "https://school.example/", allowed_peers=["127.0.0.1"])
    assert (again.secret, again.port) == (t.secret, 3479)
    assert turn.read_turn_config(tmp_path).allowed_peers == ["10.0.0.1", "127.0.0.1"]


def test_matrix_rtc_settings(tmp_path):
    hs = _homeserver_yaml(tmp_path)
    settings = Settings(root=tmp_path, server_name="school.test", homeserver_url="http://127.0.0.1:9",
                        homeserver_config=hs, database="sqlite://", provisioning_host="127.0.0.1",
                        provisioning_port=9, operator_token="op", bot_user_id="@parta:school.test",
                        bot_access_token="bot", public_url_override="https://school.example")
    matrix_rtc.configure_livekit(settings, "https://school.example/")
    assert settings.livekit_url == "wss://school.example/livekit/sfu"
    assert settings.livekit_api_key and len(settings.livekit_api_secret) >= 32
    key, secret = settings.livekit_api_key, settings.livekit_api_secret
    matrix_rtc.configure_livekit(settings, "https://school.example/", old=settings)
    assert (settings.livekit_api_key, settings.livekit_api_secret) == (key, secret)
    assert matrix_rtc.default_livekit_url("http://127.0.0.1:8008/") == "ws://127.0.0.1:7880"
    matrix_rtc.configure_matrix_rtc(settings)
    data = YAML(typ="safe").load(hs.read_text(encoding="utf-8"))
    assert data["experimental_features"] == {"msc9999_enabled": True, "msc4143_enabled": True,
                                             "msc4222_enabled": True}
    transport = {"type": "livekit", "url": "wss://school.example/livekit/sfu",
                 "livekit_service_url": "https://school.example/api/v1/livekit"}
    assert data["matrix_rtc"] == {"transports": [transport]}
    MatrixRtcConfigModel(**data["matrix_rtc"])  # Synapse's own validation of the section
    assert data["extra_well_known_client_content"]["org.matrix.msc4143.rtc_foci"] == [
        {"type": "livekit", "livekit_service_url": "https://school.example/api/v1/livekit"}]
    assert data["max_event_delay_duration"] == "24h"
    assert data["rc_message"] == {"per_second": 0.5, "burst_count": 30}
    assert data["rc_delayed_event_mgmt"] == {"per_second": 1, "burst_count": 20}
    # parta.yaml keeps the keys
    settings.bot_access_token = "bot"
    settings.save()
    loaded = Settings.load(tmp_path)
    assert (loaded.livekit_url, loaded.livekit_api_key, loaded.livekit_api_secret) == \
        (settings.livekit_url, key, secret)

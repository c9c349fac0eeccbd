"""Calls in the running installation (issue 11): clients discover the LiveKit transport with
Parta's token service, and Debian's real coturn, started the way ``parta run`` starts it, accepts
the TURN credentials Synapse hands a pupil (``turnutils_uclient``) and refuses a wrong password.
The attacks on calls are in ``test_call_attacks.py``."""

from __future__ import annotations

import subprocess

import aiohttp
import pytest

from spaces_provisioner.install import turn
from spaces_provisioner.install.matrix_rtc import livekit_service_url

from ..debian import ensure_package
from ..helpers import SCHOOL_B_APPLICATION, SCHOOL_B_ROSTER
from ..processes import free_port

pytestmark = pytest.mark.synapse


@pytest.fixture(scope="module")
async def pupil(hs):
    """A pupil of school B (demo roster), signed in."""
    b = await hs.new_school(roster=SCHOOL_B_ROSTER, application=SCHOOL_B_APPLICATION)
    return await hs.person(b["org"], "b-usr-002")


async def test_clients_discover_the_livekit_transport_and_parta_token_service(hs, pupil):
    service = livekit_service_url(hs.settings)
    assert service == f"{hs.settings.provisioning_url}/api/v1/livekit"
    answer = await pupil.get("/_matrix/client/unstable/org.matrix.msc4143/rtc/transports")
    assert answer == {"rtc_transports": [{"type": "livekit", "url": hs.settings.livekit_url,
                                          "livekit_service_url": service}]}
    async with aiohttp.ClientSession() as s:
        async with s.get(f"{hs.url}/.well-known/matrix/client") as r:
            well_known = await r.json(content_type=None)
        assert well_known["org.matrix.msc4143.rtc_foci"] == [{"type": "livekit", "livekit_service_url": service}]
        async with s.options(service + "/get_token", headers={"Origin": "https://call.example",
                                                              "Access-Control-Request-Method": "POST"}) as r:
            assert r.status == 200 and r.headers["Access-Control-Allow-Origin"] == "*"
            assert "POST" in r.headers["Access-Control-Allow-Methods"]


@pytest.fixture(scope="module")
def coturn(installation, tmp_path_factory):
    """Debian's coturn (installed when missing) with the installation's shared secret, started by
    ``install.turn.start_coturn`` as ``parta run`` does, on loopback, with loopback peers allowed
    (the documented ``allowed-peer-ip`` option): the test's two clients relay to each other there."""
    ensure_package("turnserver", "coturn")
    ensure_package("turnutils_uclient", "coturn")
    installed = turn.read_turn_config(installation.root)
    assert installed is not None and installed.listening_ip == "127.0.0.1"
    root = tmp_path_factory.mktemp("coturn")
    config = turn.TurnConfig(host="127.0.0.1", port=turn.pick_turn_port(free_port()), secret=installed.secret,
                             allowed_peers=["127.0.0.1"], listening_ip="127.0.0.1")
    turn.write_coturn_config(root, config)
    service = turn.start_coturn(root, root / "logs")
    assert service is not None
    try:
        service.wait_healthy(30)
        yield config
    finally:
        service.stop()


def uclient(config: turn.TurnConfig, username: str, password: str, tcp: bool = False) -> subprocess.CompletedProcess:
    """``turnutils_uclient``: two clients allocate relays and send 5 messages to each other through them."""
    argv = ["turnutils_uclient", "-y", "-n", "5", "-m", "1", "-l", "100", "-u", username, "-w", password,
            "-p", str(config.port), *(["-t"] if tcp else []), "127.0.0.1"]
    return subprocess.run(argv, capture_output=True, text=True, timeout=120)


async def test_coturn_accepts_synapse_credentials(hs, pupil, coturn, installation):
    creds = await pupil.get("/_matrix/client/v3/voip/turnServer")
    assert creds["uris"] == turn.read_turn_config(installation.root).uris
    assert creds["username"].endswith(":" + pupil.user_id)
    for tcp in (False, True):
        ok = uclient(coturn, creds["username"], creds["password"], tcp=tcp)
        assert ok.returncode == 0, ok.stdout[-2000:] + ok.stderr[-2000:]
        assert "tot_recv_msgs=" in ok.stdout + ok.stderr
    wrong = uclient(coturn, creds["username"], creds["password"][:-4] + "AAA=")
    assert wrong.returncode != 0, wrong.stdout[-2000:]
    other = uclient(coturn, creds["username"].replace(pupil.user_id, "@teacher:" + hs.server_name), creds["password"])
    assert other.returncode != 0, other.stdout[-2000:]  # the password is bound to the user name


def test_parta_run_starts_the_installations_coturn(services, installation):
    """The session's ``parta run`` (tests/conftest.py ``services``) started coturn from DIR/turnserver.conf,
    listening where Synapse's turn_uris say, when coturn was installed at the session's start."""
    names = [s.name for s in services]
    if turn.coturn_binary() is None or "coturn" not in names:
        pytest.skip("coturn was not installed when this session's services started")
    service = next(s for s in services if s.name == "coturn")
    assert service.is_healthy() and service.process.poll() is None

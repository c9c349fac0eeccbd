"""Federation on the worker topology (``parta init --federate-with ... --workers``): partner servers'
requests reach the main process through the topology's nginx (``install/workers.py``, the federation
locations), and the partner list in the module's own config reaches every worker.

World (module fixture, only with ``PARTA_TEST_TOPOLOGY=workers``): server A, federating with B, as
Synapse's workers behind nginx on its own PostgreSQL database; B, federating with A, one process
(``federation_world.make_server``). A's server name is ``127.0.0.1:PORT`` where PORT is a test-only TLS
``listen`` added to A's nginx (certificate of the tests' CA, as ``federation_world`` adds a TLS
listener to a single process); in production the front proxy terminates TLS (config/nginx.conf).
Every federation request to A thus passes A's nginx; its access log names the process that served it.
Last, on the session's worker topology (no partners), the one federation path served without
``--federate-with``: the OpenID userinfo the group calls' token service asks.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import aiohttp
import pytest
import trustme
from mautrix.api import Method
from ruamel.yaml import YAML

from spaces_provisioner.install.installation import init_installation
from spaces_provisioner.install.supervisor import running
from spaces_provisioner.install.workers import Topology
from spaces_provisioner.settings import Settings

from ..conftest import PG_ADMIN_DSN, _pg, relax_rate_limits
from ..helpers import Homeserver, q
from ..processes import free_port
from ..schools import attack_cast, write_attack_roster
from ..workers_topology import make_workers, workers_wanted
from . import federation_world
from .federation_world import make_server
from .test_federation import _side, invite, join, ok, refused, sent_and_seen

pytestmark = [pytest.mark.synapse,
              pytest.mark.skipif(not workers_wanted(), reason="needs PARTA_TEST_TOPOLOGY=workers")]


def _postgres(stack: ExitStack) -> str:
    """A fresh PostgreSQL database (the worker topology needs one), dropped at the end."""
    name = f"parta_wfed_{uuid.uuid4().hex[:10]}"
    _pg(f"CREATE DATABASE {name} LOCALE 'C' TEMPLATE template0 ENCODING 'UTF8'")
    stack.callback(_pg, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    return PG_ADMIN_DSN.replace("dbname=postgres", f"dbname={name}")


def _workers_server(root: Path, ca: trustme.CA, port: int, partners: list[str], stack: ExitStack) -> Settings:
    """``parta init --federate-with PARTNERS --workers`` of ``127.0.0.1:port``, plus the test-only TLS
    ``listen`` on ``port`` in its nginx and the tests' CA for its own outbound federation."""
    settings = init_installation(root, f"127.0.0.1:{port}", postgres_dsn=_postgres(stack), port=free_port(),
                                 provisioning_port=free_port(), bridge_port=free_port(), turn_port=free_port(),
                                 federate_with=partners)
    relax_rate_limits(settings.homeserver_config)
    ca.cert_pem.write_to_path(str(root / "test-ca.pem"))
    y = YAML()
    data = y.load(settings.homeserver_config.read_text(encoding="utf-8"))
    data["federation_custom_ca_list"] = [str(root / "test-ca.pem")]
    data["federation_verify_certificates"] = True
    data["federation_ip_range_blacklist"] = []  # the partner is on loopback (see federation_world)
    with settings.homeserver_config.open("w", encoding="utf-8") as f:
        y.dump(data, f)
    topology = make_workers(settings)
    cert = ca.issue_cert("127.0.0.1")
    cert.private_key_pem.write_to_path(str(root / "federation.key"))
    cert.cert_chain_pems[0].write_to_path(str(root / "federation.crt"))
    conf = topology.nginx_conf.read_text(encoding="utf-8")
    plain = f"        listen 127.0.0.1:{topology.nginx_port};\n"
    assert plain in conf
    topology.nginx_conf.write_text(conf.replace(plain, plain + (
        f"        listen 127.0.0.1:{port} ssl;\n"
        f"        ssl_certificate {root / 'federation.crt'};\n"
        f"        ssl_certificate_key {root / 'federation.key'};\n")), encoding="utf-8")
    return settings


@pytest.fixture(scope="module")
def servers(tmp_path_factory) -> Iterator[tuple[Settings, Settings]]:
    """A (workers) and B (one process), each the other's partner, running."""
    started = time.monotonic()
    base = tmp_path_factory.mktemp("workers-federation")
    ca = trustme.CA()
    port_a, port_b = free_port(), free_port()
    with ExitStack() as stack:
        # B runs before A's topology picks its free ports (picked ports are bound only when the processes
        # start: B's, picked before, could otherwise be handed out again)
        # B on SQLite whatever PARTA_TEST_DB says: the topology under test is A's (on PostgreSQL, its seven
        # processes' pools), and PostgreSQL's 100 connections are shared with the session's installation
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(federation_world, "database", lambda _stack: None)
            b = make_server(base / "b", ca, port_b, [f"127.0.0.1:{port_a}"], stack).settings
        stack.enter_context(running(b))
        a = _workers_server(base / "a", ca, port_a, [f"127.0.0.1:{port_b}"], stack)
        stack.enter_context(running(a))
        print(f"\nworkers federation: A (workers) and B made and started in {time.monotonic() - started:.1f} s")
        yield a, b


@pytest.fixture(scope="module")
async def sides(servers, tmp_path_factory):
    handles = [Homeserver(s) for s in servers]
    for h in handles:
        await h.open()
    try:
        yield [await _side(h, write_attack_roster(tmp_path_factory.mktemp(f"wroster{i}")))
               for i, h in enumerate(handles)]
    finally:
        for h in handles:
            await h.close()


def _served_by_main(settings: Settings, path_part: str) -> list[str]:
    """A's nginx log lines for requests containing ``path_part`` that reached the main process."""
    topology = Topology.load(settings.root)
    assert topology is not None
    log = (topology.nginx_conf.parent / "logs" / "access.log").read_text(encoding="utf-8").splitlines()
    return [line for line in log if path_part in line and line.endswith(f"main 127.0.0.1:{topology.main.port}")]


async def test_a_partners_teacher_joins_a_network_room_on_a_workers_server(servers, sides):
    """Legitimate: A's teacher (on A's client worker) invites B's teacher into A's network room; B's
    teacher joins through A's nginx (make_join, send_join: main) and both write. The twin refused on
    A's client worker from the module's own partner list: a user of a server that is no partner
    (``federation_not_partner``)."""
    a, b = sides
    room = (await a.hs.api.call("POST", "/network-rooms", json={"name": "Олимпиада на воркерах",
                                                                 "orgs": [a.org]}))["room_id"]
    await a.hs.bot.request(Method.POST, f"/_synapse/admin/v1/join/{q(room)}", {"user_id": a.teacher.user_id})
    refused(await invite(a.teacher, room, "@teacher:school9.example"), reason="federation_not_partner")
    ok(await invite(a.teacher, room, b.teacher.user_id))
    ok(await join(b.teacher, room, via=a.hs.server_name))
    await sent_and_seen(a.teacher, b.teacher, room)
    await sent_and_seen(b.teacher, a.teacher, room)
    # B's joins and transactions passed A's nginx and were served by main (its listener: federation, keys)
    assert _served_by_main(servers[0], "/_matrix/federation/v1/make_join/"), "make_join did not reach main"
    assert _served_by_main(servers[0], "/_matrix/federation/v2/send_join/"), "send_join did not reach main"
    assert _served_by_main(servers[0], "/_matrix/federation/v1/send/"), "no transaction reached main"
    assert _served_by_main(servers[0], "/_matrix/key/v2/server"), "B never fetched A's keys through nginx"


async def test_a_pupil_of_the_workers_server_is_refused_by_its_own_module(servers, sides):
    """Attack: B's teacher invites A's pupil into B's network room; A's module (main: the federation
    listener) refuses the federated invitation (only confirmed staff), and A's teacher next to it is
    invited (the legitimate twin)."""
    a, b = sides
    room = (await b.hs.api.call("POST", "/network-rooms", json={"name": "Сеть школ Б", "orgs": [b.org]}))["room_id"]
    await b.hs.bot.request(Method.POST, f"/_synapse/admin/v1/join/{q(room)}", {"user_id": b.teacher.user_id})
    refused(await invite(b.teacher, room, a.student.user_id), "federation_invite_refused")
    ok(await invite(b.teacher, room, a.teacher.user_id))
    assert _served_by_main(servers[0], "/_matrix/federation/v2/invite/"), "the invitation did not reach main"


async def test_openid_userinfo_reaches_main_through_nginx(hs, school_roster):
    """On the session's worker topology (no partners): the group calls' token service checks a person's
    OpenID token at ``/_matrix/federation/v1/openid/userinfo`` on ``homeserver_url``, which is nginx here
    (``spaces_provisioner/homeserver/openid.py``); nginx sends it to main (listener resource ``openid``),
    which names the token's owner. A token nobody was given is refused (401 ``M_UNKNOWN_TOKEN``)."""
    school = await hs.new_school(roster=school_roster)
    teacher = await hs.person(school["org"], attack_cast().teacher, confirmed=True)
    token = (await teacher.attempt("POST", f"/_matrix/client/v3/user/{q(teacher.user_id)}/openid/request_token",
                                   {}))[1]["access_token"]
    url = f"{hs.url}/_matrix/federation/v1/openid/userinfo"
    async with aiohttp.ClientSession() as s:
        async with s.get(url, params={"access_token": token}) as r:
            assert r.status == 200 and (await r.json())["sub"] == teacher.user_id
        async with s.get(url, params={"access_token": "not-a-token"}) as r:
            assert r.status == 401 and (await r.json())["errcode"] == "M_UNKNOWN_TOKEN"
    assert _served_by_main(hs.settings, "/_matrix/federation/v1/openid/userinfo"), "userinfo did not reach main"

"""Issue 13: server discovery. A person types only ``@login:SERVER`` and the client finds the homeserver.

Matrix spec, Client-Server API, "Server Discovery" ("Well-known URIs"): the client splits the user id
at the first colon, GETs ``https://SERVER/.well-known/matrix/client`` (JSON, with CORS for web
clients), takes ``m.homeserver.base_url``, checks that ``/_matrix/client/versions`` answers there,
then signs in. Nheko's "Autodiscovery failed" came from a base_url of ``http://127.0.0.1:8008/``
(the loopback listener, ``parta init``'s old default) or nothing answering on the server name's host.

Here: an installation made by ``parta init --behind-proxy`` named ``127.0.0.1:PORT`` (resolvable
without /etc/hosts), the repository's config/nginx.conf in front of it (Debian's nginx, the TLS
certificate from the tests' own CA, ``trustme``), and matrix-nio as the client: its
``discovery_info`` on ``https://SERVER``, then ``/versions`` and a password sign-in at the base_url.
"""

from __future__ import annotations

import socket
import ssl
import subprocess
import time
from contextlib import ExitStack
from pathlib import Path

import aiohttp
import pytest
import trustme
from nio import AsyncClient, DiscoveryInfoResponse, LoginResponse

from spaces_provisioner.install.installation import init_installation
from spaces_provisioner.install.supervisor import running

from ..conftest import relax_rate_limits
from ..debian import ensure_package
from ..helpers import Homeserver
from ..processes import free_port
from .federation_world import database

pytestmark = pytest.mark.synapse
REPO = Path(__file__).resolve().parents[2]


def nginx_conf(root: Path, port: int, server_name: str, synapse: int, provisioning: int, cert: Path,
               key: Path) -> Path:
    """config/nginx.conf as an operator deploys it (this server name, certificate, upstreams on
    loopback), inside a minimal main configuration whose files stay in ``root``."""
    site = (REPO / "config" / "nginx.conf").read_text(encoding="utf-8")
    for old, new in (("listen 443 ssl http2;", f"listen 127.0.0.1:{port} ssl http2;"),
                     ("server_name school.example;", f"server_name {server_name.split(':')[0]};"),
                     ("/etc/nginx/certs/fullchain.pem", str(cert)), ("/etc/nginx/certs/privkey.pem", str(key)),
                     ("http://synapse:8008", f"http://127.0.0.1:{synapse}"),
                     ("http://provisioning:8009", f"http://127.0.0.1:{provisioning}"),
                     ("http://livekit:7880/", f"http://127.0.0.1:{free_port()}/")):
        assert old in site, f"config/nginx.conf no longer has {old!r}: update this test"
        site = site.replace(old, new)
    for d in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (root / d).mkdir(exist_ok=True)
    conf = root / "nginx.conf"
    conf.write_text(
        f"pid {root}/nginx.pid;\nerror_log {root}/error.log;\nevents {{}}\n"
        f"http {{\n access_log {root}/access.log;\n client_body_temp_path {root}/client_body;\n"
        f" proxy_temp_path {root}/proxy;\n fastcgi_temp_path {root}/fastcgi;\n uwsgi_temp_path {root}/uwsgi;\n"
        f" scgi_temp_path {root}/scgi;\n{site}\n}}\n", encoding="utf-8")
    return conf


@pytest.fixture(scope="module")
def deployed(tmp_path_factory):
    """``(settings, server_name, CA)``: the installation running behind nginx with TLS."""
    nginx = ensure_package("nginx", "nginx")
    root = tmp_path_factory.mktemp("discovery")
    port = free_port()
    name = f"127.0.0.1:{port}"
    with ExitStack() as stack:
        settings = init_installation(root / "parta", name, postgres_dsn=database(stack), port=free_port(),
                                     provisioning_port=free_port(), bridge_port=free_port(), turn_port=free_port(),
                                     behind_proxy=True)
        relax_rate_limits(settings.homeserver_config)
        ca = trustme.CA()
        cert = ca.issue_cert("127.0.0.1")
        cert.private_key_pem.write_to_path(str(root / "privkey.pem"))
        cert.cert_chain_pems[0].write_to_path(str(root / "fullchain.pem"))
        synapse_port = int(settings.homeserver_url.rsplit(":", 1)[1])
        conf = nginx_conf(root, port, name, synapse_port, settings.provisioning_port, root / "fullchain.pem",
                          root / "privkey.pem")
        subprocess.run([nginx, "-t", "-c", str(conf), "-p", str(root)], check=True, capture_output=True)
        # nginx first, Synapse after: the port was free when chosen, and the sooner nginx binds it the
        # less time another process has to take it (starting Synapse takes seconds)
        proc = subprocess.Popen([nginx, "-c", str(conf), "-p", str(root), "-g", "daemon off;"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        stack.callback(proc.wait, timeout=30)
        stack.callback(proc.terminate)
        wait_listening(port, proc, root / "error.log")
        stack.enter_context(running(settings))
        yield settings, name, ca


def wait_listening(port: int, proc: subprocess.Popen, error_log: Path, timeout: float = 30.0) -> None:
    """Until nginx accepts connections on ``port`` (it binds after reading its configuration).

    A connection alone proves nothing: another process may hold the port (it was free when chosen).
    nginx logs a failed ``bind()`` at once and keeps retrying for a few seconds before it exits, so
    that line is an immediate, clear failure instead of a test talking to somebody else's server."""
    def bind_failed() -> bool:
        log = error_log.read_text(encoding="utf-8", errors="replace") if error_log.exists() else ""
        return "bind()" in log

    deadline = time.monotonic() + timeout
    while True:
        assert not bind_failed(), f"nginx could not bind 127.0.0.1:{port} (another process took it): {error_log}"
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            if proc.poll() is None and not bind_failed():
                return
        except OSError:
            pass
        assert proc.poll() is None and time.monotonic() < deadline, "nginx did not start (see its error.log)"
        time.sleep(0.1)


def trusting(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


async def test_a_client_finds_the_homeserver_from_the_user_id_alone(deployed):
    settings, name, ca = deployed
    hs = Homeserver(settings)
    await hs.open()
    try:
        account = await hs.api.create_account("Найденов", "Иван")
    finally:
        await hs.close()
    user_id, password = account["user_id"], account["password"]
    assert user_id.endswith(":" + name)
    context = trusting(ca)
    started = time.monotonic()
    # the spec's step 1-3: the server name from the user id, https://SERVER/.well-known/matrix/client
    server = user_id.split(":", 1)[1]
    finder = AsyncClient(f"https://{server}", ssl=context)
    try:
        info = await finder.discovery_info()
    finally:
        await finder.close()
    assert isinstance(info, DiscoveryInfoResponse), info
    base_url = info.homeserver_url.rstrip("/")
    assert base_url == f"https://{name}", info.homeserver_url   # public_baseurl: not the loopback listener
    async with aiohttp.ClientSession() as s:
        async with s.get(f"https://{server}/.well-known/matrix/client", ssl=context,
                         headers={"Origin": "https://app.element.io"}) as r:
            assert r.status == 200 and r.content_type == "application/json", r
            assert r.headers.get("Access-Control-Allow-Origin") == "*", r.headers   # web clients (Element Web)
        async with s.get(f"{base_url}/_matrix/client/versions", ssl=context) as r:
            assert r.status == 200 and (await r.json())["versions"], r
    client = AsyncClient(base_url, user_id, ssl=context)
    try:
        login = await client.login(password, device_name="discovery test")
        assert isinstance(login, LoginResponse), login
        assert login.user_id == user_id
    finally:
        await client.close()
    print(f"\ndiscovery: well-known, versions and sign-in through nginx in {time.monotonic() - started:.2f} s")


async def test_the_proxy_serves_nothing_else(deployed):
    """Next to it: nginx still answers nothing else (the Admin API and unknown paths stay closed)."""
    _settings, name, ca = deployed
    async with aiohttp.ClientSession() as s:
        for path in ("/_synapse/admin/v1/server_version", "/something"):
            async with s.get(f"https://{name}{path}", ssl=trusting(ca)) as r:
                assert r.status == 404, path

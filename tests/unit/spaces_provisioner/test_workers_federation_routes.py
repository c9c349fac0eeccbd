"""The worker topology's nginx (``parta init --workers``) sends federation to the main process, as
config/nginx.conf sends it to the single process: partner servers' Server-Server API requests, key
requests and ``/.well-known/matrix/server`` reach the process whose listener serves them (``federation``
and ``keys`` with ``--federate-with``), instead of nginx's catch-all 404. The real topology behind
nginx: tests/integration/test_workers_federation.py."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from spaces_provisioner.install import workers as wk

from .test_workers_topology import PG, installation

#: Federation paths a partner server asks for (Matrix spec, Server-Server API), one per kind.
FEDERATION_PATHS = ["/_matrix/federation/v1/send/123", "/_matrix/federation/v2/invite/!r:s/$e",
                    "/_matrix/federation/v1/make_join/!r:s/@u:s", "/_matrix/federation/v1/version",
                    "/_matrix/federation/v1/openid/userinfo", "/_matrix/key/v2/server", "/_matrix/key/v2/query"]


def _location(conf: str, prefix: str) -> str:
    m = re.search(r"location " + re.escape(prefix) + r" \{([^}]*)\}", conf)
    assert m, f"no location {prefix}"
    return m.group(1)


def test_federation_goes_to_main(tmp_path):
    topology = wk.write_worker_topology(installation(tmp_path, PG), nginx_port=18443)
    conf = topology.nginx_conf.read_text(encoding="utf-8")
    for prefix in ("/_matrix/federation/", "/_matrix/key/", "= /.well-known/matrix/server"):
        body = _location(conf, prefix)
        assert "proxy_pass http://main;" in body and "X-Forwarded-For" in body, (prefix, body)
    # no worker's route takes a federation path: main, the one process with the federation listener
    for name, regexes in topology.routes.items():
        for rx in regexes:
            assert not any(re.search(rx, path) for path in FEDERATION_PATHS), (name, rx)


def test_both_proxies_forward_the_same_federation_paths(tmp_path):
    """config/nginx.conf (one process) and the workers' file expose the same federation locations."""
    single = (Path(__file__).parents[3] / "config" / "nginx.conf").read_text(encoding="utf-8")
    conf = wk.write_worker_topology(installation(tmp_path, PG)).nginx_conf.read_text(encoding="utf-8")
    for prefix in ("/_matrix/federation/", "/_matrix/key/", "= /.well-known/matrix/server"):
        assert f"location {prefix} " in single and f"location {prefix} " in conf, prefix


def test_the_file_is_valid_nginx(tmp_path):
    topology = wk.write_worker_topology(installation(tmp_path, PG), nginx_port=18443)
    if wk.nginx_binary() is None:
        pytest.skip("nginx is not installed (the integration test installs it)")
    proc = subprocess.run([str(wk.nginx_binary()), "-t", "-p", str(topology.nginx_conf.parent), "-c",
                           str(topology.nginx_conf), "-e", str(topology.nginx_conf.parent / "logs" / "error.log")],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr

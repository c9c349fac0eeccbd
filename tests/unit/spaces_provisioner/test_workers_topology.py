"""``install.workers``: the worker topology written into an installation (no Synapse started).

An installation is faked with the files the writer reads (homeserver.yaml and its log config);
the real topology runs in tests/integration/test_workers.py. Each check names what Synapse 1.163
requires (docs/workers.md; ``synapse/config/workers.py``)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from spaces_provisioner.install import workers as wk
from spaces_provisioner.settings import Settings

PG = {"name": "psycopg2", "args": {"database": "parta", "host": "127.0.0.1"}}
SQLITE = {"name": "sqlite3", "args": {"database": "homeserver.db"}}


def installation(root: Path, database: dict) -> Settings:
    (root / "logs").mkdir()
    (root / "log.config").write_text("version: 1\nhandlers:\n  file:\n    class: logging.FileHandler\n"
                                     "    filename: x.log\n", encoding="utf-8")
    config = {"server_name": "school.test", "log_config": str(root / "log.config"), "database": database,
              "listeners": [{"port": 18008, "type": "http", "bind_addresses": ["127.0.0.1"],
                             "resources": [{"names": ["client", "openid"]}]},
                            {"path": str(root / "synapse-admin.sock"), "type": "http",
                             "resources": [{"names": ["client"]}]}],
              "modules": [{"module": "synapse_module.PartaModule", "config": {}}]}
    with (root / "homeserver.yaml").open("w", encoding="utf-8") as f:
        YAML().dump(config, f)
    return Settings(root=root, server_name="school.test", homeserver_url="http://127.0.0.1:18008",
                    homeserver_config=root / "homeserver.yaml", database="postgresql://x",
                    provisioning_host="127.0.0.1",
                    provisioning_port=18009, operator_token="t", bot_user_id="@parta:school.test", bot_access_token="")


def load(path: Path) -> dict:
    return YAML(typ="safe").load(path.read_text(encoding="utf-8"))


def test_sqlite_is_refused_with_the_fix(tmp_path):
    settings = installation(tmp_path, SQLITE)
    with pytest.raises(wk.WorkersError, match="needs PostgreSQL.*--postgres DSN --workers"):
        wk.write_worker_topology(settings)
    assert not (tmp_path / "workers").exists()
    assert load(tmp_path / "homeserver.yaml")["database"] == SQLITE  # nothing half-done


def test_shared_configuration_and_one_file_per_worker(tmp_path):
    settings = installation(tmp_path, PG)
    topology = wk.write_worker_topology(settings, redis_port=16379, nginx_port=18443)
    main = load(tmp_path / "homeserver.yaml")
    names = [k["name"] for k in wk.worker_kinds()]
    assert [p.name for p in topology.processes] == ["main", *names]
    # replication: an HTTP replication listener on loopback, instance_map with main and the event persister
    replication = [listener for listener in main["listeners"]
                   if listener.get("resources") == [{"names": ["replication"]}]]
    assert len(replication) == 1 and replication[0]["bind_addresses"] == ["127.0.0.1"]
    assert main["instance_map"]["main"] == {"host": "127.0.0.1", "port": replication[0]["port"]}
    assert main["stream_writers"] == {"events": ["event_persister"]}
    assert "event_persister" in main["instance_map"]
    assert main["redis"] == {"enabled": True, "host": "127.0.0.1", "port": 16379}
    pools = [main["database"]["args"]["cp_max"]] + [load(p.config)["database"]["args"]["cp_max"]
                                                     for p in topology.workers]
    assert sum(pools) <= 25  # PostgreSQL allows 100 connections by default, shared with everything else
    assert len(main["worker_replication_secret"]) >= 32
    assert main["enable_media_repo"] is False and main["media_instance_running_background_jobs"] == "media"
    assert main["pusher_instances"] == ["pusher"] and main["run_background_tasks_on"] == "background"
    assert main["modules"][0]["module"] == "synapse_module.PartaModule"
    for proc in topology.workers:
        worker = load(proc.config)
        assert worker["worker_app"] == ("synapse.app.media_repository" if proc.name == "media"
                                        else "synapse.app.generic_worker")
        assert worker["worker_name"] == proc.name
        assert worker["worker_listeners"][0]["port"] == proc.port
        assert load(Path(worker["worker_log_config"]))["handlers"]["file"]["filename"].endswith(f"{proc.name}.log")
    # parta run finds it again; clients go through nginx from now on
    assert wk.Topology.load(tmp_path).processes == topology.processes
    assert Settings.load(tmp_path).homeserver_url == "http://127.0.0.1:18443"


def test_a_second_write_keeps_ports_and_secret(tmp_path):
    settings = installation(tmp_path, PG)
    first = wk.write_worker_topology(settings)
    secret = load(tmp_path / "homeserver.yaml")["worker_replication_secret"]
    second = wk.write_worker_topology(settings)
    assert [p.port for p in second.processes] == [p.port for p in first.processes]
    assert load(tmp_path / "homeserver.yaml")["worker_replication_secret"] == secret
    assert sum("replication" in str(x) for x in load(tmp_path / "homeserver.yaml")["listeners"]) == 1


def test_vanilla_synapse_has_no_module(tmp_path):
    """The load benchmark's comparison: the same topology without Parta's module."""
    settings = installation(tmp_path, PG)
    wk.write_worker_topology(settings, with_module=False)
    assert "modules" not in load(tmp_path / "homeserver.yaml")


def test_nginx_routes_and_closes_what_config_nginx_closes(tmp_path):
    settings = installation(tmp_path, PG)
    topology = wk.write_worker_topology(settings, nginx_port=18443)
    conf = topology.nginx_conf.read_text(encoding="utf-8")
    assert '"~^/_matrix/client/(r0|v3)/sync$" client_sync;' in conf
    assert '"~^/_matrix/media/" media;' in conf
    for closed in ("/_synapse/client/parta/", "/_synapse/admin/", "/api/v1/registrations/nudge", "/"):
        assert f"location {closed} {{ default_type application/json; return 404 '{wk.NOT_FOUND}'; }}" in conf
    if wk.nginx_binary() is None:
        pytest.skip("nginx is not installed (the integration test installs it)")
    proc = subprocess.run([str(wk.nginx_binary()), "-t", "-p", str(topology.nginx_conf.parent), "-c",
                           str(topology.nginx_conf), "-e", str(topology.nginx_conf.parent / "logs" / "error.log")],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_init_without_workers_forgets_the_topology(tmp_path):
    """``parta init --force`` without ``--workers`` rewrites homeserver.yaml for one process: the old
    topology must go, or ``parta run`` would start workers against a main without replication."""
    settings = installation(tmp_path, PG)
    wk.write_worker_topology(settings, redis_port=16379, nginx_port=18443)
    assert wk.Topology.load(tmp_path) is not None
    assert wk.remove_worker_topology(settings) is True
    assert wk.Topology.load(tmp_path) is None
    assert not (tmp_path / wk.WORKERS_DIR).exists() and not (tmp_path / wk.NGINX_DIR).exists()
    assert wk.remove_worker_topology(settings) is False  # re-running is safe

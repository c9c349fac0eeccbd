"""``parta init --workers``: turn an installation into Synapse's worker topology (Synapse 1.163).

The processes, their duties and their nginx routes are data (``install/data/workers.yaml``); this
module writes them into the installation:

- ``DIR/homeserver.yaml`` (the main process and the configuration every worker shares): an HTTP
  replication listener on loopback, ``instance_map`` (main and every worker others call over
  replication), ``redis`` (replication between processes), ``worker_replication_secret``,
  ``stream_writers.events``, ``enable_media_repo: false`` with ``media_instance_running_background_jobs``,
  ``pusher_instances``, ``run_background_tasks_on``;
- ``DIR/workers/NAME.yaml`` for each worker (``worker_app: synapse.app.generic_worker``, its listener,
  its log config writing ``DIR/logs/NAME.log``);
- ``DIR/nginx/nginx.conf``: one server on loopback that routes each request as the data file says and
  exposes only what ``config/nginx.conf`` exposes (module resources and the Admin API: 404);
- ``DIR/workers/topology.yaml``: the processes, their ports and health URLs (``parta run`` reads it).

PostgreSQL is required (Synapse's workers share one database; SQLite cannot be shared).
Sources: Synapse 1.163 docs/workers.md ("Shared configuration", "Available worker applications",
"Stream writers"), docs/usage/configuration/config_documentation.md ("Workers" section), and
``synapse/config/workers.py`` (the checks Synapse makes on start).
"""

from __future__ import annotations

import copy
import json
import secrets
import shutil
import socket
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from ruamel.yaml import YAML

from spaces_provisioner.errors import Errcode
from spaces_provisioner.homeserver.config_file import read_synapse_config
from spaces_provisioner.settings import Settings

#: Files written inside the installation directory.
WORKERS_DIR = "workers"
TOPOLOGY_FILE = "topology.yaml"
NGINX_DIR = "nginx"
#: Synapse's name of the main process in ``instance_map`` and ``stream_writers``.
MAIN = "main"
#: The header nginx adds to every answer naming the process that served it (tests and operators
#: see where a request went; it names a process, nothing about people).
UPSTREAM_HEADER = "X-Parta-Upstream"


#: nginx's answer for what it never proxies: Synapse's own answer to an unknown endpoint (the same
#: body ``synapse_module.ClosedAdminApi`` gives on the single process), so clients see a Matrix error.
NOT_FOUND = json.dumps({"errcode": Errcode.UNRECOGNIZED.value, "error": "Unrecognized request"}, separators=(",", ":"))


#: Each Synapse process's database pool (``database.args.cp_max``; Synapse's default is 5).
CONNECTIONS_PER_PROCESS = 5


class WorkersError(RuntimeError):
    """The installation cannot take the worker topology; the message says how to fix it."""


@dataclass
class Proc:
    """One Synapse process of the topology: ``name`` (``main`` or a worker_name), ``kind`` (data
    file's kind), its ``config`` file (a worker's own YAML; main: homeserver.yaml), the HTTP ``port``
    on 127.0.0.1 (main: its client listener), and ``replication_port`` (main only; else None)."""

    name: str
    kind: str
    config: Path
    port: int
    replication_port: int | None = None

    @property
    def health_url(self) -> str:
        """Synapse's ``/health`` on this process (every HTTP listener serves it)."""
        return f"http://127.0.0.1:{self.port}/health"


@dataclass
class Topology:
    """The worker topology of an installation (``DIR/workers/topology.yaml``)."""

    root: Path
    processes: list[Proc]
    redis_host: str = "127.0.0.1"
    redis_port: int = 6379
    #: True: ``parta run`` starts Debian's redis-server itself (its files in DIR/redis/)
    redis_managed: bool = False
    nginx_port: int | None = None
    routes: dict[str, list[str]] = field(default_factory=dict)

    @property
    def main(self) -> Proc:
        return self.processes[0]

    @property
    def workers(self) -> list[Proc]:
        return self.processes[1:]

    @property
    def main_url(self) -> str:
        """The main process's own client listener (loopback; not the public entry)."""
        return f"http://127.0.0.1:{self.main.port}"

    @property
    def nginx_url(self) -> str | None:
        """The public entry (nginx on 127.0.0.1), None without nginx."""
        return f"http://127.0.0.1:{self.nginx_port}" if self.nginx_port else None

    @property
    def nginx_conf(self) -> Path:
        return self.root / NGINX_DIR / "nginx.conf"

    @staticmethod
    def load(root: Path) -> Topology | None:
        """The topology of installation ``root``, None for a single-process installation."""
        path = Path(root) / WORKERS_DIR / TOPOLOGY_FILE
        if not path.exists():
            return None
        data = YAML(typ="safe").load(path.read_text(encoding="utf-8"))
        procs = [Proc(p["name"], p["kind"], Path(root) / p["config"], int(p["port"]), p.get("replication_port"))
                 for p in data["processes"]]
        redis = data.get("redis") or {}
        return Topology(Path(root), procs, redis.get("host", "127.0.0.1"), int(redis.get("port", 6379)),
                        bool(redis.get("managed", False)), data.get("nginx_port"), data.get("routes") or {})

    def save(self) -> None:
        data = {
            "processes": [{"name": p.name, "kind": p.kind, "config": str(p.config.relative_to(self.root)),
                           "port": p.port, **({"replication_port": p.replication_port} if p.replication_port
                                              else {})} for p in self.processes],
            "redis": {"host": self.redis_host, "port": self.redis_port, "managed": self.redis_managed},
            "nginx_port": self.nginx_port,
        }
        path = self.root / WORKERS_DIR / TOPOLOGY_FILE
        with path.open("w", encoding="utf-8") as f:
            YAML().dump(data, f)


def remove_worker_topology(settings: Settings) -> bool:
    """Forget an earlier ``parta init --workers`` of this installation: ``parta init --force`` without
    ``--workers`` rewrites ``homeserver.yaml`` for one process, so the old ``DIR/workers/`` and
    ``DIR/nginx/`` must not make ``parta run`` start workers against it. True when something was removed.
    """
    removed = False
    for name in (WORKERS_DIR, NGINX_DIR):
        path = settings.root / name
        if path.is_dir():
            shutil.rmtree(path)
            removed = True
    return removed


def worker_kinds() -> list[dict]:
    """The data file's worker entries (``install/data/workers.yaml``), in order."""
    text = resources.files("spaces_provisioner.install").joinpath("data/workers.yaml").read_text(encoding="utf-8")
    return YAML(typ="safe").load(text)["workers"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _port(ports: dict[str, int] | None, name: str) -> int:
    return (ports or {}).get(name) or _free_port()


def write_worker_topology(settings: Settings, *, redis_host: str = "127.0.0.1", redis_port: int = 6379,
                          start_redis: bool = False, nginx_port: int | None = None,
                          ports: dict[str, int] | None = None, with_module: bool = True,
                          with_nginx: bool = True) -> Topology:
    """Write the worker topology into the (initialised, stopped) installation of ``settings``.

    ``redis_host``/``redis_port``: the Redis that carries replication (default 127.0.0.1:6379);
    ``start_redis``: ``parta run`` starts Debian's ``redis-server`` on that port itself. ``nginx_port``:
    where nginx listens on 127.0.0.1 (default: a free port); ``ports``: fixed HTTP ports by process name
    (``main_replication`` for main's replication listener; default: free ports). ``with_module=False``
    removes Parta's module from every process (vanilla Synapse on the same topology, for benchmarks).
    ``with_nginx=False`` writes no nginx config (clients then need their own routing).
    Afterwards ``settings.homeserver_url`` is nginx's URL (saved in parta.yaml); the main process keeps
    its client listener (``Topology.main_url``) and the bot's Admin-API socket.

    Raises :class:`WorkersError` when the installation's database is SQLite.
    """
    root = settings.root
    config_path = settings.homeserver_config
    y = YAML()
    y.preserve_quotes = True
    y.width = 4096
    data = y.load(config_path.read_text(encoding="utf-8"))
    if (data.get("database") or {}).get("name") != "psycopg2":
        raise WorkersError(
            f"{config_path}: the worker topology needs PostgreSQL (Synapse's workers share one database; "
            "SQLite cannot be shared between processes); create the installation with "
            "parta init DIR --server-name NAME --postgres DSN --workers")
    # the people's listener (parta init: client API on loopback), not the Admin-API socket or metrics
    main_listener = next(listener for listener in data["listeners"]
                         if listener.get("port") and "client" in _names(listener))
    main_port = int(main_listener["port"])
    previous = Topology.load(root)
    kept = {p.name: p.port for p in previous.processes} if previous else {}
    ports = {**kept, **(ports or {})}
    replication_port = (ports.get("main_replication") or
                        (previous.main.replication_port if previous and previous.main.replication_port else None)
                        or _free_port())
    kinds = worker_kinds()
    procs = [Proc(MAIN, "main", config_path, main_port, replication_port)]
    workers_dir = root / WORKERS_DIR
    workers_dir.mkdir(exist_ok=True)
    for kind in kinds:
        procs.append(Proc(kind["name"], kind["kind"], workers_dir / f"{kind['name']}.yaml",
                          _port(ports, kind["name"])))

    # the shared configuration (docs/workers.md "Shared configuration")
    data["listeners"] = [listener for listener in data["listeners"]
                         if "replication" not in _names(listener)]
    data["listeners"].append({"port": replication_port, "tls": False, "type": "http",
                              "bind_addresses": ["127.0.0.1"], "resources": [{"names": ["replication"]}]})
    data["instance_map"] = {MAIN: {"host": "127.0.0.1", "port": replication_port}}
    for kind, proc in zip(kinds, procs[1:], strict=True):
        if kind.get("replication"):
            data["instance_map"][proc.name] = {"host": "127.0.0.1", "port": proc.port}
    data["redis"] = {"enabled": True, "host": redis_host, "port": redis_port}
    old = read_synapse_config(config_path) or {}
    data["worker_replication_secret"] = old.get("worker_replication_secret") or secrets.token_urlsafe(32)
    data["stream_writers"] = {}
    for kind in kinds:
        for option, shape in (kind.get("duties") or {}).items():
            _set_duty(data, option, kind["name"], shape)
    data["enable_media_repo"] = False  # the media worker serves (and owns) the media repository
    # every process opens its own pool: 7 processes at parta init's 10 would take 70 of PostgreSQL's
    # default 100 connections; main keeps CONNECTIONS_PER_PROCESS, each worker its db_pool (data file)
    data["database"]["args"]["cp_min"] = 1
    data["database"]["args"]["cp_max"] = CONNECTIONS_PER_PROCESS
    if not with_module:
        data.pop("modules", None)
    data.yaml_set_comment_before_after_key(
        "instance_map", before="Parta workers (parta init --workers): install/data/workers.yaml")
    with config_path.open("w", encoding="utf-8") as f:
        y.dump(data, f)

    log_template = Path(data["log_config"])
    for kind, proc in zip(kinds, procs[1:], strict=True):
        database = copy.deepcopy(dict(data["database"]))
        database["args"] = {**dict(database["args"]), "cp_max": int(kind.get("db_pool", CONNECTIONS_PER_PROCESS))}
        _write_worker(proc, kind, log_template, settings.logs_dir, database,
                      x_forwarded=bool(main_listener.get("x_forwarded")))

    topology = Topology(root, procs, redis_host, redis_port, start_redis,
                        (nginx_port or ports.get("nginx") or (previous.nginx_port if previous else None)
                         or _free_port()) if with_nginx else None,
                        {k["name"]: list(k.get("routes") or []) for k in kinds})
    topology.save()
    if with_nginx:
        write_nginx_conf(topology, settings)
        settings.homeserver_url = topology.nginx_url or settings.homeserver_url
    settings.save()
    return topology


def _names(listener: dict) -> set[str]:
    return {n for r in listener.get("resources") or [] for n in r.get("names") or []}


def _set_duty(data: dict, option: str, worker: str, shape: str) -> None:
    """Set a shared option naming ``worker`` (``stream_writers.events`` → data["stream_writers"]["events"])."""
    target = data
    *parents, last = option.split(".")
    for p in parents:
        target = target.setdefault(p, {})
    if shape == "list":
        target[last] = [worker]
    else:
        target[last] = worker


def _write_worker(proc: Proc, kind: dict, log_template: Path, logs_dir: Path, database: dict,
                  x_forwarded: bool) -> None:
    """Write ``workers/NAME.yaml`` (with its own ``database`` section: its pool size) and its log
    config (a copy of main's, writing ``logs/NAME.log``)."""
    y = YAML()
    log_config = proc.config.with_suffix(".log.config")
    log_data = y.load(log_template.read_text(encoding="utf-8"))
    handler = (log_data.get("handlers") or {}).get("file")
    if handler is not None:
        handler["filename"] = str(logs_dir / f"{proc.name}.log")
    with log_config.open("w", encoding="utf-8") as f:
        y.dump(log_data, f)
    listener = {"type": "http", "port": proc.port, "bind_addresses": ["127.0.0.1"], "tls": False,
                "x_forwarded": x_forwarded or "client" in kind["resources"],
                "resources": [{"names": list(kind["resources"]), "compress": False}]}
    if "client" in kind["resources"]:
        # as on main: nothing under /_synapse/admin on a client listener (synapse_module.ClosedAdminApi)
        listener["additional_resources"] = {"/_synapse/admin": {"module": "synapse_module.ClosedAdminApi"}}
    worker = {"worker_app": kind.get("app", "synapse.app.generic_worker"), "worker_name": proc.name,
              "worker_listeners": [listener], "worker_log_config": str(log_config), "database": database}
    with proc.config.open("w", encoding="utf-8") as f:
        y.dump(copy.deepcopy(worker), f)


def nginx_binary() -> str | None:
    """Debian's nginx (``/usr/sbin/nginx``), None when not installed."""
    return shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/sbin")


def write_nginx_conf(topology: Topology, settings: Settings) -> Path:
    """Write ``DIR/nginx/nginx.conf``: a whole nginx configuration (run as ``nginx -c``, no root needed)
    listening on 127.0.0.1:``topology.nginx_port``.

    It exposes what ``config/nginx.conf`` exposes (the client API, media, Synapse's own client pages,
    ``/.well-known/matrix/client``; federation, ``/_matrix/key/`` and ``/.well-known/matrix/server`` to the
    main process, which serves them only with ``--federate-with``; the registration page and the
    provisioning API) and answers 404 for
    Parta's module resources (``/_synapse/client/parta/``), the Admin API and everything else. Requests
    matching a worker's routes go to that worker; the rest of the client API to the main process.
    Every answer carries ``X-Parta-Upstream: NAME`` (the process that served it).
    """
    base = topology.root / NGINX_DIR
    for sub in ("tmp", "logs"):
        (base / sub).mkdir(parents=True, exist_ok=True)

    upstreams = "\n".join(f"    upstream {p.name} {{ server 127.0.0.1:{p.port}; }}" for p in topology.processes)
    # the regex routes become one map: the first matching regex (in file order) picks the upstream
    route_lines = []
    for name, regexes in topology.routes.items():
        for rx in regexes:
            route_lines.append(f'        "~{rx}" {name};')
    proxy = ("proxy_set_header X-Forwarded-For $remote_addr; proxy_set_header X-Forwarded-Proto $scheme; "
             "proxy_set_header Host $host; "
             "proxy_http_version 1.1; proxy_read_timeout 120s;")
    provisioning = f"http://127.0.0.1:{settings.provisioning_port}"
    conf = f"""# Written by parta init --workers (spaces_provisioner/install/workers.py).
# Routing: spaces_provisioner/install/data/workers.yaml (Synapse docs/workers.md lists); what is exposed:
# the same as config/nginx.conf.
daemon off;
worker_processes 1;
pid {base / 'nginx.pid'};
error_log {base / 'logs' / 'error.log'} warn;
events {{ worker_connections 1024; }}
http {{
    # which process served each request: the routing's name and the address nginx actually reached
    log_format parta '$remote_addr [$time_local] "$request" $status $parta_upstream $upstream_addr';
    access_log {base / 'logs' / 'access.log'} parta;
    client_body_temp_path {base / 'tmp'} 1 2;
    proxy_temp_path {base / 'tmp' / 'proxy'};
    fastcgi_temp_path {base / 'tmp' / 'fastcgi'};
    uwsgi_temp_path {base / 'tmp' / 'uwsgi'};
    scgi_temp_path {base / 'tmp' / 'scgi'};
    client_max_body_size 50M;
{upstreams}
    map $uri $parta_upstream {{
        default {MAIN};
{chr(10).join(route_lines)}
    }}
    server {{
        listen 127.0.0.1:{topology.nginx_port};
        server_name {settings.server_name};
        add_header {UPSTREAM_HEADER} $parta_upstream always;

        # Profile writes (display name, avatar, MSC4133 custom fields) reach the client worker, where Parta's
        # module refuses them with its reason (profile_set_by_school), as on the single process
        location /_matrix/client/ {{ proxy_pass http://$parta_upstream; {proxy} }}
        location /_matrix/media/ {{ proxy_pass http://$parta_upstream; {proxy} }}
        # Parta's module resources stay internal (the bot reaches them on the main process's socket)
        location /_synapse/client/parta/ {{ default_type application/json; return 404 '{NOT_FOUND}'; }}
        location /_synapse/client/ {{ proxy_pass http://{MAIN}; {proxy} }}
        # the Admin API: never proxied; answered as Synapse answers an unknown endpoint
        location /_synapse/admin/ {{ default_type application/json; return 404 '{NOT_FOUND}'; }}
        location = /.well-known/matrix/client {{ proxy_pass http://{MAIN}; {proxy} }}
        location = /health {{ proxy_pass http://{MAIN}; {proxy} }}
        # Federation, as config/nginx.conf forwards it: to the main process. Its listener serves what parta
        # init gave it: the Server-Server API and the keys only with --federate-with (Synapse's
        # federation_domain_whitelist then refuses every other server), else only
        # /_matrix/federation/v1/openid/userinfo (the group calls' token service checks OpenID tokens
        # there); anything else Synapse answers 404 itself. Main rather than generic workers with a
        # federation listener (Synapse docs/workers.md lists the federation endpoints they may take): only
        # network rooms federate, with a few partner schools, so the load is small; a worker takes only
        # that list (not /_matrix/key/v2/server, for one), so main would serve federation anyway; and
        # main's listener already has the resources, so no further listener, port or routing list to keep
        # in step with Synapse's. Outbound federation is sent by main too (no federation_sender_instances).
        location = /.well-known/matrix/server {{ proxy_pass http://{MAIN}; {proxy} }}
        location /_matrix/federation/ {{ proxy_pass http://{MAIN}; {proxy} }}
        location /_matrix/key/ {{ proxy_pass http://{MAIN}; {proxy} }}

        location = /register {{ proxy_pass {provisioning}; proxy_set_header X-Forwarded-For $remote_addr; }}
        location /api/v1/registrations/nudge {{ default_type application/json; return 404 '{NOT_FOUND}'; }}
        location /api/v1/ {{ proxy_pass {provisioning}; proxy_set_header X-Forwarded-For $remote_addr; }}
        # the web console, as config/nginx.conf serves it (the session cookie gets Secure when the browser
        # came by TLS, which X-Forwarded-Proto tells the service)
        location = /console {{ return 301 /console/; }}
        location /console/ {{ proxy_pass {provisioning}; proxy_set_header X-Forwarded-For $remote_addr;
                             proxy_set_header X-Forwarded-Proto $scheme; }}

        location / {{ default_type application/json; return 404 '{NOT_FOUND}'; }}
    }}
}}
"""
    path = base / "nginx.conf"
    path.write_text(conf, encoding="utf-8")
    return path

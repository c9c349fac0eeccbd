"""Start the processes of a worker topology (``install.workers``): Redis when managed, the main
Synapse process, each worker, and nginx. ``parta run`` (``install.supervisor``) calls these.

Each is a child process like the single-process Synapse (``install.processes``): its output in
``DIR/logs/``, ready when its health check passes. Workers are started with the shared
``homeserver.yaml`` and their own ``workers/NAME.yaml`` (Synapse docs/workers.md, "Starting").
"""

from __future__ import annotations

import socket
import sys
from pathlib import Path

from spaces_provisioner.install.processes import Service, StartError, _spawn
from spaces_provisioner.install.workers import Proc, Topology, nginx_binary


class TcpService(Service):
    """A child process that is healthy once its TCP port accepts connections (Redis)."""

    port: int = 0

    def is_healthy(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return True
        except OSError:
            return False


def start_redis(topology: Topology, logs_dir: Path) -> Service:
    """Debian's ``redis-server`` on 127.0.0.1:``topology.redis_port``, no persistence (replication
    traffic only), its files in ``DIR/redis/``. Raises StartError when redis-server is missing."""
    import shutil

    binary = shutil.which("redis-server") or shutil.which("redis-server", path="/usr/bin:/usr/sbin")
    if binary is None:
        raise StartError("redis-server is not installed: apt-get install redis-server, or point the topology at "
                         "an existing Redis (parta init --workers --redis HOST:PORT)")
    work = topology.root / "redis"
    work.mkdir(exist_ok=True)
    svc = _spawn("Redis", [binary, "--bind", "127.0.0.1", "--port", str(topology.redis_port), "--save", "",
                           "--appendonly", "no", "--dir", str(work)],
                 logs_dir / "redis.log", f"tcp://127.0.0.1:{topology.redis_port}")
    tcp = TcpService(svc.name, svc.process, svc.health_url, svc.log_path)
    tcp.port = topology.redis_port
    return tcp


def start_synapse_process(topology: Topology, proc: Proc, logs_dir: Path) -> Service:
    """Start one Synapse process of the topology (main: ``-c homeserver.yaml``; a worker: plus its own
    file); returns without waiting."""
    argv = [sys.executable, "-m", "synapse.app.homeserver" if proc.name == "main" else "synapse.app.generic_worker",
            "-c", str(topology.main.config)]
    if proc.name != "main":
        argv += ["-c", str(proc.config)]
    return _spawn(f"Synapse {proc.name}", argv, logs_dir / f"synapse-{proc.name}.out", proc.health_url)


def start_nginx(topology: Topology, logs_dir: Path) -> Service | None:
    """Debian's nginx with ``DIR/nginx/nginx.conf`` (in the foreground, no root); None when the topology
    has no nginx. Raises StartError when nginx is not installed."""
    if not topology.nginx_port:
        return None
    binary = nginx_binary()
    if binary is None:
        raise StartError("nginx is not installed: apt-get install nginx (the worker topology's reverse proxy)")
    prefix = topology.nginx_conf.parent
    return _spawn("nginx", [binary, "-p", str(prefix), "-c", str(topology.nginx_conf), "-e",
                            str(prefix / "logs" / "error.log")],
                  logs_dir / "nginx.out", f"{topology.nginx_url}/health")


def start_topology(topology: Topology, logs_dir: Path, services: list[Service], timeout: float) -> None:
    """Start the topology in order, each healthy before the next: Redis (when managed), main, the
    workers, nginx. Appends each to ``services`` as it starts (so the caller stops what did start);
    raises StartError naming the log of the one that failed."""
    if topology.redis_managed:
        redis = start_redis(topology, logs_dir)
        services.append(redis)
        redis.wait_healthy(timeout)
    main = start_synapse_process(topology, topology.main, logs_dir)
    services.append(main)
    main.wait_healthy(timeout)
    started = []
    for proc in topology.workers:  # started together, then each waited for: they start in parallel
        worker = start_synapse_process(topology, proc, logs_dir)
        services.append(worker)
        started.append(worker)
    for worker in started:
        worker.wait_healthy(timeout)
    nginx = start_nginx(topology, logs_dir)
    if nginx is not None:
        services.append(nginx)
        nginx.wait_healthy(timeout)

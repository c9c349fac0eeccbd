"""``parta run``: keep Synapse, the provisioning service and the journal bridge running together.

They start in that order, each must become healthy, and all stop (SIGTERM, then SIGKILL)
when the user presses Ctrl-C, when SIGTERM arrives, or when any of them exits. The bridge
runs when the installation has its config (``journal-bridge.yaml``, written by ``parta init``);
coturn (1:1 calls' relay) when the installation has ``turnserver.conf`` and Debian's coturn is installed.
An installation with a worker topology (``parta init --workers``) runs all its Synapse processes and
nginx in place of the one Synapse (``install.worker_processes.start_topology``).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from spaces_provisioner.install.installation import close_to_others
from spaces_provisioner.install.journal_bridge import start_bridge
from spaces_provisioner.install.processes import Service, start_provisioning, start_synapse
from spaces_provisioner.install.turn import start_coturn
from spaces_provisioner.install.worker_processes import start_topology
from spaces_provisioner.install.workers import Topology
from spaces_provisioner.settings import Settings


@contextmanager
def running(settings: Settings, timeout: float = 90.0) -> Iterator[list[Service]]:
    """Start the services and wait until healthy; stops them when the block ends.

    Raises StartError (naming the log) when either fails to start.
    """
    services: list[Service] = []
    close_to_others(settings.root)  # an installation made before init closed it
    try:
        topology = Topology.load(settings.root)
        if topology is None:
            synapse = start_synapse(settings.homeserver_config, settings.homeserver_url, settings.logs_dir)
            services.append(synapse)
            synapse.wait_healthy(timeout)
        else:  # parta init --workers: Redis (when managed), main, each worker, nginx
            start_topology(topology, settings.logs_dir, services, timeout)
        provisioning = start_provisioning(settings.root, settings.provisioning_url, settings.logs_dir)
        services.append(provisioning)
        provisioning.wait_healthy(timeout)
        bridge = start_bridge(settings.root, settings.logs_dir)
        if bridge is not None:
            services.append(bridge)
            bridge.wait_healthy(timeout)
        turn = start_coturn(settings.root, settings.logs_dir)  # None (and a warning) when coturn is missing
        if turn is not None:
            services.append(turn)
            turn.wait_healthy(timeout)
        yield services
    finally:
        # a second Ctrl-C must not leave a service behind: ignore signals until both stopped
        previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)} \
            if threading.current_thread() is threading.main_thread() else {}
        try:
            for service in reversed(services):
                try:
                    service.stop()
                except Exception:  # noqa: BLE001 - stop the others whatever happened to this one
                    service.process.kill()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def wait_until_stopped(services: list[Service]) -> int:
    """Block until Ctrl-C/SIGTERM (returns 0) or until a service exits (returns 1)."""
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        while not stop.wait(0.5):
            for s in services:
                if s.process.poll() is not None:
                    print(f"{s.name} exited with code {s.process.returncode}; see {s.log_path}", flush=True)
                    return 1
        return 0
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

"""Start, watch and stop the two processes of an installation: Synapse and the provisioning service.

Both run as child processes with their output in ``DIR/logs/``; ``/health`` on each
tells when it is ready (Synapse's ``/health``; the provisioning service's
``/api/v1/health``).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path


class StartError(RuntimeError):
    """A service did not become healthy; the message names its log file."""


@dataclass
class Service:
    """A running child process: its name, the URL polled for health and its log file."""

    name: str
    process: subprocess.Popen
    health_url: str
    log_path: Path

    def is_healthy(self) -> bool:
        """True when the health URL answers 200."""
        try:
            with urllib.request.urlopen(self.health_url, timeout=2) as r:
                return r.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def wait_healthy(self, timeout: float = 60.0) -> None:
        """Poll until healthy; raises StartError (with the log's tail) when the process dies or time runs out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise StartError(f"{self.name} exited with code {self.process.returncode}; "
                                 f"see {self.log_path}:\n{tail(self.log_path)}")
            if self.is_healthy():
                return
            time.sleep(0.1)
        raise StartError(f"{self.name} did not answer {self.health_url} within {timeout:.0f} s; "
                         f"see {self.log_path}:\n{tail(self.log_path)}")

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM, then SIGKILL after ``timeout`` seconds."""
        if self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def tail(path: Path, lines: int = 20) -> str:
    """The last ``lines`` lines of a log file ("" when absent)."""
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _spawn(name: str, argv: list[str], log_path: Path, health_url: str, env: dict | None = None) -> Service:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log = log_path.open("ab")
    proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            env={**os.environ, **(env or {})}, start_new_session=True)
    log.close()
    return Service(name, proc, health_url, log_path)


def start_synapse(config_path: Path, homeserver_url: str, logs_dir: Path) -> Service:
    """Start ``python -m synapse.app.homeserver -c config_path``; returns without waiting."""
    return _spawn("Synapse", [sys.executable, "-m", "synapse.app.homeserver", "-c", str(config_path)],
                  logs_dir / "synapse.out", f"{homeserver_url}/health")


def start_provisioning(root: Path, provisioning_url: str, logs_dir: Path) -> Service:
    """Start the provisioning service for installation ``root``; returns without waiting."""
    return _spawn("provisioning service",
                  [sys.executable, "-m", "spaces_provisioner.api", str(root)],
                  logs_dir / "provisioning.log", f"{provisioning_url}/api/v1/health")

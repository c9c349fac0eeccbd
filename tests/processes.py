"""Test helpers for child processes: free ports, a process's children, reading a JSON line."""

from __future__ import annotations

import json
import os
import select
import socket
import subprocess
import time
from pathlib import Path


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_pair() -> int:
    """A port P such that P and P+1 are both free (the demo's homeserver and provisioning service)."""
    for _ in range(50):
        port = free_port()
        if port >= 65535:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return port
    raise RuntimeError("no two adjacent free ports")


def children_of(pid: int) -> list[int]:
    """Process ids whose parent is ``pid`` (from /proc)."""
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat_text = (entry / "stat").read_text()
            except OSError:
                continue
            fields = stat_text[stat_text.rindex(")") + 2:].split()
            if int(fields[1]) == pid:
                out.append(int(entry.name))
    return out


def alive(pid: int) -> bool:
    """Whether process ``pid`` runs (a zombie counts as dead)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is dead too
        return (Path("/proc") / str(pid) / "stat").read_text().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def group_exists(pgid: int) -> bool:
    """Whether any process of group ``pgid`` is left."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def read_json_line(proc: subprocess.Popen, timeout: float) -> tuple[dict, list[str]]:
    """Read the demo's stdout until a line that is a JSON object; returns it and the lines before."""
    deadline = time.monotonic() + timeout
    seen: list[str] = []
    buf = b""
    fd = proc.stdout.fileno()
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.5)
        if ready:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                text = line.decode("utf-8", errors="replace").strip()
                if text.startswith("{"):
                    return json.loads(text), seen
                seen.append(text)
        elif proc.poll() is not None:
            break
    raise AssertionError(f"no JSON line from the demo within {timeout:.0f} s (exit code {proc.poll()}); "
                         f"stdout so far: {seen + [buf.decode(errors='replace')]}")

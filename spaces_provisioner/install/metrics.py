"""Synapse's Prometheus metrics for an installation: ``enable_metrics`` and a ``metrics`` listener.

Synapse serves its own metrics and Parta's module's (``parta_refusals_total``, registered in the same
default registry: :mod:`synapse_module.refusal_metrics`) at ``/_synapse/metrics`` on a listener of
``type: metrics`` (Synapse docs: usage/configuration/config_documentation.md, ``enable_metrics`` and
``listeners``; docs/metrics-howto.md). The listener is plain HTTP without authentication, so it binds
to loopback (or the containers' private network) and is never proxied; each worker gets its own.
"""

from __future__ import annotations

from pathlib import Path

from ruamel.yaml import YAML


def enable_metrics(config_path: Path, port: int, bind_address: str = "127.0.0.1") -> None:
    """Turn Synapse's metrics on in ``config_path`` (a homeserver.yaml or a worker's file) with a
    metrics listener on ``bind_address:port``, replacing an earlier metrics listener; comments kept.
    Raises ValueError for a port outside 1-65535."""
    if not 0 < port < 65536:
        raise ValueError(f"{config_path}: the metrics port {port} is not a TCP port (1-65535)")
    y = YAML()
    data = y.load(config_path.read_text(encoding="utf-8"))
    key = "listeners" if "listeners" in data or "worker_app" not in data else "worker_listeners"
    listeners = [ls for ls in (data.get(key) or []) if ls.get("type") != "metrics"]
    listeners.append({"type": "metrics", "port": port, "bind_addresses": [bind_address]})
    data[key] = listeners
    data["enable_metrics"] = True
    with config_path.open("w", encoding="utf-8") as f:
        y.dump(data, f)


def metrics_url(config_path: Path) -> str | None:
    """``http://ADDRESS:PORT/_synapse/metrics`` of the metrics listener in ``config_path``; None without one."""
    data = YAML(typ="safe").load(config_path.read_text(encoding="utf-8")) or {}
    for listener in (data.get("listeners") or []) + (data.get("worker_listeners") or []):
        if listener.get("type") == "metrics" and data.get("enable_metrics"):
            address = (listener.get("bind_addresses") or ["127.0.0.1"])[0]
            return f"http://{address}:{listener['port']}/_synapse/metrics"
    return None

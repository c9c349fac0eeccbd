"""Parta's refusals as a Prometheus counter, read on Synapse's metrics listener.

``parta_refusals_total{reason="..."}`` counts every request the module refused, by Parta's reason
code (the ``org.parta.reason`` of the refusal: ``not_in_class``, ``media_not_shared_with_you``,
``upload_too_large``...). The counter is registered in prometheus_client's default registry, which
Synapse's ``metrics`` listener serves (``enable_metrics: true`` and a listener of ``type: metrics``:
Synapse docs, "Metrics" and usage/configuration/config_documentation.md ``listeners``), so no port of
Parta's own is needed.

Each Synapse process (the main one and every worker) imports this once and counts what it refused
itself; Prometheus scrapes each process's listener and ``sum by (reason)`` adds them up. Counting is
a measurement, never state: nothing reads it back.
"""

from __future__ import annotations

from prometheus_client import REGISTRY, Counter


def _counter() -> Counter:
    # one counter per process even if this module is imported twice under another name (a reload):
    # registering the same name twice raises in prometheus_client
    existing = getattr(REGISTRY, "_names_to_collectors", {}).get("parta_refusals_total")
    if isinstance(existing, Counter):
        return existing
    return Counter("parta_refusals", "Requests Parta's module refused, by Parta's reason code", ["reason"])


REFUSALS = _counter()


def count_refusal(reason: str) -> None:
    """Add one refusal for ``reason`` (Parta's reason code, a short ASCII word; an empty one counts
    as ``unknown``)."""
    REFUSALS.labels(reason=reason or "unknown").inc()

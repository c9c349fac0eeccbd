"""The provisioning service's own Prometheus metrics, served at ``GET /metrics`` (``spaces_provisioner.api.metrics``).

- ``parta_reconcile_duration_seconds{scope}``: a histogram of reconciles, ``scope`` ``organization``
  (every room of a school) or ``people`` (a newcomer's or a changed person's rooms only).
- ``parta_reconcile_failures_total{scope}``: reconciles that raised.
- ``parta_applications_pending``: organization applications waiting for the operator's approval.
- ``parta_sweep_last_items{sweep}``: what the last run of a background sweep found to do, the queue
  it drained: ``registrations`` (accounts registered with a link and placed by the sweep because their
  nudge was lost) and ``reports`` (new reports delivered to the schools' moderation rooms).
- ``parta_sweep_last_success_timestamp_seconds{sweep}`` and ``parta_sweep_failures_total{sweep}``:
  a sweep that stopped succeeding (an alert: now - timestamp > a few periods).

The metrics live in a registry of this module (not prometheus_client's default one), so that an
application built twice in one process (the tests) counts into the same series and nothing else
that shares the process appears. Measurements only: nothing reads them back.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import sqlalchemy as sa
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from spaces_provisioner.db import schema as st

REGISTRY = CollectorRegistry(auto_describe=True)

#: Seconds: a newcomer's placement takes well under a second, a large school's full reconcile minutes.
BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)

RECONCILE_SECONDS = Histogram("parta_reconcile_duration_seconds", "How long a reconcile took",
                              ["scope"], buckets=BUCKETS, registry=REGISTRY)
RECONCILE_FAILURES = Counter("parta_reconcile_failures", "Reconciles that raised", ["scope"], registry=REGISTRY)
APPLICATIONS_PENDING = Gauge("parta_applications_pending",
                             "Organization applications waiting for approval", registry=REGISTRY)
SWEEP_ITEMS = Gauge("parta_sweep_last_items", "What the last run of a background sweep found to do",
                    ["sweep"], registry=REGISTRY)
SWEEP_SUCCESS = Gauge("parta_sweep_last_success_timestamp_seconds",
                      "When a background sweep last finished without error (Unix time)", ["sweep"],
                      registry=REGISTRY)
SWEEP_FAILURES = Counter("parta_sweep_failures", "Background sweep runs that raised", ["sweep"],
                         registry=REGISTRY)

R = TypeVar("R")


def timed_reconcile(reconcile: Callable[..., Awaitable[R]]) -> Callable[..., Awaitable[R]]:
    """``Reconciler.reconcile`` (bound) measured into ``parta_reconcile_duration_seconds``; the
    scope is ``people`` when it was given ``only_users``, else ``organization``."""

    async def measured(org_id: str, only_users: set[str] | None = None) -> R:
        scope = "organization" if only_users is None else "people"
        start = time.monotonic()
        try:
            return await reconcile(org_id, only_users=only_users)
        except BaseException:
            RECONCILE_FAILURES.labels(scope=scope).inc()
            raise
        finally:
            RECONCILE_SECONDS.labels(scope=scope).observe(time.monotonic() - start)

    return measured


def counted_sweep(name: str, sweep: Callable[[], Awaitable[int]]) -> Callable[[], Awaitable[int]]:
    """A sweep (``Registrations.sweep``, ``Moderation.sweep``: returns how many items it handled)
    recording its result into the sweep gauges under ``name``."""

    async def measured() -> int:
        try:
            n = await sweep()
        except BaseException:
            SWEEP_FAILURES.labels(sweep=name).inc()
            raise
        SWEEP_ITEMS.labels(sweep=name).set(n)
        SWEEP_SUCCESS.labels(sweep=name).set(time.time())
        return n

    return measured


def instrument(ops: Any) -> None:
    """Measure the service's reconciles and sweeps (an ``spaces_provisioner.ops.Operations``, started).

    Every reconcile of the service goes through ``ops.ctx.reconciler()``, and the background tasks
    call ``sweep`` through the instance (``sweep_forever``), so wrapping them on the instances
    measures everything without the operations knowing; the CLI's one-off commands are not measured.
    """
    make = ops.ctx.reconciler

    def reconciler() -> Any:
        r = make()
        r.reconcile = timed_reconcile(r.reconcile)
        return r

    ops.ctx.reconciler = reconciler
    ops.registrations.sweep = counted_sweep("registrations", ops.registrations.sweep)
    ops.moderation.sweep = counted_sweep("reports", ops.moderation.sweep)


def exposition(ops: Any) -> bytes:
    """The metrics in Prometheus's text format, the queue gauges read from the database now."""
    with ops.ctx.store.begin() as tx:
        pending = tx.execute(sa.select(sa.func.count()).select_from(st.applications)
                             .where(st.applications.c.status == "pending")).scalar_one()
    APPLICATIONS_PENDING.set(pending)
    return generate_latest(REGISTRY)

"""How much CPU the module's callbacks take, measured inside the Synapse process.

Each callback the module registers is wrapped to add the CPU time of the thread it runs on
(``time.thread_time_ns``: Synapse's reactor thread) to a per-callback total, with a call count.
Only the callback's own steps count: the wrapper drives the callback's coroutine step by step and
measures each step, so what other requests run on the reactor while the callback waits (on the
database, say) is not charged to the module.
CPU time, unlike wall time, does not grow when the machine is busy with other work, so the share
``module CPU / process CPU`` is stable on a noisy machine; the benchmark
(``bench/module_overhead.py``) reads both through ``GET /_synapse/client/parta/stats`` (the bot
only) before and after each operation. The totals live in this process's memory: they are
measurements, not state (each worker counts its own).

"""

from __future__ import annotations

import functools
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from synapse.api.errors import Codes, SynapseError
from synapse.http.server import DirectServeJsonResource

F = TypeVar("F", bound=Callable[..., Awaitable[Any]])


class Meter:
    """Per-callback CPU totals (ns) and call counts of one process."""

    def __init__(self) -> None:
        self.cpu_ns: dict[str, int] = defaultdict(int)
        self.calls: dict[str, int] = defaultdict(int)

    def wrap(self, name: str, fn: F) -> F:
        """``fn`` (an async callback) with its CPU time added to ``name``'s total."""
        cpu_ns, calls = self.cpu_ns, self.calls

        @functools.wraps(fn)
        async def measured(*args: Any, **kwargs: Any) -> Any:
            calls[name] += 1
            return await _Timed(fn(*args, **kwargs), cpu_ns, name)

        return measured  # type: ignore[return-value]

    def snapshot(self) -> dict:
        """``{"callbacks": {name: {"calls", "cpu_ns"}}, "module_cpu_ns", "process_cpu_ns"}``
        (``process_cpu_ns``: every thread of the process, ``time.process_time_ns``)."""
        return {"callbacks": {n: {"calls": self.calls[n], "cpu_ns": self.cpu_ns[n]} for n in sorted(self.cpu_ns)},
                "module_cpu_ns": sum(self.cpu_ns.values()), "process_cpu_ns": time.process_time_ns()}


class _Timed:
    """An awaitable running ``coro`` and adding the thread CPU time of each of its steps to
    ``totals[name]`` (the time between steps, while it waits, belongs to others)."""

    def __init__(self, coro: Any, totals: dict[str, int], name: str):
        self.coro, self.totals, self.name = coro, totals, name

    def __await__(self) -> Any:
        steps = self.coro.__await__()
        value: Any = None
        error: BaseException | None = None
        while True:
            start = time.thread_time_ns()
            try:
                yielded = steps.throw(error) if error is not None else steps.send(value)
            except StopIteration as done:
                self.totals[self.name] += time.thread_time_ns() - start
                return done.value
            except BaseException:
                self.totals[self.name] += time.thread_time_ns() - start
                raise
            self.totals[self.name] += time.thread_time_ns() - start
            try:
                value, error = (yield yielded), None
            except BaseException as e:  # thrown into us by the event loop (e.g. cancellation)
                value, error = None, e


class StatsResource(DirectServeJsonResource):
    """``GET /_synapse/client/parta/stats``: the meter's snapshot, for the Parta bot only."""

    def __init__(self, api: Any, bot: str, meter: Meter):
        super().__init__()
        self.api, self.bot, self.meter = api, bot, meter

    async def _async_render_GET(self, request: Any) -> tuple[int, dict]:
        requester = await self.api.get_user_by_req(request)
        if requester.user.to_string() != self.bot:
            raise SynapseError(403, "Only the Parta bot may read the module's measurements", Codes.FORBIDDEN)
        return 200, self.meter.snapshot()

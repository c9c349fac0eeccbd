"""Parta's work after an event is persisted, without Synapse's read of the room's whole state.

Synapse 1.163 runs the third-party-rules ``on_new_event`` callbacks from
``Notifier.notify_new_room_events``, on every process that learns of a room event (the one that
persisted it, and every other worker through replication), before that process wakes its clients.
Whenever any module has registered such a callback, Synapse's dispatcher
(``ThirdPartyEventRulesModuleApiCallbacks.on_new_event(event_id)``) first reads the event and the
room's *entire* current state (``get_current_state``: every state event of the room, each member
included) for each event, on each process; vanilla Synapse, with no callback, returns at once.
Parta's two uses need none of that state:

- recording where a file was posted (``MediaAccess.on_new_event``, table ``parta_media_rooms``) needs
  the event's content only;
- the quiet-hours notice (``QuietHours.on_new_event``) concerns only the events whose push actions
  this process staged and held back, known by event id before anything is read.

Measured on the worker topology (``bench/load.py --size small --topology workers``, CPU per request
from ``/proc``): the processes that otherwise do nothing per room event spent 2.4-2.7 times vanilla's
CPU (media, pusher) and 1.6 times (background), the whole topology 12-22 % more than vanilla; py-spy
puts their extra time in the dispatcher's reads (``EventsWorkerStore._fetch_loop``), mostly the
event's own, which those processes do not otherwise hold.

So the module registers no ``on_new_event`` callback with Synapse. :class:`NewEvents` wraps the
dispatcher's method on this process's callbacks object (the Notifier, its only caller, looks the
method up at each call), calls Synapse's original first (it returns at once unless another module,
or Synapse's own ``auto_accept_invites``, registered a callback) and then runs Parta's callbacks
within the same call, so what Synapse awaits before it wakes ``/sync`` is unchanged. Each callback
declares whether it needs the event for a given event id (``wants``); the event is read only then,
from Synapse's event cache (the database only when this process has not read it yet), and the room's
state never. The media record is added only on processes that can show an event to someone
(:func:`shows_events`), so the media and background workers read nothing per event. A callback's
failure is logged and the next one runs, as in Synapse's dispatcher.

:func:`check_target` fails loudly when the dispatcher or its caller change shape (the unit tests run
it against the pinned Synapse). Without a HomeServer (unit tests' ``Mock(spec=ModuleApi)``) the
callbacks are registered through ``ModuleApi.register_third_party_rules_callbacks`` as before.
Sources: Synapse 1.163.2 ``synapse/module_api/callbacks/third_party_event_rules_callbacks.py``,
``synapse/notifier.py``, ``synapse/replication/tcp/client.py``.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from .pinned import check_callers, check_method

log = logging.getLogger(__name__)

#: Attribute marking the wrapped dispatcher (a module loaded twice wraps once).
_MARK = "_parta_new_events"
#: (class path, method, leading parameters): Synapse's dispatcher of ``on_new_event`` callbacks.
TARGET = ("synapse.module_api.callbacks.third_party_event_rules_callbacks.ThirdPartyEventRulesModuleApiCallbacks",
          "on_new_event", ("event_id",))
#: Its caller, which must await it before waking clients (the ordering the media rule relies on).
CALLERS = (("synapse.notifier.Notifier", "notify_new_room_events", "await self._third_party_rules.on_new_event("),)

Callback = Callable[[Any], Awaitable[None]]
#: Whether a callback needs the event with this id (None: every event).
Wants = Callable[[str], bool]


class NewEventsTargetError(RuntimeError):
    """Synapse's ``on_new_event`` dispatch no longer has the shape the wrap needs."""


def check_target() -> None:
    """Raise :class:`NewEventsTargetError` unless Synapse's dispatcher takes ``event_id`` and the
    Notifier still awaits it."""
    class_path, method, params = TARGET
    check_method(class_path, method, params, error=NewEventsTargetError, where="synapse_module/new_events.py")
    check_callers(CALLERS, error=NewEventsTargetError, where="synapse_module/new_events.py")


#: Listener resources through which a process shows room events to people or other servers.
SHOWING_RESOURCES = frozenset({"client", "federation"})
#: Synapse's dedicated media worker: its client listener is routed media requests only (Synapse's
#: docs/workers.md, ``synapse.app.media_repository``; Parta's nginx routes, ``install/data/workers.yaml``).
MEDIA_APP = "synapse.app.media_repository"


def shows_events(hs: Any) -> bool:
    """Whether this process can show a room event to someone before the other processes have run their
    ``on_new_event``: the main process; a worker serving the client or federation API (not the
    dedicated media worker), sending pushes (HTTP pushers send the event's content), notifying
    application services or other servers; an event writer too (it persisted the event and holds it
    in its cache, and runs first). A worker of none of these (the topology's ``background``) and the
    media worker show no event to anyone: the rows they would write are written by the others."""
    worker = getattr(hs.config, "worker", None)
    if worker is None or not worker.worker_app:
        return True  # the main process (or no worker configuration to tell otherwise: record)
    if worker.worker_app == MEDIA_APP:
        return False
    if worker.start_pushers or worker.should_notify_appservices or worker.send_federation:
        return True
    if hs.get_instance_name() in worker.writers.events:
        return True
    return any(SHOWING_RESOURCES & set(resource.names)
               for listener in worker.worker_listeners if listener.http_options is not None
               for resource in listener.http_options.resources)


class NewEvents:
    """Parta's ``on_new_event`` callbacks of one process, run without a read of the room's state."""

    def __init__(self, api: Any):
        self.api = api
        self._store: Any = getattr(api, "_store", None)
        self._callbacks: list[tuple[Callback, Wants | None]] = []

    def add(self, callback: Callback, wants: Wants | None = None) -> None:
        """Run ``callback(event)`` after each event is persisted, on this process; with ``wants``, only
        for the event ids it accepts (and the event is not read for the others)."""
        self._callbacks.append((callback, wants))

    def install(self, hs: Any) -> None:
        """Wrap Synapse's dispatcher on ``hs`` (once); without ``hs``, register through the ModuleApi."""
        if hs is None:
            self.api.register_third_party_rules_callbacks(on_new_event=self._registered)
            return
        check_target()
        rules = hs.get_module_api_callbacks().third_party_event_rules
        if getattr(rules.on_new_event, _MARK, False):
            return
        rules.on_new_event = self._wrap(rules.on_new_event)

    async def _registered(self, event: Any, _state_events: Any = None) -> None:
        await self._run(event.event_id, event)

    def _wrap(self, original: Callable[..., Awaitable[None]]) -> Callable[..., Awaitable[None]]:
        @functools.wraps(original)
        async def on_new_event(event_id: str, *args: Any, **kwargs: Any) -> None:
            await original(event_id, *args, **kwargs)  # other modules' callbacks, as Synapse runs them
            await self._run(event_id)

        setattr(on_new_event, _MARK, True)
        return on_new_event

    async def _run(self, event_id: str, event: Any = None) -> None:
        due = [cb for cb, wants in self._callbacks if wants is None or wants(event_id)]
        if not due:
            return
        if event is None:
            # Synapse's event cache first (the process that persisted or created the event holds it);
            # None for a rejected event, which Synapse's own dispatcher would not pass on either
            event = await self._store.get_event(event_id, allow_none=True)
            if event is None:
                return
        for callback in due:
            try:
                await callback(event)
            except Exception:  # noqa: BLE001 - as Synapse's dispatcher: log, and run the next callback
                log.exception("Parta's on_new_event callback %s failed for %s", callback, event_id)

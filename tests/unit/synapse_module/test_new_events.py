"""synapse_module.new_events: Parta's ``on_new_event`` callbacks run inside Synapse's dispatcher
without its read of the room's whole state (fakes for the HomeServer and the store). That files are
recorded on the real worker topology is proven in ``tests/integration/test_workers.py`` and
``test_media_attacks.py``; this is the wiring."""

from __future__ import annotations

from types import SimpleNamespace
from unittest.mock import AsyncMock, Mock

import pytest
from synapse.module_api import ModuleApi

from synapse_module import new_events
from synapse_module.new_events import NewEvents, check_target


def test_the_pinned_synapse_dispatches_on_new_event_as_the_wrap_expects():
    check_target()


def test_a_notifier_that_no_longer_awaits_the_dispatcher_is_refused(monkeypatch):
    monkeypatch.setattr(new_events, "CALLERS", (("synapse.notifier.Notifier", "notify_new_room_events",
                                                 "await self._third_party_rules.on_new_event_later("),))
    with pytest.raises(new_events.NewEventsTargetError, match="notify_new_room_events"):
        check_target()


def world(event=None):
    """A NewEvents on a fake HomeServer whose dispatcher records that it ran (Synapse's original)."""
    event = event if event is not None else SimpleNamespace(event_id="$e", content={})
    calls: list[str] = []

    async def original(event_id):
        calls.append(f"synapse:{event_id}")
    rules = SimpleNamespace(on_new_event=original)
    hs = SimpleNamespace(get_module_api_callbacks=lambda: SimpleNamespace(third_party_event_rules=rules))
    store = SimpleNamespace(get_event=AsyncMock(return_value=event))
    api = SimpleNamespace(_store=store, register_third_party_rules_callbacks=Mock())
    hub = NewEvents(api)
    return hub, hs, rules, store, calls


async def test_callbacks_run_after_synapses_own_with_the_event_and_no_state_read():
    hub, hs, rules, store, calls = world()
    hub.add(AsyncMock(side_effect=lambda e: calls.append(f"media:{e.event_id}")))
    hub.install(hs)
    await rules.on_new_event("$e")
    assert calls == ["synapse:$e", "media:$e"]
    store.get_event.assert_awaited_once_with("$e", allow_none=True)  # the event only: no room state


async def test_an_event_no_callback_wants_is_not_read():
    hub, hs, rules, store, calls = world()
    quiet = AsyncMock()
    hub.add(quiet, wants=lambda event_id: event_id == "$held")
    hub.install(hs)
    await rules.on_new_event("$e")
    assert calls == ["synapse:$e"] and not store.get_event.await_count and not quiet.await_count
    await rules.on_new_event("$held")
    quiet.assert_awaited_once()


async def test_a_failing_callback_does_not_stop_the_next_and_a_rejected_event_runs_none():
    hub, hs, rules, store, _calls = world()
    second = AsyncMock()
    hub.add(AsyncMock(side_effect=RuntimeError("database away")))
    hub.add(second)
    hub.install(hs)
    await rules.on_new_event("$e")
    second.assert_awaited_once()
    store.get_event.return_value = None  # rejected: Synapse's get_event returns none
    await rules.on_new_event("$rejected")
    assert second.await_count == 1


async def test_a_module_loaded_twice_wraps_once():
    hub, hs, rules, _store, calls = world()
    hub.add(AsyncMock(side_effect=lambda e: calls.append("media")))
    hub.install(hs)
    hub.install(hs)
    await rules.on_new_event("$e")
    assert calls == ["synapse:$e", "media"]


async def test_without_a_homeserver_the_callbacks_are_registered_through_the_module_api():
    api = Mock(spec=ModuleApi)
    hub = NewEvents(api)
    media = AsyncMock()
    hub.add(media)
    hub.install(None)
    registered = api.register_third_party_rules_callbacks.call_args.kwargs["on_new_event"]
    event = SimpleNamespace(event_id="$e")
    await registered(event, {})
    media.assert_awaited_once_with(event)


def hs_of(worker_app=None, resources=(), pushers=False, appservices=False, federation=False, writer=False):
    """A HomeServer's worker configuration (Synapse 1.163 ``config.worker``), as the topology writes it."""
    listeners = [SimpleNamespace(http_options=SimpleNamespace(resources=[SimpleNamespace(names=list(resources))]))]
    worker = SimpleNamespace(worker_app=worker_app, worker_listeners=listeners if resources else [],
                             start_pushers=pushers, should_notify_appservices=appservices, send_federation=federation,
                             writers=SimpleNamespace(events=["event_persister"] if writer else ["main"]))
    return SimpleNamespace(config=SimpleNamespace(worker=worker),
                           get_instance_name=lambda: "event_persister" if writer else "w")


GENERIC = "synapse.app.generic_worker"


@pytest.mark.parametrize("hs, records", [
    (hs_of(), True),                                                  # the main process
    (hs_of(GENERIC, ["client"]), True),                               # client_sync, client_main
    (hs_of(GENERIC, ["replication"], writer=True), True),             # event_persister
    (hs_of(GENERIC, ["health"], pushers=True), True),                 # pusher: pushes carry the content
    (hs_of(GENERIC, ["health"], appservices=True), True),
    (hs_of(GENERIC, ["federation"]), True),
    (hs_of(new_events.MEDIA_APP, ["media", "client"]), False),        # media: routed media requests only
    (hs_of(GENERIC, ["health"]), False),                              # background
    (SimpleNamespace(config=SimpleNamespace()), True),                # no worker configuration: record
])
def test_which_processes_record_where_files_were_posted(hs, records):
    assert new_events.shows_events(hs) is records

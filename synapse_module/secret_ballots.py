"""Secret ballots: others' answers to an undisclosed poll never reach a pupil's or a parent's client.

MSC3381's ``org.matrix.msc3381.poll.undisclosed`` (``m.poll.undisclosed``) kind is Element's "results
are only revealed when you end the poll"; clients honour it only in how they draw the poll, and
every answer still goes to every member's client. Parta reads it as "pupils never see each other's
answers": a poll response (``m.poll.response``, ``org.matrix.msc3381.poll.response``) to an
undisclosed poll is dropped from what the server sends to a member whose role in the room's
organization is neither administration nor teacher (pupils, parents, outsiders), unless it is their
own answer or they started the poll. The poll's author and the school's staff see every answer;
the bot reads them for the results export (``spaces_provisioner/ops/polls.py``).

Synapse 1.163 has no module callback that filters events for clients. Every path that sends room
events to a client (``/sync``, sliding sync and its extensions, ``/messages``, ``/context``,
``/rooms/{id}/event/{id}``, ``/relations`` and ``/threads``, ``/search``, ``/initialSync``, the legacy
``/events`` stream, the e-mail notifier, the admin export) ends in one function,
``synapse.visibility.filter_and_transform_events_for_client``, which each of those modules imports
by name. :func:`install` wraps it once per process and rebinds the name in ``synapse.visibility``
and in every loaded ``synapse.*`` module holding the original (it imports :data:`KNOWN_IMPORTERS`
first, so none is loaded later with the original); :func:`check_importers` fails loudly when the
pinned list and Synapse's differ (``tests/unit/synapse_module/test_secret_ballots.py`` runs it), so
an upgrade that adds a path breaks the build, not the ballot.

Notifications are the other way out: ``GET /notifications``, HTTP pushers (the event's content goes
to a push gateway the member chose) and the e-mail notifier all read the push actions Synapse
records for each member when an event is created, and ``/notifications`` and the HTTP pusher send
the event without the filter above. So the decision is made at the source as well:
``BulkPushRuleEvaluator._action_for_event_by_user`` keeps a member's push actions only for the
members ``filter_event_for_clients_with_state`` returns (its only caller, checked like the filter's
importers: :data:`PUSH_IMPORTERS`); the wrapped name drops the members who must not get the answer,
so no push action, notification count or push is ever recorded for them, whatever push rule they
wrote (a pupil's ``override`` rule on ``org.matrix.msc3381.poll.response``, F1 of issue 11's attacks).

The rule fails closed: another member's answer is shown only when the event it refers to is a
readable, unredacted poll start in the same room whose kind is disclosed. An answer to a poll that
was redacted (its content, and so its kind, pruned), to an event that cannot be read, or to no poll
at all stays hidden: the ballot was secret when the answers were cast.

What still reaches every member: the *ids* of the answers in the poll's bundled ``m.reference``
aggregation (``unsigned.m.relations``; no sender, no content: fetching one answers 404), hence how
many answered; a client that redacts, reacts to or reports an answer by its id learns nothing more.
Sources: Synapse 1.163.2 ``synapse/visibility.py``, ``synapse/handlers/{sync,pagination,room,events,
relations,search,initial_sync,admin}.py``, ``synapse/handlers/sliding_sync/``, ``synapse/notifier.py``,
``synapse/push/{mailer,httppusher,bulk_push_rule_evaluator}.py``, ``synapse/rest/client/notifications.py``;
MSC3381.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import logging
import sys
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from policies.capabilities import Capabilities
from policies.polls import POLL_RESPONSE_TYPES, POLL_START_TYPES, is_poll_kind_undisclosed

log = logging.getLogger(__name__)

NAME = "filter_and_transform_events_for_client"
#: The modules of Synapse 1.163.2 that import the filter by name (besides synapse.visibility).
KNOWN_IMPORTERS = frozenset({
    "synapse.notifier", "synapse.handlers.sync", "synapse.handlers.pagination", "synapse.handlers.search",
    "synapse.handlers.admin", "synapse.handlers.events", "synapse.handlers.initial_sync", "synapse.handlers.room",
    "synapse.handlers.relations", "synapse.handlers.sliding_sync.extensions", "synapse.handlers.sliding_sync",
    "synapse.push.mailer"})
#: The push evaluator's visibility check, and the modules of Synapse 1.163.2 that import it by name.
PUSH_NAME = "filter_event_for_clients_with_state"
PUSH_IMPORTERS = frozenset({"synapse.push.bulk_push_rule_evaluator"})
_MARK = "_parta_secret_ballots"
_RESPONSES = frozenset(POLL_RESPONSE_TYPES)

#: ``hidden(user_id, events) -> event ids to drop``: the module's decision for poll responses that are
#: not the viewer's own.
Hidden = Callable[[str, list[Any]], Awaitable[set[str]]]
#: ``withheld(event, user_ids) -> user ids``: of ``user_ids``, those who must not get the poll response
#: ``event`` (the same decision, for one event and many members).
Withheld = Callable[[Any, list[str]], Awaitable[set[str]]]


class SecretBallots:
    """Which poll answers a viewer does not get: :meth:`hidden` (the module's lookups, cached reads)."""

    def __init__(self, api: Any, look: Any, caps: Capabilities, bot: str):
        self.store: Any = getattr(api, "_store", None)
        self.look = look
        self.caps = caps
        self.bot = bot

    async def _poll(self, response: Any, polls: dict[str, tuple[bool, str]]) -> tuple[bool, str]:
        """``(secret, author)`` of the poll ``response`` answers, memoised in ``polls`` by poll id.

        Fails closed: secret unless the referenced event is a readable, unredacted poll start in the
        response's room whose kind is disclosed (a redacted start has lost its kind; an unreadable or
        missing one, or no reference at all, says nothing). ``author``: the start's sender, even when it
        was redacted (the person who started the poll sees its answers), else ``""``. One read of
        Synapse's event cache per poll."""
        relates = (response.content or {}).get("m.relates_to")
        poll_id = relates.get("event_id") if isinstance(relates, dict) else None
        if not isinstance(poll_id, str):
            return True, ""
        if poll_id not in polls:
            start = await self.store.get_event(poll_id, allow_none=True)
            if start is None or start.type not in POLL_START_TYPES or start.room_id != response.room_id:
                polls[poll_id] = (True, "")
            else:
                disclosed = not start.internal_metadata.is_redacted() and not is_poll_kind_undisclosed(start.content)
                polls[poll_id] = (not disclosed, start.sender)
        return polls[poll_id]

    async def _sees_secrets(self, user_id: str, room_id: str) -> bool:
        """Whether ``user_id``'s role in the room's organization gives ``see_secret_answers``."""
        person = await self.look.person(user_id)
        room = await self.look.room(room_id)
        membership = person.memberships.get(room.org) if room is not None and room.org else None
        return self.caps.can(membership, "see_secret_answers")

    async def hidden(self, user_id: str, events: list[Any]) -> set[str]:
        """The ids among ``events`` (poll responses by others than ``user_id``) that ``user_id`` must not
        get: answers to a poll that is not a readable, unredacted, disclosed poll start (see :meth:`_poll`)
        which ``user_id`` did not start, in a room whose organization gives ``user_id`` no
        ``see_secret_answers`` (capabilities.yaml: administration and teachers). One cached event read
        per poll, one cached state read per room."""
        if user_id == self.bot or self.store is None:
            return set()
        polls: dict[str, tuple[bool, str]] = {}
        drop = set()
        for e in events:
            secret, author = await self._poll(e, polls)
            if secret and author != user_id and not await self._sees_secrets(user_id, e.room_id):
                drop.add(e.event_id)
        return drop

    async def withheld(self, event: Any, user_ids: list[str]) -> set[str]:
        """Of ``user_ids`` (members about to be notified of the poll response ``event``), those who must
        not get it: the rule of :meth:`hidden`, for one event. A member's own answer is never withheld."""
        if self.store is None:
            return set()
        secret, author = await self._poll(event, {})
        if not secret:
            return set()
        return {u for u in user_ids if u not in (self.bot, author, event.sender)
                and not await self._sees_secrets(u, event.room_id)}


class BallotHookError(RuntimeError):
    """Synapse's filter moved or its importers changed; Parta refuses to run with a leaky ballot."""


def importers(name_: str = NAME) -> set[str]:
    """The ``synapse.*`` modules that use the function ``name_`` of ``synapse.visibility`` (the filter,
    or :data:`PUSH_NAME`), read from their source with ``ast`` (so it does not depend on which modules
    happen to be loaded): ``from synapse.visibility import <name_>``, or an attribute ``.<name_>``
    (``visibility.<name_>(...)``, which the rebinding of ``synapse.visibility`` covers, is listed too
    so that a reviewer sees it)."""
    import ast
    from pathlib import Path

    import synapse

    root = Path(synapse.__file__).parent
    found = set()
    for path in root.rglob("*.py"):
        name = "synapse." + ".".join(path.relative_to(root).with_suffix("").parts)
        name = name.removesuffix(".__init__")
        if name == "synapse.visibility":
            continue
        source = path.read_text(encoding="utf-8")
        if name_ not in source:  # neither form can occur without the name: parse only the few that have it
            continue
        for node in ast.walk(ast.parse(source)):
            if (isinstance(node, ast.ImportFrom) and node.module == "synapse.visibility"
                    and any(a.name == name_ for a in node.names)) \
                    or (isinstance(node, ast.Attribute) and node.attr == name_):
                found.add(name)
                break
    return found


#: (function of synapse.visibility, its leading parameters the wraps rely on, its known importers)
_TARGETS = ((NAME, ["storage", "user_id", "events"], KNOWN_IMPORTERS),
            (PUSH_NAME, ["store", "user_ids", "event", "context"], PUSH_IMPORTERS))


def _check_shape(fn: Any, name: str, params: list[str]) -> Callable[..., Awaitable[Any]]:
    """``fn`` (``synapse.visibility.<name>``), checked to start with ``params``."""
    if fn is None:
        raise BallotHookError(f"synapse.visibility has no {name}; update synapse_module/secret_ballots.py")
    actual = list(inspect.signature(fn).parameters)
    if actual[:len(params)] != params or (name == NAME and "filter_send_to_client" not in actual):
        raise BallotHookError(f"{name}{tuple(actual)} changed shape; update synapse_module/secret_ballots.py")
    return fn


def check_importers() -> None:
    """Raise :class:`BallotHookError` unless Synapse's importers of the filter are :data:`KNOWN_IMPORTERS`
    and those of the push evaluator's check are :data:`PUSH_IMPORTERS`, and the two still take
    ``(storage, user_id, events, ..., filter_send_to_client)`` and ``(store, user_ids, event, context)``."""
    import synapse.visibility as vis

    for name, params, known in _TARGETS:
        _check_shape(getattr(vis, name, None), name, params)
        actual = importers(name)
        if actual != known:
            raise BallotHookError(f"Synapse's importers of {name} changed: new {sorted(actual - known)}, "
                                  f"gone {sorted(known - actual)}; update synapse_module/secret_ballots.py")


def wrap(original: Callable[..., Awaitable[list]], hidden: Hidden) -> Callable[..., Awaitable[list]]:
    """The filter, then the secret-ballot rule: others' poll responses that ``hidden`` names are dropped.
    Only results holding someone else's poll response cost anything beyond one type check per event;
    a failing decision hides those responses (fails closed)."""
    signature = inspect.signature(original)

    @functools.wraps(original)
    async def filter_and_transform_events_for_client(*args: Any, **kwargs: Any) -> list:
        result = await original(*args, **kwargs)
        # one type check per event on the hot path; the arguments are bound only when an answer is there
        if not any(f.event.type in _RESPONSES for f in result):
            return result
        bound = signature.bind(*args, **kwargs)
        user_id = bound.arguments["user_id"]
        if not bound.arguments.get("filter_send_to_client", True):
            return result
        theirs = [f.event for f in result if f.event.type in _RESPONSES and f.event.sender != user_id]
        if not theirs:
            return result
        try:
            drop = await hidden(user_id, theirs)
        except Exception:  # never leak on a failed read
            log.exception("secret ballots: hiding %d poll answers from %s after an error", len(theirs), user_id)
            drop = {e.event_id for e in theirs}
        return [f for f in result if f.event.event_id not in drop] if drop else result

    setattr(filter_and_transform_events_for_client, _MARK, True)
    return filter_and_transform_events_for_client


def wrap_push(original: Callable[..., Awaitable[Any]], withheld: Withheld) -> Callable[..., Awaitable[list]]:
    """The push evaluator's visibility check, then the secret-ballot rule: for a poll response, the
    members ``withheld`` names are not among those who may see it, so no push action is recorded for
    them. Other events cost one type check; a failing decision withholds the answer from everyone but
    its sender (fails closed)."""
    @functools.wraps(original)
    async def filter_event_for_clients_with_state(store: Any, user_ids: Any, event: Any, context: Any,
                                                  *args: Any, **kwargs: Any) -> Any:
        allowed = await original(store, user_ids, event, context, *args, **kwargs)
        if event.type not in _RESPONSES or not allowed:
            return allowed
        others = [u for u in allowed if u != event.sender]
        try:
            drop = await withheld(event, others)
        except Exception:  # never push an answer on a failed read
            log.exception("secret ballots: no push of poll answer %s after an error", event.event_id)
            drop = set(others)
        return [u for u in allowed if u not in drop] if drop else allowed

    setattr(filter_event_for_clients_with_state, _MARK, True)
    return filter_event_for_clients_with_state


def _rebind(name: str, original: Any, wrapped: Any, modules: Iterable[str]) -> list[str]:
    rebound = []
    for mod_name, module in list(sys.modules.items()):
        if (mod_name == "synapse" or mod_name.startswith("synapse.")) and getattr(module, name, None) is original:
            setattr(module, name, wrapped)
            rebound.append(mod_name)
    missing = set(modules) - set(rebound)
    if missing:
        raise BallotHookError(f"{name} is not imported by {sorted(missing)} any more; update "
                              "synapse_module/secret_ballots.py")
    return rebound


def install(ballots: SecretBallots, modules: Iterable[str] = KNOWN_IMPORTERS,
            push_modules: Iterable[str] = PUSH_IMPORTERS) -> list[str]:
    """Wrap the client filter (with ``ballots.hidden``) and the push evaluator's visibility check (with
    ``ballots.withheld``) once per process and rebind them wherever they are imported; returns the
    modules rebound. Raises :class:`BallotHookError` when either is missing or changed shape."""
    import synapse.visibility as vis

    original = _check_shape(getattr(vis, NAME, None), NAME, _TARGETS[0][1])
    push_original = _check_shape(getattr(vis, PUSH_NAME, None), PUSH_NAME, _TARGETS[1][1])
    if getattr(original, _MARK, False):
        return []
    for name in sorted({*modules, *push_modules}):
        importlib.import_module(name)
    rebound = _rebind(NAME, original, wrap(original, ballots.hidden), modules)
    rebound += _rebind(PUSH_NAME, push_original, wrap_push(push_original, ballots.withheld), push_modules)
    return sorted(rebound)

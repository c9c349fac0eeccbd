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

What still reaches every member: the *ids* of the answers in the poll's bundled ``m.reference``
aggregation (``unsigned.m.relations``; no sender, no content: fetching one answers 404), hence how
many answered; a client that redacts, reacts to or reports an answer by its id learns nothing more.
Sources: Synapse 1.163.2 ``synapse/visibility.py``, ``synapse/handlers/{sync,pagination,room,events,
relations,search,initial_sync,admin}.py``, ``synapse/handlers/sliding_sync/``, ``synapse/notifier.py``,
``synapse/push/mailer.py``; MSC3381.
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
_MARK = "_parta_secret_ballots"
_RESPONSES = frozenset(POLL_RESPONSE_TYPES)

#: ``hidden(user_id, events) -> event ids to drop``: the module's decision for poll responses that are
#: not the viewer's own.
Hidden = Callable[[str, list[Any]], Awaitable[set[str]]]


class SecretBallots:
    """Which poll answers a viewer does not get: :meth:`hidden` (the module's lookups, cached reads)."""

    def __init__(self, api: Any, look: Any, caps: Capabilities, bot: str):
        self.store = getattr(api, "_store", None)
        self.look = look
        self.caps = caps
        self.bot = bot

    async def hidden(self, user_id: str, events: list[Any]) -> set[str]:
        """The ids among ``events`` (poll responses by others than ``user_id``) that ``user_id`` must not
        get: answers to an undisclosed poll ``user_id`` did not start, in a room whose organization gives
        ``user_id`` no ``see_secret_answers`` (capabilities.yaml: administration and teachers). One
        cached event read per poll, one cached state read per room."""
        if user_id == self.bot or self.store is None:
            return set()
        person = await self.look.person(user_id)
        polls: dict[str, tuple[bool, str]] = {}
        drop = set()
        for e in events:
            relates = (e.content or {}).get("m.relates_to")
            poll_id = relates.get("event_id") if isinstance(relates, dict) else None
            if not isinstance(poll_id, str):
                continue
            if poll_id not in polls:
                start = await self.store.get_event(poll_id, allow_none=True)
                secret = start is not None and start.type in POLL_START_TYPES and start.room_id == e.room_id \
                    and is_poll_kind_undisclosed(start.content)
                polls[poll_id] = (secret, start.sender if start is not None else "")
            secret, author = polls[poll_id]
            if not secret or author == user_id:
                continue
            room = await self.look.room(e.room_id)
            membership = person.memberships.get(room.org) if room is not None and room.org else None
            if self.caps.can(membership, "see_secret_answers"):
                continue
            drop.add(e.event_id)
        return drop


class BallotHookError(RuntimeError):
    """Synapse's filter moved or its importers changed; Parta refuses to run with a leaky ballot."""


def importers() -> set[str]:
    """The ``synapse.*`` modules that use the filter, read from their source with ``ast`` (so it does
    not depend on which modules happen to be loaded): ``from synapse.visibility import <filter>``, or
    an attribute ``.<filter>`` (``visibility.<filter>(...)``, which the rebinding of
    ``synapse.visibility`` covers, is listed too so that a reviewer sees it)."""
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
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if (isinstance(node, ast.ImportFrom) and node.module == "synapse.visibility"
                    and any(a.name == NAME for a in node.names)) \
                    or (isinstance(node, ast.Attribute) and node.attr == NAME):
                found.add(name)
                break
    return found


def check_importers() -> None:
    """Raise :class:`BallotHookError` unless Synapse's importers of the filter are :data:`KNOWN_IMPORTERS`
    and the filter still takes ``(storage, user_id, events, ..., filter_send_to_client)``."""
    import synapse.visibility as vis

    fn = getattr(vis, NAME, None)
    if fn is None:
        raise BallotHookError(f"synapse.visibility has no {NAME}; update synapse_module/secret_ballots.py")
    params = list(inspect.signature(fn).parameters)
    if params[:3] != ["storage", "user_id", "events"] or "filter_send_to_client" not in params:
        raise BallotHookError(f"{NAME}{tuple(params)} changed shape; update synapse_module/secret_ballots.py")
    actual = importers()
    if actual != KNOWN_IMPORTERS:
        raise BallotHookError(f"Synapse's importers of {NAME} changed: new {sorted(actual - KNOWN_IMPORTERS)}, "
                              f"gone {sorted(KNOWN_IMPORTERS - actual)}; update synapse_module/secret_ballots.py")


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


def install(hidden: Hidden, modules: Iterable[str] = KNOWN_IMPORTERS) -> list[str]:
    """Wrap the filter once per process and rebind it wherever it is imported; returns the modules
    rebound. Raises :class:`BallotHookError` when the filter is missing or changed shape."""
    import synapse.visibility as vis

    original = getattr(vis, NAME, None)
    if original is None:
        raise BallotHookError(f"synapse.visibility has no {NAME}")
    if getattr(original, _MARK, False):
        return []
    params = list(inspect.signature(original).parameters)
    if params[:3] != ["storage", "user_id", "events"]:
        raise BallotHookError(f"{NAME}{tuple(params)} changed shape; update synapse_module/secret_ballots.py")
    for name in sorted(modules):
        importlib.import_module(name)
    wrapped = wrap(original, hidden)
    rebound = []
    for name, module in list(sys.modules.items()):
        if (name == "synapse" or name.startswith("synapse.")) and getattr(module, NAME, None) is original:
            setattr(module, NAME, wrapped)
            rebound.append(name)
    missing = set(modules) - set(rebound)
    if missing:
        raise BallotHookError(f"{NAME} is not imported by {sorted(missing)} any more; update "
                              "synapse_module/secret_ballots.py")
    return sorted(rebound)

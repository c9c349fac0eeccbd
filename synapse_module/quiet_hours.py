"""Quiet hours in Synapse: a teacher outside office hours is not notified of pupils' and parents'
events (messages, calls, mentions, reactions, invites: any type), and the sender of a message or a
call gets one notice per chat per window (rules: ``policies.quiet_hours``).

**Mechanism: the push actions Synapse computes for each event.** Synapse 1.163 offers modules no
hook on notifications. ``BulkPushRuleEvaluator._action_for_event_by_user`` evaluates every local
member's push rules when an event is created (on whichever process creates it: the main process or
any event-creating worker) and stages the resulting actions with
``store.add_push_actions_to_staging(event_id, actions_by_user, count_as_unread, thread_id)``; what is
staged becomes the notification counts clients show and the pushes every pusher sends. The module
wraps that staging call on the evaluator's store, once per process: for each user about to be
notified whom quiet hours hold back (``policies.quiet_hours.silences`` and the user's window), the
user's actions are dropped before they are staged. So inside the window the teacher's phone gets
no push, no client counts the message as a notification or highlight (it is still unread by the
read marker: the room shows new messages), and nothing needs undoing when the window ends: the
next message is evaluated afresh. Urgent messages (``org.parta.urgent``, the administration's only)
are never held back. The event's type plays no part in the holding back: Synapse's default rules
ring for a call invite and notify of any event whose ``m.mentions`` names the teacher, an invite,
a poll start, so a list of held types would always leave a way to wake the teacher.

Why not the alternatives the design lists:
- ``ModuleApi.set_push_rule_action`` changes the actions of existing rules only, only on the
  push-rules stream writer, and only per user, not per sender: muting a teacher's rules at 21:00
  and restoring them at 08:00 would need a scheduler, would silence colleagues too, would
  overwrite the teacher's own choices, and mentions (a reply mentions its author) pass override
  rules anyway.
- The service acting for the user (rules written with the teacher's token) has the same gaps,
  plus a token for every teacher.
- A push gateway of Parta's own in front of the real one needs every client's pusher URL rewritten
  (clients choose it) and cannot change the counts clients show: the badge would still grow.

The notice: the staging wrap remembers (in this process, by event id) which quiet teachers a
pupil's or parent's message, call or poll reached (``policies.quiet_hours.notice_due``; reactions,
invites and the like are held back without a notice); the module's ``on_new_event`` (run after the event is
persisted, on every process, so the notice follows the message) picks it up on the same process and
sends, as the Parta bot, an ``m.notice`` replying to the message with the teacher's office hours,
where the bot is joined (school rooms, group chats); in a direct chat, which the bot never joins,
the same text naming the chat reaches the sender as a server notice (their private notices room from
Parta's system user, ``server_notices`` in homeserver.yaml; ModuleApi has no call for it).
Once per (room, teacher, window): a row in ``parta_quiet_notices`` (Synapse's database; the primary
key makes two processes or two messages send one notice).

The wrap checks its target's shape against the pinned Synapse (:func:`check_target`); the unit
tests run it. Sources: Synapse 1.163.2 ``synapse/push/bulk_push_rule_evaluator.py``,
``synapse/storage/databases/main/event_push_actions.py``; Matrix Client-Server API "Push
notifications" (push rules' actions, notification counts), "Rich replies".
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from synapse.module_api import ModuleApi

from policies import people_chats
from policies import quiet_hours as qh
from policies.capabilities import Capabilities
from policies.org_settings import effective
from policies.state_events import PartaEventTypes, user_state_key

from .lookups import Lookups
from .pinned import check_method
from .schema import ensure_schema

log = logging.getLogger(__name__)

#: Attribute marking the wrapped staging method (a module loaded twice wraps once).
_MARK = "_parta_quiet_wrapped"
#: (class, method, the parameters the wraps rely on, in order): Synapse 1.163.2.
TARGETS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("synapse.push.bulk_push_rule_evaluator.BulkPushRuleEvaluator", "_action_for_event_by_user",
     ("event", "context")),
    ("synapse.storage.databases.main.event_push_actions.EventPushActionsWorkerStore",
     "add_push_actions_to_staging", ("event_id", "user_id_actions", "count_as_unread", "thread_id")),
)
#: Events kept in memory between staging and ``on_new_event`` (a message's fate is decided at once).
MAX_PENDING = 10_000
#: (room, teacher, window start) whose notice this process knows is recorded (rows are never deleted).
MAX_NOTICED = 50_000

SCHEMA = [
    "CREATE TABLE IF NOT EXISTS parta_quiet_notices (room_id TEXT NOT NULL, user_id TEXT NOT NULL, "
    "window_start BIGINT NOT NULL, event_id TEXT NOT NULL, PRIMARY KEY (room_id, user_id, window_start))",
]


class QuietTargetError(RuntimeError):
    """Synapse's push staging no longer has the shape the wrap needs."""


def check_target() -> None:
    """Fail loudly unless Synapse's evaluator and store take the parameters the wraps rely on
    (:data:`TARGETS`; raises :class:`QuietTargetError`)."""
    for class_path, name, expected in TARGETS:
        check_method(class_path, name, expected, error=QuietTargetError, where="synapse_module/quiet_hours.py")


class QuietHours:
    """Holds back teachers' notifications in their quiet windows and answers with a notice.

    ``caps``: the role table (``send_urgent``); ``language``: the notices' language.
    """

    def __init__(self, api: ModuleApi, look: Lookups, caps: Capabilities, bot: str, language: str,
                 now: Callable[[], dt.datetime] | None = None):
        self.api, self.look, self.caps, self.bot, self.language = api, look, caps, bot, language
        # the clock: the tests of quiet hours compute windows around the real now, no clock is faked
        self.now = now or (lambda: dt.datetime.fromtimestamp(api.get_current_time_msec() / 1000, dt.UTC))
        self._pending: OrderedDict[str, list[tuple[str, dt.datetime, qh.OfficeHours]]] = OrderedDict()
        self._creating: dict[str, Any] = {}  # event id -> the event whose push actions are being computed
        self._schema_ready = False
        # notices known to be recorded: a held-back message in the same window writes nothing again
        self._noticed: OrderedDict[tuple[str, str, int], None] = OrderedDict()

    def install(self, hs: Any) -> None:
        """Wrap, once, this process's push evaluator (to know the event being evaluated) and its
        store's staging of push actions (to drop the held-back users)."""
        check_target()
        evaluator = hs.get_bulk_push_rule_evaluator()
        if getattr(evaluator._action_for_event_by_user, _MARK, False):
            return
        evaluator._action_for_event_by_user = self._wrap_evaluation(evaluator._action_for_event_by_user)
        store = evaluator.store
        store.add_push_actions_to_staging = self._wrap_staging(store.add_push_actions_to_staging)

    def _wrap_evaluation(self, original: Callable[..., Awaitable[None]]) -> Callable[..., Awaitable[None]]:
        @functools.wraps(original)
        async def _action_for_event_by_user(event: Any, context: Any, *args: Any, **kwargs: Any) -> None:
            self._creating[event.event_id] = event
            try:
                await original(event, context, *args, **kwargs)
            finally:
                self._creating.pop(event.event_id, None)
        setattr(_action_for_event_by_user, _MARK, True)
        return _action_for_event_by_user

    def _wrap_staging(self, original: Callable[..., Awaitable[None]]) -> Callable[..., Awaitable[None]]:
        @functools.wraps(original)
        async def add_push_actions_to_staging(event_id: str, user_id_actions: dict, count_as_unread: bool,
                                              thread_id: str, *args: Any, **kwargs: Any) -> None:
            if user_id_actions:
                user_id_actions = await self.filter(event_id, user_id_actions, count_as_unread)
            await original(event_id, user_id_actions, count_as_unread, thread_id, *args, **kwargs)
        setattr(add_push_actions_to_staging, _MARK, True)
        return add_push_actions_to_staging

    # -- the decision -------------------------------------------------------------------
    async def filter(self, event_id: str, actions: dict, count_as_unread: bool) -> dict:
        """``actions`` (user id -> push actions) without the users quiet hours hold back for the
        event being evaluated (by id, from the evaluator's wrap). A held-back user keeps an empty
        entry when the event counts as unread (MSC2654), so only the notification goes."""
        event = self._creating.get(event_id)
        if event is None:
            return actions
        try:
            quiet = await self.quiet_for(event, [u for u, a in actions.items() if a])
        except Exception:  # a failed read must never fail the message: it notifies as without Parta
            log.exception("quiet hours: %s notifies as usual after an error", event_id)
            return actions
        if not quiet:
            return actions
        kept = dict(actions)
        for user_id, _start, _hours in quiet:
            if count_as_unread:
                kept[user_id] = []
            else:
                kept.pop(user_id, None)
        if qh.notice_due(event.type, event.is_state()):  # a reaction or an invite is held back silently
            self._pending[event_id] = quiet
            if len(self._pending) > MAX_PENDING:
                self._pending.popitem(last=False)
        return kept

    async def quiet_for(self, event: Any, recipients: list[str]) -> list[tuple[str, dt.datetime, qh.OfficeHours]]:
        """Of ``recipients``, those quiet hours hold ``event`` back from, each with the start of
        their window and their office hours. Any type of event (``policies.quiet_hours``: the
        sender, the room and the window decide). Early exits keep the common event to two cached
        reads."""
        if event.sender == self.bot or not recipients:
            return []
        urgent = qh.is_urgent(event.content, event.is_state())
        if urgent:
            return []
        room = await self.look.room(event.room_id)
        if room is None or room.kind not in qh.QUIET_ROOM_KINDS:
            return []
        sender = await self.look.person(event.sender)
        # a people's chat: every organization the sender shares with a recipient (below), never its tag
        # alone (a parent of A who teaches in B writes to A's teacher as A's parent: policies.people_chats)
        orgs = people_chats.rule_orgs(room, sender)
        settings_of: dict[str, Mapping] = {}
        for org in orgs:  # the organizations whose settings hold this sender back
            m = sender.memberships.get(org)
            settings = (await self.look.org(org)).get("settings") or {} if m is not None else {}
            if m is not None and qh.sender_held(m.cap_role, settings):
                settings_of[org] = settings
        if not settings_of:
            return []  # a colleague, the administration by default, or someone of no organization of the room's
        orgs = list(settings_of)
        quiet = []
        now = self.now()
        for user_id in recipients:
            recipient = self.look.person_now(user_id) or await self.look.person(user_id)
            for org in orgs:
                r_m = recipient.memberships.get(org)
                if r_m is None or r_m.cap_role not in qh.QUIET_RECIPIENTS:
                    continue
                settings = settings_of[org]
                if not qh.silences(r_m.cap_role, sender.memberships[org].cap_role, room.kind, settings, urgent):
                    continue
                hours = qh.hours_of(await self.own_hours(user_id), settings)
                start = hours.window_start(now, effective(settings)["timezone"]) if hours else None
                if hours is not None and start is not None:
                    quiet.append((user_id, start, hours))
                    break
        return quiet

    async def own_hours(self, user_id: str) -> dict:
        """A teacher's own office hours (the registry's ``org.parta.office_hours``; {} when none)."""
        registry = await self.look.registry_id()
        if registry is None:
            return {}
        return await self.look._state(registry, PartaEventTypes.OFFICE_HOURS, user_state_key(user_id),
                                      lambda c: dict(c or {}))

    # -- the notice ---------------------------------------------------------------------
    def awaits_notice(self, event_id: str) -> bool:
        """Whether this process held back the event's push actions and owes its notice (so that
        ``on_new_event`` reads no other event: ``new_events.NewEvents``)."""
        return event_id in self._pending

    async def on_new_event(self, event: Any, _state_events: Any = None) -> None:
        """After a held-back message, call or poll is persisted (this process staged it,
        ``policies.quiet_hours.notice_due``): the office-hours notice, once per (room, teacher,
        window), from a pupil's or a parent's only."""
        quiet = self._pending.pop(event.event_id, None)
        if not quiet:
            return
        room = await self.look.room(event.room_id)
        sender = await self.look.person(event.sender)
        # a people's chat: the sender's roles in every organization (held back there as a pupil or parent)
        org = room.org if room is not None and not people_chats.is_people_chat(room) else None
        roles = {m.cap_role for o, m in sender.memberships.items() if org is None or o == org}
        if not roles & qh.NOTICE_SENDERS:
            return
        if self.bot not in await self.look.joined_users(event.room_id):
            # a direct chat: the bot is no member; the notice goes to the sender's server-notices room
            if room is not None and room.kind == "dm":
                await self._dm_notices(event, quiet)
            return
        for user_id, start, hours in quiet:
            if not await self._first_notice(event.room_id, user_id, start, event.event_id):
                continue
            name = await self._name(user_id)
            await self.api.create_and_send_event_into_room({
                "type": "m.room.message", "room_id": event.room_id, "sender": self.bot,
                "content": {
                    "msgtype": "m.notice", "body": qh.notice_text(name, hours, self.language),
                    "m.relates_to": {"m.in_reply_to": {"event_id": event.event_id}},
                    "m.mentions": {},
                    "org.parta.office_hours": {"user_id": user_id, **hours.to_content()},
                }})

    async def _name(self, user_id: str) -> str:
        """The teacher's display name (set by the server from the roster), else the user id."""
        # ModuleApi.get_profile_for_user takes a localpart of this server, not a user id
        localpart, _, server = user_id[1:].partition(":")
        if server != self.api.server_name:
            return user_id
        try:
            profile = await self.api.get_profile_for_user(localpart)
        except Exception:  # noqa: BLE001 - a notice with the id is better than none
            log.warning("no profile of %s for the quiet-hours notice", user_id, exc_info=True)
            return user_id
        return (profile.display_name if profile else None) or user_id

    async def _dm_notices(self, event: Any, quiet: list[tuple[str, dt.datetime, qh.OfficeHours]]) -> None:
        """The notice of a direct chat, as a server notice to the sender (Synapse's
        ``ServerNoticesManager``: the person's private notices room, where only Parta's system
        user writes; ``server_notices`` in homeserver.yaml, written by ``parta init``). ModuleApi
        has no call for it. Nothing when server notices are off or on a worker (which cannot send
        them)."""
        hs = getattr(self.api, "_hs", None)
        if hs is None or hs.config.worker.worker_app or not hs.config.servernotices.server_notices_mxid:
            return  # a worker cannot send server notices (Synapse raises); or they are off
        manager = hs.get_server_notices_manager()
        chat = await self.look._state(event.room_id, "m.room.name", "", lambda c: (c or {}).get("name"))
        for user_id, start, hours in quiet:
            if not await self._first_notice(event.room_id, user_id, start, event.event_id):
                continue
            name = await self._name(user_id)
            await manager.send_notice(event.sender, {
                "msgtype": "m.notice",
                "body": qh.dm_notice_text(name, chat if isinstance(chat, str) and chat else None, hours,
                                          self.language),
                "m.mentions": {},
                "org.parta.office_hours": {"user_id": user_id, "room_id": event.room_id,
                                           "event_id": event.event_id, **hours.to_content()}})

    async def _first_notice(self, room_id: str, user_id: str, start: dt.datetime, event_id: str) -> bool:
        """Record the notice of (room, teacher, window); False when one was already sent."""
        if not self._schema_ready:
            await ensure_schema(self.api, "parta_quiet_schema", SCHEMA)
            self._schema_ready = True
        key = int(start.timestamp() * 1000)
        if (room_id, user_id, key) in self._noticed:
            # every further message of the window (a pupil's chat at night: each one) would otherwise
            # be a database write, only to learn that the row exists
            return False

        def run(txn: Any) -> bool:
            txn.execute("INSERT INTO parta_quiet_notices (room_id, user_id, window_start, event_id) "
                        "VALUES (?, ?, ?, ?) ON CONFLICT (room_id, user_id, window_start) DO NOTHING",
                        (room_id, user_id, key, event_id))
            return bool(txn.rowcount)
        first = await self.api.run_db_interaction("parta_quiet_notice", run)
        self._noticed[(room_id, user_id, key)] = None  # inserted now or before: the row exists
        if len(self._noticed) > MAX_NOTICED:
            self._noticed.popitem(last=False)
        return first

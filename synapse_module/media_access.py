"""Files stay inside the rooms they were posted in: recording where media is posted, and refusing
downloads and thumbnails to everyone else (``policies.media_access``).

Synapse 1.163 offers no module callback on downloads, and module web resources under
``/_matrix/client`` are never reached, so Parta wraps the one method every local download goes
through: ``MediaRepository.get_local_media_info(request, media_id, max_timeout_ms, ...)``, on the
process's own media repository object (``hs.get_media_repository()``, one per process). Its
callers look it up on that object at call time:

- ``MediaRepository.get_local_media`` (``self.get_local_media_info``), used by the authenticated
  download ``/_matrix/client/v1/media/download``, the legacy ``/_matrix/media/v3/download`` and
  the federation download ``/_matrix/federation/v1/media/download``;
- ``ThumbnailProvider.respond_local_thumbnail`` and ``select_or_generate_local_thumbnail``
  (``self.media_repo.get_local_media_info``), used by the authenticated, legacy and federation
  thumbnail paths.

The wrap calls Synapse first (an unknown, quarantined or unfinished upload is answered as
before), then decides from the requester the servlet has already authenticated
(``request.requester``): a local user gets the file if ``policies.media_access.may_download``
allows, else 403 ``M_FORBIDDEN`` with ``org.parta.reason`` ``media_not_shared_with_you`` (one
reason for every case: it tells nothing about where the file was posted). A request with no
local user (the legacy unauthenticated path, another server over federation) gets Synapse's
own 404 ``M_NOT_FOUND``, the answer for unknown media, so it learns nothing at all.
:func:`check_target` fails loudly when Synapse's method or its callers change shape
(``tests/unit/synapse_module/test_media_access.py`` runs it against the pinned Synapse).

**Recording** (table ``parta_media_rooms``, in Synapse's database, SQLite and PostgreSQL):
``on_new_event`` (third-party rules callback) writes one row per (media id, room id) for each
local ``mxc://`` URI an event carries (``policies.media_access.media_ids``), when the sender may
share it (``may_share``: the uploader, the bot, or someone who may download it). It is chosen
over ``check_event_for_spam`` because it runs after the event is persisted (a refused event
grants nothing), for every event including state sent in ``createRoom`` (a room avatar) and
membership, and on every process *before* that process wakes its clients' ``/sync``
(``Notifier.notify_new_room_events`` awaits it): whichever process tells a member about the
file has written the row before the member can ask for it. The module runs it itself inside
Synapse's dispatcher (``new_events.py``: the event only, not the room's whole state Synapse
would read per event and process), on every process that can show an event to someone
(``new_events.shows_events``: main, the client and sync workers, the event writer, the pusher);
the media and background workers show none and record nothing. Inserts are idempotent
(``ON CONFLICT DO NOTHING``): one row, whichever of those processes writes first. ``check_event_for_spam`` is used as
well, only to refuse a message carrying a file its sender may not share with a clear 403
(``media_not_yours_to_share``) instead of a broken attachment.

**Caching** (per process, nothing authoritative): the rooms each media id was posted in, in a
bounded LRU that this process's own ``on_new_event`` extends as it records (the media worker,
which serves downloads and records nothing, relies on the re-read); a refusal re-reads the table
once before it is final, so a stale entry can only delay nothing. Membership comes from
Synapse's ``get_rooms_for_user`` cache, which Synapse invalidates on every membership change on
every worker: leaving the class chat ends access at the next request.

**Encrypted attachments** (organizations with ``encryption_in_chats``): their URI travels
inside the ciphertext, so no room records them; an opaque upload (``application/octet-stream``)
that no room records is served to people joined to an encrypted room together with its uploader
(read only on the refusal path). The bytes are ciphertext without the key the event carries. A
file recorded in any room was posted in clear, so it is no encrypted attachment: it follows the
rooms it was posted in (a teacher's octet-stream file in the staff room stays there).

Not covered: a redaction does not withdraw the file from the room (Synapse keeps the media;
the school administrator quarantines it); remote media (federation is off) is left to Synapse.
Sources: Synapse 1.163.2 ``synapse/media/media_repository.py``, ``synapse/media/thumbnailer.py``,
``synapse/rest/client/media.py``, ``synapse/rest/media/download_resource.py``,
``synapse/federation/transport/server/federation.py``, ``synapse/notifier.py``; MSC3911.
"""

from __future__ import annotations

import functools
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

from synapse.api.errors import NotFoundError, SynapseError
from synapse.module_api import NOT_SPAM, ModuleApi

from policies.capabilities import Decision
from policies.media_access import OPAQUE_TYPE, may_download, may_share, media_ids

from .new_events import NewEvents, shows_events
from .pinned import check_callers, check_method
from .schema import ensure_schema

log = logging.getLogger(__name__)

#: Attribute marking the wrapped method (a module loaded twice wraps once).
_MARK = "_parta_media_wrapped"
#: (class path, method, leading parameters the wrap relies on)
TARGET = ("synapse.media.media_repository.MediaRepository", "get_local_media_info",
          ("request", "media_id", "max_timeout_ms"))
#: Synapse methods that must reach local media only through the wrapped method, and the call
#: their source must contain (an upgrade that reads the store directly would bypass the rule).
CALLERS = (
    ("synapse.media.media_repository.MediaRepository", "get_local_media", "self.get_local_media_info("),
    ("synapse.media.thumbnailer.ThumbnailProvider", "respond_local_thumbnail",
     "self.media_repo.get_local_media_info("),
    ("synapse.media.thumbnailer.ThumbnailProvider", "select_or_generate_local_thumbnail",
     "self.media_repo.get_local_media_info("),
)
#: Media ids whose rooms are kept per process.
MAX_CACHED = 100_000

SCHEMA = [
    "CREATE TABLE IF NOT EXISTS parta_media_rooms (media_id TEXT NOT NULL, room_id TEXT NOT NULL, "
    "event_id TEXT NOT NULL, sender TEXT NOT NULL, ts BIGINT NOT NULL, PRIMARY KEY (media_id, room_id))",
]

Refuse = Callable[[Decision], SynapseError]


class MediaTargetError(RuntimeError):
    """Synapse's media internals no longer have the shape the wrap needs; Parta refuses to run unguarded."""


def check_target() -> None:
    """Raise :class:`MediaTargetError` unless ``MediaRepository.get_local_media_info`` exists with
    the expected leading parameters and every caller in :data:`CALLERS` still calls it."""
    class_path, method, params = TARGET
    check_method(class_path, method, params, error=MediaTargetError, where="synapse_module/media_access.py")
    check_callers(CALLERS, error=MediaTargetError, where="synapse_module/media_access.py")


class MediaAccess:
    """Room-scoped media for one Synapse process: the record of where media was posted (in
    Synapse's database) and the download rule (``policies.media_access``).

    ``refuse`` turns a Decision into the module's 403 (``module.Refusal``); ``wrap(name, fn)``
    measures a callback (``metrics.Meter.wrap``). Raises :class:`MediaTargetError` when Synapse's
    media internals changed shape.
    """

    def __init__(self, api: ModuleApi, bot: str, refuse: Refuse,
                 wrap: Callable[[str, Any], Any] = lambda _name, fn: fn, new_events: NewEvents | None = None):
        self.api = api
        self.bot = bot
        self.refuse = refuse
        self.server_name = api.server_name
        self._store: Any = getattr(api, "_store", None)
        self._rooms: OrderedDict[str, frozenset[str]] = OrderedDict()
        self._schema_ready = False
        self._measured_check = wrap("media_download", self.check)
        hs = getattr(api, "_hs", None)  # None under a Mock(spec=ModuleApi) in unit tests
        if new_events is None:
            api.register_third_party_rules_callbacks(on_new_event=wrap("on_new_event", self.on_new_event))
        elif hs is None or shows_events(hs):
            # every event (any may carry a file), on every process that can show it to someone, before
            # it does (new_events.py: without Synapse's read of the room's state)
            new_events.add(wrap("on_new_event", self.on_new_event))
        api.register_spam_checker_callbacks(check_event_for_spam=wrap("media_share", self.check_event_for_spam))
        if hs is not None and hs.config.media.can_load_media_repo:
            check_target()
            repo = hs.get_media_repository()
            if not getattr(repo.get_local_media_info, _MARK, False):
                repo.get_local_media_info = self._wrap(repo.get_local_media_info)

    # -- the table --------------------------------------------------------------------
    async def _db(self, desc: str, sql: str, args: tuple = ()) -> list[tuple]:
        if not self._schema_ready:
            await ensure_schema(self.api, "parta_media_schema", SCHEMA)
            self._schema_ready = True

        def run(txn: Any) -> list[tuple]:
            txn.execute(sql, args)
            return txn.fetchall() if txn.description else []
        return await self.api.run_db_interaction(desc, run)

    async def posted_in(self, media_id: str, fresh: bool = False) -> frozenset[str]:
        """Room ids ``media_id`` was posted in (this process's cache unless ``fresh``)."""
        rooms = None if fresh else self._rooms.get(media_id)
        if rooms is None:
            rows = await self._db("parta_media_rooms", "SELECT room_id FROM parta_media_rooms WHERE media_id = ?",
                                  (media_id,))
            rooms = frozenset(r[0] for r in rows)
            self._remember(media_id, rooms)
        return rooms

    def _remember(self, media_id: str, rooms: frozenset[str]) -> None:
        self._rooms[media_id] = rooms
        self._rooms.move_to_end(media_id)
        if len(self._rooms) > MAX_CACHED:
            self._rooms.popitem(last=False)

    async def _joined(self, user_id: str) -> frozenset[str]:
        return frozenset(await self._store.get_rooms_for_user(user_id))

    async def _uploader(self, media_id: str) -> tuple[bool, str | None]:
        """(whether the media exists on this server, its uploader)."""
        info = await self._store.get_local_media(media_id)
        return (info is not None, getattr(info, "user_id", None))

    async def _may_share(self, sender: str, media_id: str) -> Decision:
        exists, uploader = await self._uploader(media_id)
        if not exists:
            return may_share(sender, uploader=None, posted_in=(), joined=(), bot=self.bot)
        joined = await self._joined(sender)
        decision = may_share(sender, uploader=uploader, posted_in=await self.posted_in(media_id), joined=joined,
                             bot=self.bot)
        if not decision:
            decision = may_share(sender, uploader=uploader, posted_in=await self.posted_in(media_id, fresh=True),
                                 joined=joined, bot=self.bot)
        return decision

    # -- recording --------------------------------------------------------------------
    async def on_new_event(self, event: Any, _state_events: Any = None) -> None:
        """Record (media id, room id) for each local file the persisted event carries that its
        sender may share (``on_new_event``, through ``new_events.NewEvents``; every process that can
        show the event, before it wakes /sync)."""
        found = media_ids(event.content, self.server_name)
        if not found:
            return
        for media_id in sorted(found):
            decision = await self._may_share(event.sender, media_id)
            if not decision:
                log.info("%s in %s by %s not recorded: %s", media_id, event.room_id, event.sender, decision.reason)
                continue
            await self._db("parta_media_record", "INSERT INTO parta_media_rooms (media_id, room_id, event_id, "
                           "sender, ts) VALUES (?, ?, ?, ?, ?) ON CONFLICT (media_id, room_id) DO NOTHING",
                           (media_id, event.room_id, event.event_id, event.sender,
                            self.api.get_current_time_msec()))
            cached = self._rooms.get(media_id)
            if cached is not None:
                self._remember(media_id, cached | {event.room_id})

    async def check_event_for_spam(self, event: Any) -> Any:
        """Refuse, before it is sent, an event carrying a local file its sender may not share
        (403 ``media_not_yours_to_share``); ``on_new_event`` would not record it anyway."""
        if event.sender == self.bot:
            return NOT_SPAM
        for media_id in sorted(media_ids(event.content, self.server_name)):
            decision = await self._may_share(event.sender, media_id)
            if not decision:
                raise self.refuse(decision)
        return NOT_SPAM

    # -- downloads --------------------------------------------------------------------
    async def check(self, requester: Any, media_id: str, uploader: str | None, media_type: str | None = None) -> None:
        """Raise unless ``requester`` (``request.requester``: a Requester, a server name over
        federation, or None) may download ``media_id`` (uploaded by ``uploader``, of the
        Content-Type ``media_type`` the upload declared): 404 ``M_NOT_FOUND`` without a local
        user, 403 (``refuse``) for a local user the rule refuses."""
        user = getattr(requester, "user", None)
        user_id = user.to_string() if user is not None else None
        if user_id is None or not self.api.is_mine(user_id):
            raise NotFoundError()
        if user_id == self.bot or user_id == uploader:
            return
        joined = await self._joined(user_id)
        decision = may_download(user_id, uploader=uploader, posted_in=await self.posted_in(media_id), joined=joined,
                                bot=self.bot)
        if not decision:
            # the cache may predate a record another coroutine of this process is writing
            posted_in = await self.posted_in(media_id, fresh=True)
            decision = may_download(user_id, uploader=uploader, posted_in=posted_in, joined=joined, bot=self.bot)
            if not decision and not posted_in and media_type == OPAQUE_TYPE and uploader is not None:
                # an encrypted attachment's URI travels inside ciphertext: no room records it (a file
                # posted in clear anywhere is recorded, and follows its rooms only)
                decision = may_download(user_id, uploader=uploader, posted_in=posted_in, joined=joined, bot=self.bot,
                                        encrypted_with_uploader=await self._encrypted_together(user_id, uploader,
                                                                                               joined))
        if not decision:
            log.info("download of %s refused to %s: %s", media_id, user_id, decision.reason)
            raise self.refuse(decision)

    async def _encrypted_together(self, user_id: str, uploader: str, joined: frozenset[str]) -> bool:
        """Whether ``user_id`` and ``uploader`` are both joined to an end-to-end encrypted room
        (read only when a download of an opaque upload is about to be refused)."""
        for room_id in sorted(joined & await self._joined(uploader)):
            state = await self.api.get_room_state(room_id, [("m.room.encryption", "")])
            if state.get(("m.room.encryption", "")) is not None:
                return True
        return False

    def _wrap(self, original: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        @functools.wraps(original)
        async def get_local_media_info(request: Any, media_id: str, max_timeout_ms: int, *args: Any,
                                       **kwargs: Any) -> Any:
            info = await original(request, media_id, max_timeout_ms, *args, **kwargs)
            if info is None:
                return None  # Synapse has answered (unknown, quarantined, not uploaded yet)
            await self._measured_check(request.requester, media_id, info.user_id, info.media_type)
            return info

        setattr(get_local_media_info, _MARK, True)
        return get_local_media_info

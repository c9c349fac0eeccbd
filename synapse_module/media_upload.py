"""Uploads kept safe: per-role limits, the kinds of files kept, and virus scanning through clamd.

Synapse's media callbacks (module API "Media repository callbacks", experimental in 1.163, and the
spam checker's ``check_media_file_for_spam``) with the rules of ``policies.media``:

=========================================  =====================================================
``get_media_config_for_user``              the person's own ``m.upload.size`` (their role's
                                           ``max_size``, never above Synapse's ``max_upload_size``)
``is_user_allowed_to_upload_media_of_size`` a file over the role's size: 413 ``M_TOO_LARGE`` with
                                           Parta's message (``upload_too_large``)
``get_media_upload_limits_for_user``       the role's quotas; Synapse sums the person's uploads
``on_media_upload_limit_exceeded``         403 ``M_USER_LIMIT_EXCEEDED`` with Parta's message
                                           (``upload_quota_exceeded``) and Synapse's ``info_uri``
``check_media_file_for_spam``              the type the bytes show (``filetype``, what a ZIP
                                           archive's central directory holds, then
                                           ``MediaRules.type_of``), then clamd's ``INSTREAM``: 403
                                           ``M_FORBIDDEN`` (``file_is_program``, ``file_has_macros``,
                                           ``file_type_refused``, ``file_type_unknown``,
                                           ``virus_found``, ``scan_unavailable``)
``check_event_for_spam``                   a message carrying a file under a program's name
                                           (``filename``, else ``body``) or claimed type
                                           (``info.mimetype``): 403 ``M_FORBIDDEN``, as below
=========================================  =====================================================

**The name and the Content-Type** an upload claims never reach those callbacks, but they decide what
a person's computer does with the saved file (``homework.bat`` is plain text to its bytes). Synapse
1.163 has no callback that sees them, so Parta wraps the one method both upload paths (``POST
/_matrix/media/v3/upload`` and the two-step ``PUT /_matrix/media/v3/upload/{server}/{id}`` of
MSC2246) call with them: ``MediaRepository.create_or_update_content(media_type, upload_name, content,
content_length, auth_user, media_id)`` on the process's media repository (the servlets look it up at
call time). Before Synapse reads a byte, the wrap refuses a program's name or type
(``MediaRules.may_keep_named``: ``types_by_extension`` of ``media.yaml``) with 403 ``M_FORBIDDEN``.
For the two-step upload it also moves the reservation's ``created_ts`` (set at ``POST
/_matrix/media/v1/create``) to the moment the bytes come: Synapse counts a person's quota by
``created_ts``, so a file reserved 59 minutes before would count in a window about to close and let
the quota be passed twice (``local_media_repository``, Synapse 1.163.2
``storage/databases/main/media_repository.py``). :func:`check_upload_target` fails loudly when the
method or its callers change shape (``tests/unit/synapse_module/test_media_upload.py``).

Why the callbacks raise instead of returning a refusal: Synapse answers a ``False`` from
``is_user_allowed_to_upload_media_of_size`` with "Upload request body is too large", and a code
from ``check_media_file_for_spam`` with ``400 M_UNKNOWN "Bad content"`` (it drops the code:
``rest/media/upload_resource.py``), which says nothing to a pupil. An error raised there reaches the
client as raised (checked on 1.163.2 by ``tests/integration/test_uploads.py``), with the message in
the module's language and ``org.parta.reason`` / ``org.parta.messages`` as every Parta refusal.

``check_media_file_for_spam`` runs after Synapse wrote the file (and deletes it on a refusal), for
uploads, for the thumbnails Synapse makes of them (typed, not scanned again: they are Synapse's own
pictures of a file already scanned) and for URL previews; it never learns the uploader, so the kinds
of files kept are the same for everyone. The Parta bot and the journal bridge have no size limit.

Config (``media`` in the module's config; ``parta init --clamd ADDRESS`` writes it)::

    media:
      clamd: unix:/run/clamav/clamd.ctl   # or tcp:127.0.0.1:3310; absent: no virus scanning
      scan_unavailable: refuse            # clamd down or erring: refuse the upload (default) or accept it
      scan_timeout: 60                    # seconds per socket operation with clamd
      unrecognised: accept                # bytes no sniffing recognises; default: media.yaml's (refuse).
                                          # Needed where organizations turn encryption on: an encrypted
                                          # attachment is random bytes to the server (neither typed nor
                                          # scanned)
"""

from __future__ import annotations

import copy
import functools
import inspect
import logging
import zipfile
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import filetype
from synapse.api.errors import Codes, SynapseError
from synapse.module_api import NOT_SPAM, ModuleApi
from synapse.module_api.errors import ConfigError

from policies.capabilities import Decision
from policies.media import (
    HEAD_BYTES,
    SCAN_UNAVAILABLE,
    MediaRules,
    Quota,
    ZipContents,
    declared_content_types,
    default_media_rules,
    ole_root_entry_offset,
    quota_exceeded,
    virus_found,
)

from . import clamd
from .lookups import Lookups
from .pinned import check_callers, check_method
from .refusal_metrics import count_refusal

logger = logging.getLogger(__name__)

#: Attribute marking the wrapped upload method (a module loaded twice wraps once).
_MARK = "_parta_upload_wrapped"
#: (class path, method, leading parameters the wrap relies on)
UPLOAD_TARGET = ("synapse.media.media_repository.MediaRepository", "create_or_update_content",
                 ("media_type", "upload_name", "content", "content_length", "auth_user", "media_id"))
#: Synapse's upload servlets, which must store uploads only through the wrapped method.
UPLOAD_CALLERS = (
    ("synapse.rest.media.upload_resource.UploadServlet", "on_POST", "self.media_repo.create_or_update_content("),
    ("synapse.rest.media.upload_resource.AsyncUploadServlet", "on_PUT", "self.media_repo.create_or_update_content("),
)
#: The most of an Office document's ``[Content_Types].xml`` read (a real one is a few KiB).
CONTENT_TYPES_BYTES = 1024 * 1024
#: Message types whose ``url`` is a file the client saves under the event's file name.
FILE_MSGTYPES = frozenset({"m.file", "m.image", "m.audio", "m.video"})


class UploadTargetError(RuntimeError):
    """Synapse's upload internals no longer have the shape the wrap needs; Parta refuses to run unguarded."""


def check_upload_target() -> None:
    """Raise :class:`UploadTargetError` unless ``MediaRepository.create_or_update_content`` exists
    with the expected leading parameters and both upload servlets still call it."""
    class_path, method, params = UPLOAD_TARGET
    check_method(class_path, method, params, error=UploadTargetError, where="synapse_module/media_upload.py")
    check_callers(UPLOAD_CALLERS, error=UploadTargetError, where="synapse_module/media_upload.py")


@dataclass(frozen=True)
class UploadConfig:
    """The ``media`` section of the module's config (see the module docstring)."""

    clamd: str | None = None
    scan_unavailable: str = "refuse"
    scan_timeout: float = 60.0
    unrecognised: str | None = None

    @staticmethod
    def parse(section: Mapping | None) -> UploadConfig:
        """Validate ``section`` (None: no scanning). Raises ConfigError naming the bad key."""
        section = dict(section or {})
        unknown = set(section) - {"clamd", "scan_unavailable", "scan_timeout", "unrecognised"}
        if unknown:
            raise ConfigError(f"synapse_module.PartaModule: unknown media settings {sorted(unknown)}")
        address = section.get("clamd")
        if address is not None:
            try:
                clamd.parse_address(str(address))
            except ValueError as e:
                raise ConfigError(f"synapse_module.PartaModule: media.clamd: {e}") from e
        unavailable = section.get("scan_unavailable", "refuse")
        if unavailable not in ("refuse", "accept"):
            raise ConfigError("synapse_module.PartaModule: media.scan_unavailable must be refuse or accept")
        try:
            timeout = float(section.get("scan_timeout", 60))
        except (TypeError, ValueError) as e:
            raise ConfigError("synapse_module.PartaModule: media.scan_timeout must be seconds") from e
        unrecognised = section.get("unrecognised")
        if unrecognised not in (None, "refuse", "accept"):
            raise ConfigError("synapse_module.PartaModule: media.unrecognised must be refuse or accept")
        return UploadConfig(str(address) if address else None, unavailable, timeout, unrecognised)


class UploadRefusal(SynapseError):
    """A refused upload: ``code`` and ``errcode`` as the spec says for the case, Parta's message."""

    def __init__(self, code: int, errcode: str, decision: Decision, language: str, **fields: Any):
        super().__init__(code, decision.message(language), errcode, additional_fields={
            **fields, "org.parta.reason": decision.reason, "org.parta.messages": decision.messages()})
        count_refusal(decision.reason)


def _head(path: str) -> tuple[bytes, bytes | None, ZipContents | None]:
    """The file's first bytes; for an OLE2 compound file its root directory entry (128 bytes); for
    a ZIP archive (any file whose end holds a ZIP central directory, so also a ZIP after other bytes)
    its entries and the content types of its ``[Content_Types].xml`` (at most
    :data:`CONTENT_TYPES_BYTES` of it decompressed). Blocking: run in a thread."""
    with open(path, "rb") as f:
        head = f.read(HEAD_BYTES)
        offset = ole_root_entry_offset(head)
        if offset is not None:
            f.seek(offset)
            return head, f.read(128), None
    return head, None, _zip_contents(path)


def _zip_contents(path: str) -> ZipContents | None:
    """What a ZIP archive holds, or None when ``path`` is no readable ZIP archive (a damaged one is
    left to the bytes' type: no system installs or runs it either)."""
    try:
        if not zipfile.is_zipfile(path):
            return None
        with zipfile.ZipFile(path) as z:
            names = tuple(z.namelist())
            types: tuple[str, ...] = ()
            if "[Content_Types].xml" in names:
                with z.open("[Content_Types].xml") as part:
                    types = declared_content_types(part.read(CONTENT_TYPES_BYTES))
            return ZipContents(names, types)
    except (OSError, zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, RuntimeError, EOFError,
            ValueError) as e:
        logger.info("Parta read no ZIP entries of an upload: %s", e)
        return None


class MediaUpload:
    """Registers the upload callbacks for one Synapse process (see the module docstring)."""

    def __init__(self, api: ModuleApi, look: Lookups, *, unlimited: frozenset[str], config: UploadConfig,
                 language: str, wrap: Any = None, rules: MediaRules | None = None):
        self.api = api
        self.look = look
        self.unlimited = unlimited
        self.config = config
        self.language = language
        self.rules = rules or default_media_rules()
        if config.unrecognised is not None:  # the installation's choice over media.yaml's
            self.rules = copy.copy(self.rules)
            self.rules.accept_unrecognised = config.unrecognised == "accept"
        hs = getattr(api, "_hs", None)  # None under a Mock(spec=ModuleApi) in unit tests
        media = getattr(getattr(hs, "config", None), "media", None)
        self.synapse_max: int | None = getattr(media, "max_upload_size", None)
        self.fallback_info_uri: str | None = getattr(media, "media_upload_limit_fallback_info_uri", None)

        def w(name: str, fn: Any) -> Any:
            return wrap(name, fn) if wrap is not None else fn

        api.register_media_repository_callbacks(
            get_media_config_for_user=w("get_media_config_for_user", self.get_media_config_for_user),
            is_user_allowed_to_upload_media_of_size=w("is_user_allowed_to_upload_media_of_size",
                                                      self.is_user_allowed_to_upload_media_of_size),
            get_media_upload_limits_for_user=w("get_media_upload_limits_for_user",
                                               self.get_media_upload_limits_for_user),
            on_media_upload_limit_exceeded=w("on_media_upload_limit_exceeded", self.on_media_upload_limit_exceeded))
        api.register_spam_checker_callbacks(
            check_media_file_for_spam=w("check_media_file_for_spam", self.check_media_file_for_spam),
            check_event_for_spam=w("file_name_check", self.check_event_for_spam))
        if hs is not None and hs.config.media.can_load_media_repo:
            check_upload_target()
            repo = hs.get_media_repository()
            if not getattr(repo.create_or_update_content, _MARK, False):
                repo.create_or_update_content = self.wrap_upload(repo.create_or_update_content)

    # -- limits ------------------------------------------------------------------------
    async def get_media_config_for_user(self, user_id: str) -> dict | None:
        """``{"m.upload.size": bytes}`` for the person's role (None: Synapse's own, for the bot and the
        bridge)."""
        if user_id in self.unlimited:
            return None
        size = self.rules.limits_for(await self.look.person(user_id)).max_size
        if size is None:
            return None
        return {"m.upload.size": min(size, self.synapse_max) if self.synapse_max else size}

    async def is_user_allowed_to_upload_media_of_size(self, user_id: str, size: int) -> bool:
        """True, or raises 413 ``M_TOO_LARGE`` with Parta's message (``upload_too_large``)."""
        if user_id in self.unlimited:
            return True
        decision = self.rules.limits_for(await self.look.person(user_id)).check_size(size)
        if not decision:
            raise UploadRefusal(413, Codes.TOO_LARGE, decision, self.language)
        return True

    async def get_media_upload_limits_for_user(self, user_id: str) -> list | None:
        """The role's quotas as Synapse's ``MediaUploadLimit`` list ([] for the bot and the bridge: no
        limit)."""
        from synapse.config.repository import MediaUploadLimit  # Synapse's own type (1.139+)

        if user_id in self.unlimited:
            return []
        limits = self.rules.limits_for(await self.look.person(user_id))
        return [MediaUploadLimit(max_bytes=q.max_bytes, time_period_ms=q.period_ms) for q in limits.quotas]

    async def on_media_upload_limit_exceeded(self, user_id: str, limit: Any, sent_bytes: int,
                                             attempted_bytes: int) -> None:
        """Raises 403 ``M_USER_LIMIT_EXCEEDED`` (as Synapse would, with its ``info_uri``) with Parta's
        message (``upload_quota_exceeded``)."""
        decision = quota_exceeded(Quota(limit.time_period_ms, limit.max_bytes))
        info_uri = limit.info_uri or self.fallback_info_uri
        fields: dict[str, Any] = {"info_uri": info_uri} if info_uri else {}
        if limit.can_upgrade:
            fields["can_upgrade"] = True
        raise UploadRefusal(403, Codes.USER_LIMIT_EXCEEDED, decision, self.language, **fields)

    # -- names -------------------------------------------------------------------------
    def check_name(self, upload_name: str | None, media_type: str | None) -> None:
        """Raise 403 ``M_FORBIDDEN`` (``file_is_program``, ``file_has_macros``,
        ``file_type_refused``) when a file's claimed name or type is one Parta never keeps."""
        decision = self.rules.may_keep_named(upload_name, media_type)
        if not decision:
            logger.info("Parta refused a file named %r of claimed type %s (%s)", upload_name, media_type,
                        decision.reason)
            raise UploadRefusal(403, Codes.FORBIDDEN, decision, self.language)

    def wrap_upload(self, original: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        """``MediaRepository.create_or_update_content`` checked by name and type first; for the
        two-step upload (``media_id`` given) the reservation counts from now (module docstring)."""
        signature = inspect.signature(original)

        @functools.wraps(original)
        async def create_or_update_content(*args: Any, **kwargs: Any) -> Any:
            bound = signature.bind(*args, **kwargs)
            self.check_name(bound.arguments.get("upload_name"), bound.arguments.get("media_type"))
            media_id = bound.arguments.get("media_id")
            if media_id is not None:
                await self._count_from_now(media_id, bound.arguments["auth_user"].to_string())
            return await original(*bound.args, **bound.kwargs)

        setattr(create_or_update_content, _MARK, True)
        return create_or_update_content

    async def _count_from_now(self, media_id: str, user_id: str) -> None:
        """Move a reserved (not yet uploaded) media id's ``created_ts`` to now, so that its bytes
        count in the quota windows of the moment they come."""
        now = self.api.get_current_time_msec()

        def move(txn: Any) -> None:
            txn.execute("UPDATE local_media_repository SET created_ts = ? WHERE media_id = ? AND user_id = ? "
                        "AND media_length IS NULL", (now, media_id, user_id))
        await self.api.run_db_interaction("parta_upload_counts_from_now", move)

    async def check_event_for_spam(self, event: Any) -> Any:
        """Refuse a message that carries a file (``url``, also in an edit's ``m.new_content``) under a
        program's name (``filename``, else ``body``, as clients name the saved file) or claimed type
        (``info.mimetype``): 403 ``M_FORBIDDEN`` as for the upload. The bot and the bridge are trusted;
        encrypted messages carry their file name inside the ciphertext and are not seen."""
        if event.sender in self.unlimited or not isinstance(event.content, Mapping):
            return NOT_SPAM
        for content in (event.content, event.content.get("m.new_content")):
            if not isinstance(content, Mapping) or content.get("msgtype") not in FILE_MSGTYPES:
                continue
            name = content.get("filename") or content.get("body")
            info = content.get("info")
            mimetype = info.get("mimetype") if isinstance(info, Mapping) else None
            self.check_name(name if isinstance(name, str) else None, mimetype if isinstance(mimetype, str) else None)
        return NOT_SPAM

    # -- content -----------------------------------------------------------------------
    async def check_media_file_for_spam(self, file_wrapper: Any, file_info: Any) -> Any:
        """Keep the file, or raise 403 ``M_FORBIDDEN``: a program (also an Android app, a Java or
        Python program inside a ZIP archive), an Office document with macros, a type not kept, a
        virus, or (with ``scan_unavailable: refuse``) a file clamd could not scan."""
        path = file_wrapper.path
        head, ole_root, archive = await self.api.defer_to_thread(_head, path)
        mime = self.rules.type_of(head, filetype.guess_mime(head), ole_root, archive)
        decision = self.rules.may_keep(mime)
        if not decision:
            logger.info("Parta refused a file of type %s (%s)", mime, decision.reason)
            raise UploadRefusal(403, Codes.FORBIDDEN, decision, self.language)
        if self.config.clamd is None or getattr(file_info, "thumbnail", None):
            return NOT_SPAM
        try:
            signature = await self.api.defer_to_thread(clamd.scan_file, self.config.clamd, path,
                                                       self.config.scan_timeout)
        except clamd.ScanUnavailable as e:
            if self.config.scan_unavailable == "accept":
                logger.warning("Parta kept a file clamd could not scan (scan_unavailable: accept): %s", e)
                return NOT_SPAM
            logger.warning("Parta refused a file clamd could not scan: %s", e)
            raise UploadRefusal(403, Codes.FORBIDDEN, SCAN_UNAVAILABLE, self.language) from e
        if signature is not None:
            logger.warning("Parta refused a file with a virus: %s", signature)
            raise UploadRefusal(403, Codes.FORBIDDEN, virus_found(signature), self.language)
        return NOT_SPAM

"""Who may download a file uploaded to the school's server: room-scoped media, Parta's rule.

Synapse 1.163 lets any signed-in user fetch any ``mxc://`` URI it serves (room-scoped media,
MSC3911, is not upstream; synapse#15572). Parta keeps files inside the rooms they were posted in:

- the uploader may always download their own upload (also one never posted anywhere);
- anyone else only while joined to at least one room the file was posted in (an invitation is
  not enough; leaving the class chat ends access; joining it later gives access, as its history
  does);
- the Parta bot may download everything (it moderates and exports for the school);
- an end-to-end encrypted attachment is ciphertext the server cannot link to a room (its URI
  travels inside the encrypted event): such an upload (``application/octet-stream``, the type
  clients give encrypted attachments, Client-Server API "Sending encrypted attachments") may be
  downloaded by anyone joined to an encrypted room together with its uploader. The bytes are
  useless without the key, which only the event's recipients hold. Only organizations that turn
  encryption on (``encryption_in_chats``) have such rooms;
- nobody without a local account (the legacy unauthenticated download path, other servers
  over federation): the module answers those as Synapse answers unknown media, 404.

A file counts as posted in a room when an event of the room carries its ``mxc://`` URI anywhere
in its content (``url``, ``info.thumbnail_url``, ``file.url``, an ``m.sticker``, an
``m.room.avatar``, an ``<img src="mxc://...">`` in ``formatted_body``, an edit's
``m.new_content``) and the sender may share it: the uploader, the bot, or someone who may
download it at that moment (a classmate forwarding the teacher's file into another chat). An
outsider who holds a URI and posts it in a room of their own gains nothing
(:func:`may_share`).

Pure: no Synapse, network or database. ``synapse_module.media_access`` reads the inputs (the
upload's owner, the rooms it was posted in, the requester's joined rooms) and applies this rule.
Source: Matrix Client-Server API v1.11+ "Content repository" (``mxc://<server-name>/<media-id>``,
media ids ``[A-Za-z0-9_-]``); MSC3911 (linking media to events) for the idea.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator, Mapping
from typing import Any

from .capabilities import ALLOW, Decision, deny
from .i18n import N_

#: ``mxc://<server-name>/<media-id>`` anywhere in a string (plain URIs, HTML attributes).
MXC = re.compile(r"mxc://([A-Za-z0-9.:\[\]-]+)/([A-Za-z0-9_-]+)")
#: The deepest nesting of event content scanned for URIs (content is at most 64 KiB; events nest
#: a few levels: ``m.new_content`` → ``file`` → ``url``).
MAX_DEPTH = 12

#: The type Matrix clients upload encrypted attachments with (the bytes are ciphertext).
OPAQUE_TYPE = "application/octet-stream"

#: The refusal of a download (one reason for every case, so that it tells nothing about where
#: the file was posted, or whether it was posted at all).
NOT_SHARED_WITH_YOU = deny("media_not_shared_with_you", N_(
    "This file is available only to members of the chats it was shared in"))
#: The refusal of a message that carries a file the sender may not download.
NOT_YOURS_TO_SHARE = deny("media_not_yours_to_share", N_(
    "You cannot share this file: it was not shared with you. Upload the file yourself"))


def _strings(value: Any, depth: int = 0) -> Iterator[str]:
    if depth > MAX_DEPTH:
        return
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for v in value.values():
            yield from _strings(v, depth + 1)
    elif isinstance(value, list | tuple):
        for v in value:
            yield from _strings(v, depth + 1)


def media_ids(content: Mapping[str, Any] | None, server_name: str) -> frozenset[str]:
    """Ids of this server's media (``mxc://server_name/<id>``) that ``content`` (an event's
    content, any shape) references anywhere: fields, HTML, edits, nested objects. Other servers'
    URIs are left out (remote media is not this rule's concern)."""
    # most events carry no URI: one C-level pass over the content's text (the repr keeps "mxc://"
    # as it is) saves the walk for them; the callbacks run for every event of every room
    if not content or "mxc://" not in repr(content):
        return frozenset()
    found: set[str] = set()
    for text in _strings(content):
        if "mxc://" not in text:
            continue
        found.update(media_id for server, media_id in MXC.findall(text) if server == server_name)
    return frozenset(found)


def may_download(user_id: str, *, uploader: str | None, posted_in: Collection[str], joined: Collection[str],
                 bot: str, encrypted_with_uploader: bool = False) -> Decision:
    """Whether ``user_id`` may download (or see a thumbnail of) a local file.

    ``uploader``: the upload's owner (None when Synapse did not record one, e.g. URL previews);
    ``posted_in``: room ids the file was posted in; ``joined``: room ids ``user_id`` is joined
    to now; ``encrypted_with_uploader``: the file is an opaque upload (:data:`OPAQUE_TYPE`) and
    ``user_id`` is joined to an end-to-end encrypted room together with its uploader. Allowed for
    the bot, the uploader, a member of a room the file was posted in, and in that encrypted case
    only while no room records the file: an encrypted attachment's URI travels inside ciphertext,
    so a file posted in clear anywhere (the staff room) is no encrypted attachment and follows the
    rooms it was posted in; otherwise :data:`NOT_SHARED_WITH_YOU`.
    """
    if user_id == bot or (uploader is not None and user_id == uploader) or (encrypted_with_uploader
                                                                            and not posted_in):
        return ALLOW
    if not posted_in:
        return NOT_SHARED_WITH_YOU
    small, large = (posted_in, joined) if len(posted_in) <= len(joined) else (joined, posted_in)
    if any(room in large for room in small):
        return ALLOW
    return NOT_SHARED_WITH_YOU


def may_share(sender: str, *, uploader: str | None, posted_in: Collection[str], joined: Collection[str],
              bot: str) -> Decision:
    """Whether an event sent by ``sender`` that carries a local file makes it visible to the room:
    only when the sender may download the file (:func:`may_download`), so that a URI someone
    merely holds cannot be laundered through a room of their own. Otherwise
    :data:`NOT_YOURS_TO_SHARE`."""
    d = may_download(sender, uploader=uploader, posted_in=posted_in, joined=joined, bot=bot)
    return ALLOW if d else NOT_YOURS_TO_SHARE

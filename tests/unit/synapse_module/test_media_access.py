"""synapse_module.media_access against the pinned Synapse: the wrapped method and its callers keep
their shape, and the wrap's decisions (fakes for the store and the table)."""

from __future__ import annotations

from types import SimpleNamespace
from unittest.mock import AsyncMock, Mock

import pytest
from synapse.api.errors import NotFoundError, SynapseError
from synapse.module_api import ModuleApi

from synapse_module import media_access
from synapse_module.media_access import MediaAccess, check_target

BOT = "@parta:school.test"


class Refused(SynapseError):
    def __init__(self, decision):
        super().__init__(403, decision.message("en"), "M_FORBIDDEN")
        self.reason = decision.reason


def test_the_pinned_synapse_has_the_method_and_its_callers_call_it():
    check_target()


def test_a_synapse_whose_callers_bypass_the_method_is_refused(monkeypatch):
    monkeypatch.setattr(media_access, "CALLERS", (
        ("synapse.media.thumbnailer.ThumbnailProvider", "respond_local_thumbnail", "self.store.get_local_media("),))
    with pytest.raises(media_access.MediaTargetError, match="respond_local_thumbnail"):
        check_target()


def access(rooms: dict[str, set[str]], joined: dict[str, set[str]]) -> MediaAccess:
    api = Mock(spec=ModuleApi)
    api.server_name = "school.test"
    api.is_mine = lambda u: u.endswith(":school.test")
    api._store = SimpleNamespace(get_rooms_for_user=AsyncMock(side_effect=lambda u: frozenset(joined.get(u, ()))))
    m = MediaAccess(api, BOT, Refused)
    reads = []

    async def posted_in(media_id, fresh=False):
        reads.append(fresh)
        return frozenset(rooms.get(media_id, ()))
    m.posted_in = posted_in  # type: ignore[method-assign]
    m.reads = reads  # type: ignore[attr-defined]
    return m


def requester(user_id):
    return SimpleNamespace(user=SimpleNamespace(to_string=lambda: user_id))


async def test_a_member_downloads_and_others_are_refused_after_a_fresh_read():
    m = access({"M1": {"!class"}}, {"@mate:school.test": {"!class"}, "@b:school.test": {"!b"}})
    await m.check(requester("@mate:school.test"), "M1", "@t:school.test")
    await m.check(requester("@t:school.test"), "M1", "@t:school.test")
    await m.check(requester(BOT), "M1", "@t:school.test")
    m.reads.clear()
    with pytest.raises(Refused) as e:
        await m.check(requester("@b:school.test"), "M1", "@t:school.test")
    assert e.value.reason == "media_not_shared_with_you" and m.reads == [False, True]


async def test_no_local_user_is_answered_as_unknown_media():
    m = access({"M1": {"!class"}}, {})
    for who in (None, "other.server", requester("@x:other.test")):
        with pytest.raises(NotFoundError):
            await m.check(who, "M1", "@t:school.test")


async def test_the_wrap_answers_as_synapse_first_then_decides():
    m = access({"M1": {"!class"}}, {"@b:school.test": {"!b"}})
    original = AsyncMock(return_value=None)
    wrapped = m._wrap(original)
    request = SimpleNamespace(requester=requester("@b:school.test"))
    assert await wrapped(request, "unknown", 0) is None  # Synapse answered 404 itself
    original.return_value = SimpleNamespace(user_id="@t:school.test", media_type="text/plain")
    with pytest.raises(Refused):
        await wrapped(request, "M1", 0, bypass_quarantine=False)
    assert original.await_args.kwargs == {"bypass_quarantine": False}


async def test_an_opaque_upload_is_served_to_those_in_an_encrypted_room_with_its_uploader():
    m = access({}, {"@mate:school.test": {"!enc", "!plain"}, "@t:school.test": {"!enc", "!plain"},
                    "@b:school.test": {"!b"}, "@p:school.test": {"!plain"}})
    m.api.get_room_state = AsyncMock(side_effect=lambda room, _f: {("m.room.encryption", ""): object()}
                                     if room == "!enc" else {})
    await m.check(requester("@mate:school.test"), "E1", "@t:school.test", "application/octet-stream")
    for who, media_type in (("@b:school.test", "application/octet-stream"),   # no room with the uploader
                            ("@p:school.test", "application/octet-stream"),   # only an unencrypted one
                            ("@mate:school.test", "application/pdf")):        # not an encrypted attachment
        with pytest.raises(Refused):
            await m.check(requester(who), "E1", "@t:school.test", media_type)

"""policies.media_access: which files an event carries, who may download and who may share."""

from __future__ import annotations

from policies.media_access import NOT_SHARED_WITH_YOU, NOT_YOURS_TO_SHARE, may_download, may_share, media_ids

S = "school.test"
BOT = "@parta:school.test"


def test_every_place_a_client_puts_a_file_is_found():
    content = {
        "msgtype": "m.image", "body": "photo.png", "url": f"mxc://{S}/AAA",
        "info": {"thumbnail_url": f"mxc://{S}/BBB", "thumbnail_file": {"url": f"mxc://{S}/CCC"}},
        "file": {"url": f"mxc://{S}/DDD", "key": {"k": "x"}},
        "format": "org.matrix.custom.html",
        "formatted_body": f'<p>see <img src="mxc://{S}/EEE" alt="x"> and <img src=\'mxc://{S}/F_F-1\'></p>',
        "m.new_content": {"msgtype": "m.file", "url": f"mxc://{S}/GGG"},
        "m.relates_to": {"rel_type": "m.replace", "event_id": "$e"},
    }
    assert media_ids(content, S) == {"AAA", "BBB", "CCC", "DDD", "EEE", "F_F-1", "GGG"}


def test_other_servers_and_plain_text_without_uris_are_left_out():
    assert media_ids({"url": "mxc://other.test/AAA", "body": "mxc is a scheme"}, S) == frozenset()
    assert media_ids(None, S) == frozenset()
    assert media_ids({"avatar_url": f"mxc://{S}/Room1"}, S) == {"Room1"}  # m.room.avatar, m.sticker alike


def test_very_deep_content_is_not_followed_forever():
    deep: dict = {"url": f"mxc://{S}/TOP"}
    node = deep
    for _ in range(200):
        node["n"] = {}
        node = node["n"]
    node["url"] = f"mxc://{S}/DEEP"
    assert media_ids(deep, S) == {"TOP"}


def test_the_uploader_the_bot_and_members_of_a_posting_room_download():
    rooms = frozenset({"!class"})
    assert may_download("@t:s", uploader="@t:s", posted_in=frozenset(), joined=frozenset(), bot=BOT)
    assert may_download(BOT, uploader="@t:s", posted_in=frozenset(), joined=frozenset(), bot=BOT)
    assert may_download("@mate:s", uploader="@t:s", posted_in=rooms, joined=frozenset({"!space", "!class"}),
                        bot=BOT)


def test_everyone_else_is_refused_with_one_reason():
    rooms = frozenset({"!class"})
    for posted, joined in ((rooms, frozenset({"!other-class"})),    # another class, another school
                           (rooms, frozenset()),                     # left the class chat
                           (frozenset(), frozenset({"!class"}))):    # never posted anywhere
        d = may_download("@x:s", uploader="@t:s", posted_in=posted, joined=joined, bot=BOT)
        assert d == NOT_SHARED_WITH_YOU and d.reason == "media_not_shared_with_you"
        assert "chats" in d.message("en") and d.message("ru")
    assert not may_download("@x:s", uploader=None, posted_in=frozenset(), joined=frozenset(), bot=BOT)


def test_a_uri_one_merely_holds_cannot_be_shared():
    d = may_share("@b:s", uploader="@t:s", posted_in=frozenset({"!class"}), joined=frozenset({"!b-room"}), bot=BOT)
    assert d == NOT_YOURS_TO_SHARE and d.message("ru")
    assert may_share("@mate:s", uploader="@t:s", posted_in=frozenset({"!class"}), joined=frozenset({"!class"}),
                     bot=BOT)
    assert may_share("@t:s", uploader="@t:s", posted_in=frozenset(), joined=frozenset(), bot=BOT)


def test_an_encrypted_attachment_goes_to_those_in_an_encrypted_room_with_its_uploader():
    assert may_download("@mate:s", uploader="@t:s", posted_in=frozenset(), joined=frozenset(), bot=BOT,
                        encrypted_with_uploader=True)
    assert not may_download("@mate:s", uploader="@t:s", posted_in=frozenset(), joined=frozenset(), bot=BOT)

    # issue 11 attack F8: a file posted in clear (the staff room) is no encrypted attachment
    assert not may_download("@pupil:s", uploader="@t:s", posted_in=frozenset({"!staff:s"}),
                            joined=frozenset({"!e2e:s"}), bot=BOT, encrypted_with_uploader=True)
    assert may_download("@colleague:s", uploader="@t:s", posted_in=frozenset({"!staff:s"}),
                        joined=frozenset({"!staff:s"}), bot=BOT, encrypted_with_uploader=True)

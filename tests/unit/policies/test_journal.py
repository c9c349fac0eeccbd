"""The journal bridge's rules (policies): its rooms, its power, the diaries, the journal's link.

Pure: no Synapse, no network. The module's side (the bridge's exact user id) is in
``tests/unit/synapse_module/test_module.py``; the real homeserver in
``tests/integration/test_journal_rooms.py``.
"""

from __future__ import annotations

import pytest

from policies import org_settings
from policies.capabilities import RoomInfo, default_capabilities
from policies.model import Role
from policies.state_events import JOURNAL_WIDGET, WIDGET_TYPE, PartaEventTypes, journal_bridge_user_id
from policies.templates import RoomRef, default_templates, fill_journal_url

from .test_capabilities import CLASS, CLASS_TITLE, ORG, ORG_NAME, PEOPLE, member, person, uid

ON = {"journal_bridge": True}
SERVED = {"class_chat", "class_announcements", "diary", "teacher_journal", "journal_status"}


@pytest.fixture
def caps():
    return default_capabilities()


@pytest.fixture
def tpl():
    return default_templates()


def diary(members=()) -> RoomInfo:
    return RoomInfo(kind="diary", org=ORG, org_name=ORG_NAME, class_id=CLASS, class_title=CLASS_TITLE,
                    student="pupil-1", members=tuple(members))


def class_room(kind: str) -> RoomInfo:
    return RoomInfo(kind=kind, org=ORG, org_name=ORG_NAME, class_id=CLASS, class_title=CLASS_TITLE)


# ----------------------------------------------------------------------------- data
def test_the_bridge_serves_the_kinds_of_rooms_yaml(tpl):
    assert tpl.journal_bridge_kinds() == SERVED
    assert all(tpl.kinds[k].journal_bridge == 50 for k in SERVED)


def test_settings_defaults():
    d = org_settings.defaults()
    assert d["journal_bridge"] is False and d["journal_url"] is None and d["timezone"] == "Europe/Moscow"


def test_the_bridge_user_id_default():
    assert journal_bridge_user_id("school.test") == "@parta_journal:school.test"


# ----------------------------------------------------------------------------- power
@pytest.mark.parametrize("kind", sorted(SERVED))
def test_the_bridge_level_follows_the_setting(tpl, kind):
    assert tpl.journal_bridge_level(kind, ON) == 50
    assert tpl.journal_bridge_level(kind, {}) == 0
    assert tpl.journal_bridge_level(kind, {"journal_bridge": False}) == 0
    assert tpl.journal_bridge_level(kind, None) == 0


@pytest.mark.parametrize("kind", ["school_space", "announcements", "staff_room", "administration", "class_space",
                                  "class_parents"])
def test_no_power_where_the_bridge_does_not_serve(tpl, kind):
    assert tpl.journal_bridge_level(kind, ON) == 0


def test_level_50_posts_in_class_announcements_and_diaries(tpl):
    """The bridge's level reaches the rooms' events_default (posting); a person's 0 does not."""
    for kind in ("class_announcements", "diary", "journal_status"):
        pl = tpl.power_levels(RoomRef(ORG, kind, CLASS), {})
        assert pl["events_default"] == 50 <= tpl.journal_bridge_level(kind, ON), kind
        assert pl["events"]["m.reaction"] == 0  # reactions stay open, as in announcements


def test_a_diary_is_read_only_and_nobody_invites(tpl):
    pl = tpl.power_levels(RoomRef(ORG, "diary", person_id="p1"), {})
    assert pl["invite"] == 100 and pl["events_default"] == 50 and pl["users_default"] == 0
    assert pl["events"]["m.poll.start"] == 50 and pl["events"]["m.call"] == 100


# ----------------------------------------------------------------------------- rooms of an organization
def test_the_status_room_exists_only_with_the_bridge(tpl):
    kinds = lambda refs: [r.kind for r in refs]  # noqa: E731
    assert "journal_status" not in kinds(tpl.refs_for_org(ORG, [CLASS]))
    assert "journal_status" in kinds(tpl.refs_for_org(ORG, [CLASS], ON))
    # once made, it stays in order (the bridge taken out) after the setting goes off
    made = RoomRef(ORG, "journal_status").key
    assert "journal_status" in kinds(tpl.refs_for_org(ORG, [CLASS], {}, known={made}))
    assert "diary" not in kinds(tpl.refs_for_org(ORG, [CLASS], ON))


def test_diary_keys_and_no_alias(tpl):
    ref = RoomRef(ORG, "diary", CLASS, person_id="pupil-1")
    assert ref.key == "school-7/diary/pupil-1"  # the class is not in the key: a pupil moving keeps the diary
    with pytest.raises(ValueError, match="no alias"):
        tpl.alias_localpart(ref)


def test_diary_state(tpl):
    ref = RoomRef(ORG, "diary", CLASS, person_id="pupil-1")
    state = tpl.state(ref, room_ids={}, server_name="school.test", children=[], org_name=ORG_NAME,
                      class_title=CLASS_TITLE, language="ru", users={"@parta_journal:school.test": 50},
                      person_name="Иванов Иван", tag={"student": "pupil-1", "members": [uid("st"), uid("pa")]})
    assert state[("m.room.name", "")] == {"name": "Дневник: Иванов Иван"}
    assert state[("m.room.join_rules", "")] == {"join_rule": "invite"}
    assert state[("m.room.history_visibility", "")] == {"history_visibility": "shared"}
    assert not [k for k in state if k[0].startswith("m.space.")]  # in no space
    assert state[(PartaEventTypes.ROOM, "")]["members"] == [uid("st"), uid("pa")]
    assert state[("m.room.power_levels", "")]["users"] == {"@parta_journal:school.test": 50}
    en = tpl.texts(ref, org_name=ORG_NAME, class_title=CLASS_TITLE, language="en", person_name="Ivanov Ivan")
    assert en[0] == "Diary: Ivanov Ivan"
    info = RoomInfo.from_state(state[(PartaEventTypes.ROOM, "")])
    assert info.kind == "diary" and info.student == "pupil-1" and info.members == (uid("st"), uid("pa"))


# ----------------------------------------------------------------------------- joining a diary
def test_only_the_listed_family_joins_a_diary(caps):
    room = diary([uid("st"), uid("pa")])
    assert caps.may_join(PEOPLE["st"], room, is_invited=True)
    assert caps.may_join(PEOPLE["pa"], room, is_invited=False)
    for name in ("cm", "tch", "hr", "adm", "hd", "pa6", "st6", "unc"):
        for invited in (False, True):
            d = caps.may_join(PEOPLE[name], room, is_invited=invited)
            assert not d and d.reason == "diary_family_only", name
            assert "Дневник открыт только" in d.message("ru") and "diary" in d.message("en")
    d = caps.may_join(PEOPLE["out"], room, is_invited=True)
    assert not d and d.reason == "not_in_organization"


def test_only_the_teacher_joins_a_teachers_journal_room(caps):
    """Who has not handed in work is for the teacher alone: no pupil, parent or colleague joins."""
    room = RoomInfo(kind="teacher_journal", org=ORG, org_name=ORG_NAME, members=(uid("tch"),))
    assert caps.may_join(PEOPLE["tch"], room, is_invited=True)
    for name in ("st", "pa", "cm", "hr", "adm", "hd", "unc"):
        d = caps.may_join(PEOPLE[name], room, is_invited=True)
        assert not d and d.reason == "diary_family_only", name
        assert "журнала учителя" in d.message("ru") and "teacher's journal" in d.message("en")


def test_a_listed_member_who_left_the_school_does_not_join(caps):
    """The tag lists accounts; the registry must still say they are in the organization."""
    gone = person("gone")
    d = caps.may_join(gone, diary([gone.user_id]), is_invited=True)
    assert not d and d.reason == "not_in_organization"


def test_a_broken_member_list_admits_nobody(caps):
    info = RoomInfo.from_state({"kind": "diary", "org": ORG, "members": "@st:school.test"})
    assert info is not None and info.kind == "unknown"
    assert not caps.may_join(PEOPLE["st"], info, is_invited=True)


def test_people_cannot_post_in_a_diary(caps):
    room = diary([uid("st"), uid("pa")])
    for name in ("st", "pa", "adm", "hr"):
        d = caps.may_post(PEOPLE[name], room, "m.room.message", {})
        assert not d and d.reason == "announcements_read_only", name
    react = {"m.relates_to": {"rel_type": "m.annotation", "event_id": "$grade", "key": "👍"}}
    assert caps.may_post(PEOPLE["pa"], room, "m.reaction", {}, react)


def test_people_chats_keep_their_tag_shape():
    """Only diaries carry ``student`` and ``members``: other tags are as before."""
    assert set(RoomInfo(kind="chat", org=ORG, creator=uid("tch")).to_state()) == {
        "kind", "org", "class", "class_title", "org_name", "orgs", "creator"}
    assert diary([uid("st")]).to_state()["members"] == [uid("st")]


# ----------------------------------------------------------------------------- the bridge
@pytest.mark.parametrize("kind", sorted(SERVED))
def test_the_bridge_joins_served_rooms_when_invited_and_on(caps, kind):
    room = diary() if kind == "diary" else class_room(kind) if kind.startswith("class") else RoomInfo(
        kind=kind, org=ORG, org_name=ORG_NAME)
    assert caps.bridge_may_join(room, True, ON)
    d = caps.bridge_may_join(room, False, ON)
    assert not d and d.reason == "bridge_invite_only"
    d = caps.bridge_may_join(room, True, {})
    assert not d and d.reason == "journal_bridge_off" and ORG_NAME in d.message("ru")


@pytest.mark.parametrize("kind", ["school_space", "announcements", "staff_room", "administration", "class_space",
                                  "class_parents", "dm", "chat", "network", "archive", "unknown"])
def test_the_bridge_never_joins_other_rooms(caps, kind):
    d = caps.bridge_may_join(RoomInfo(kind=kind, org=ORG, class_id=CLASS), True, ON)
    assert not d and d.reason == "bridge_room_not_served"


def test_the_bridge_posts_messages_only(caps):
    for kind in ("class_chat", "class_announcements", "diary", "journal_status"):
        assert caps.bridge_may_send(RoomInfo(kind=kind, org=ORG), "m.room.message")  # notices, edits too
        for etype in ("m.reaction", "m.room.redaction", "m.poll.start", "m.call", "m.room.encrypted"):
            d = caps.bridge_may_send(RoomInfo(kind=kind, org=ORG), etype)
            assert not d and d.reason == "bridge_messages_only", (kind, etype)
    d = caps.bridge_may_send(RoomInfo(kind="announcements", org=ORG), "m.room.message")
    assert not d and d.reason == "bridge_room_not_served"


@pytest.mark.parametrize("action", ["invite", "create_room", "state"])
def test_the_bridge_refusals_say_why(caps, action):
    d = caps.bridge_refusal(action)
    assert not d and d.reason == f"bridge_no_{action}"
    assert d.message("ru") != d.message("en") and "журнал" in d.message("ru")


def test_the_bridge_is_an_outsider_to_every_other_rule(caps):
    """Without the module's exact-id branch the bridge is nobody: nothing to inherit."""
    bridge = person("parta_journal")
    d = caps.may_invite(bridge, PEOPLE["st"], class_room("class_chat"), [], {})
    assert not d
    assert not caps.may_join(bridge, class_room("class_chat"), is_invited=True)
    teacher_invites = caps.may_invite(PEOPLE["tch"], bridge, class_room("class_chat"), [], {})
    assert not teacher_invites and teacher_invites.reason == "not_in_organization"


# ----------------------------------------------------------------------------- the journal's link
def test_the_widget_in_class_rooms(tpl):
    settings = {"journal_url": "https://journal.example/{org}/class/{class}?t={class_title}"}
    for kind in ("class_chat", "class_parents", "class_announcements"):
        w = tpl.journal_widget(RoomRef(ORG, kind, "5a"), settings, "5А", "ru")
        assert w == {"type": "m.custom", "url": "https://journal.example/school-7/class/5a?t=5%D0%90",
                     "name": "Электронный журнал", "data": {}}
    assert tpl.journal_widget(RoomRef(ORG, "class_chat", "5a"), settings, "5А", "en")["name"] == "Electronic journal"
    for kind in ("class_space", "staff_room"):
        assert tpl.journal_widget(RoomRef(ORG, kind, "5a"), settings, "5А", "ru") is None
    assert tpl.journal_widget(RoomRef(ORG, "class_chat", "5a"), {}, "5А", "ru") is None


def test_the_widget_is_desired_state_and_removed_without_a_url(tpl):
    ref = RoomRef(ORG, "class_chat", "5a")
    kw = dict(room_ids={RoomRef(ORG, "class_space", "5a").key: "!s:x"}, server_name="x", children=[],
              org_name=ORG_NAME, class_title="5А", language="ru", users={})
    on = tpl.state(ref, **kw, settings={"journal_url": "https://j.example/{class}"})
    assert on[(WIDGET_TYPE, JOURNAL_WIDGET)]["url"] == "https://j.example/5a"
    off = tpl.state(ref, **kw, settings={})
    assert off[(WIDGET_TYPE, JOURNAL_WIDGET)] == {}  # Matrix: empty content removes a widget
    school = tpl.state(RoomRef(ORG, "school_space"), **{**kw, "class_title": None}, settings={
        "journal_url": "https://j.example/{class}"})
    assert (WIDGET_TYPE, JOURNAL_WIDGET) not in school


@pytest.mark.parametrize("template", ["https://j.example/{pupil}", "https://j.example/{0}", "https://j.example/{",
                                      "javascript:alert(1)//{class}", "ftp://j.example/{class}", "{class}",
                                      "https://j.example/{org.__class__}", "https:// j.example/{class}"])
def test_a_bad_url_template_gives_no_link(template):
    assert fill_journal_url(template, org=ORG, class_id="5a", class_title="5А") is None


def test_values_are_url_encoded():
    url = fill_journal_url("https://j.example/{class}", org=ORG, class_id="a/../../admin?x=1#", class_title="")
    assert url == "https://j.example/a%2F..%2F..%2Fadmin%3Fx%3D1%23"


def test_a_diary_member_must_be_in_the_tag_whatever_the_role():
    """A confirmed class teacher, the administrator: neither is a diary member by role."""
    caps = default_capabilities()
    hr = person("hr2", member(Role.TEACHER, confirmed=True, classes={CLASS}, homeroom={CLASS}))
    assert not caps.may_join(hr, diary([uid("st")]), True)

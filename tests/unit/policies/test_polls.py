"""policies.polls: reading polls of both flavours and counting answers as MSC3381 says."""

from __future__ import annotations

from policies.capabilities import Account, Membership, RoomInfo, default_capabilities
from policies.model import Role
from policies.polls import answers_only, is_poll_kind_undisclosed, parse_poll, selections, tally

UNSTABLE = {"type": "org.matrix.msc3381.poll.start", "event_id": "$p", "sender": "@t:s", "origin_server_ts": 100,
            "content": {"org.matrix.msc3381.poll.start": {
                "question": {"org.matrix.msc1767.text": "Экскурсия?"}, "kind": "org.matrix.msc3381.poll.undisclosed",
                "max_selections": 1, "answers": [{"id": "y", "org.matrix.msc1767.text": "Да"},
                                                 {"id": "n", "org.matrix.msc1767.text": "Нет"}]}}}
STABLE = {"type": "m.poll.start", "event_id": "$p", "sender": "@t:s", "origin_server_ts": 100,
          "content": {"m.poll": {"question": {"m.text": [{"body": "Экскурсия?"}]}, "kind": "m.poll.disclosed",
                                 "max_selections": 2, "answers": [{"m.id": "y", "m.text": [{"body": "Да"}]},
                                                                  {"m.id": "n", "m.text": [{"body": "Нет"}]}]}}}


def resp(sender: str, ts: int, *answers: str, stable: bool = False, poll: str = "$p") -> dict:
    rel = {"rel_type": "m.reference", "event_id": poll}
    if stable:
        return {"type": "m.poll.response", "sender": sender, "origin_server_ts": ts, "event_id": f"$r{ts}",
                "content": {"m.relates_to": rel, "m.selections": list(answers)}}
    return {"type": "org.matrix.msc3381.poll.response", "sender": sender, "origin_server_ts": ts,
            "event_id": f"$r{ts}", "content": {"m.relates_to": rel,
                                               "org.matrix.msc3381.poll.response": {"answers": list(answers)}}}


def end(sender: str, ts: int) -> dict:
    return {"type": "org.matrix.msc3381.poll.end", "sender": sender, "origin_server_ts": ts, "event_id": f"$e{ts}",
            "content": {"m.relates_to": {"rel_type": "m.reference", "event_id": "$p"}}}


def test_both_flavours_parse():
    u, s = parse_poll(UNSTABLE), parse_poll(STABLE)
    assert u is not None and s is not None
    assert u.question == s.question == "Экскурсия?"
    assert u.answers == s.answers == (("y", "Да"), ("n", "Нет"))
    assert u.undisclosed and not s.undisclosed
    assert (u.max_selections, s.max_selections) == (1, 2)
    assert parse_poll({"type": "m.room.message", "content": {"body": "x"}}) is None
    assert is_poll_kind_undisclosed(UNSTABLE["content"]) and not is_poll_kind_undisclosed(STABLE["content"])


def test_the_latest_answer_counts_and_spoiled_votes_are_no_answer():
    poll = parse_poll(UNSTABLE)
    t = tally(poll, [resp("@a:s", 200, "y"), resp("@a:s", 300, "n"), resp("@b:s", 250, "y"),
                     resp("@b:s", 260, "zzz"), resp("@c:s", 270, "n", "y")])
    assert {u: a.selections for u, a in t.answers.items()} == {"@a:s": ("n",), "@c:s": ("n",)}
    assert t.votes == {"y": 0, "n": 2}


def test_answers_after_the_end_do_not_count_and_only_the_author_ends():
    poll = parse_poll(STABLE)
    related = [resp("@a:s", 200, "y", stable=True), end("@x:s", 250), resp("@b:s", 260, "n", stable=True),
               end("@t:s", 300), resp("@a:s", 310, "n", stable=True), resp("@c:s", 320, "y", stable=True)]
    t = tally(poll, related)
    assert t.ended_ts == 300
    assert {u: a.selections for u, a in t.answers.items()} == {"@a:s": ("y",), "@b:s": ("n",)}
    assert tally(poll, related, frozenset({"@x:s"})).ended_ts == 250


def test_selections_are_cut_to_max_and_to_the_polls_answers():
    poll = parse_poll(STABLE)
    assert selections(poll, {"m.selections": ["n", "bogus", "y", "n"]}) == ("n", "y")
    assert selections(parse_poll(UNSTABLE), {"org.matrix.msc3381.poll.response": {"answers": ["n", "y"]}}) == ("n",)
    assert selections(poll, {"m.selections": "y"}) == ()


def test_answers_to_another_poll_are_ignored():
    poll = parse_poll(UNSTABLE)
    assert tally(poll, [resp("@a:s", 200, "y", poll="$other")]).answers == {}


def test_an_answer_in_a_read_only_room_names_only_the_polls_answers():
    """Issue 11's F6: answer ids are no way to write text (checked against the poll the answer refers to)."""
    poll = parse_poll(UNSTABLE)
    assert answers_only({"org.matrix.msc3381.poll.response": {"answers": ["y"]}}, poll)
    assert answers_only({"m.selections": ["n", "y"]}, poll) and answers_only({"m.selections": []}, poll)
    assert answers_only({"m.relates_to": {}}, None)  # nothing named
    assert not answers_only({"m.selections": ["Пишите мне в Telegram"]}, poll)
    assert not answers_only({"org.matrix.msc3381.poll.response": {"answers": ["y", "пишите"]}}, poll)
    assert not answers_only({"m.selections": ["y", "y", "y"]}, poll)  # more than the poll has
    assert not answers_only({"m.selections": "y"}, poll) and not answers_only({"m.selections": [1]}, poll)
    assert not answers_only({"org.matrix.msc3381.poll.response": "текст"}, poll)
    assert not answers_only({"m.selections": ["y"]}, None)  # no readable poll: nothing to name


def test_may_post_refuses_text_riding_on_a_poll_answer():
    caps = default_capabilities()
    room = RoomInfo(kind="class_materials", org="org", class_id="c5a")
    parent = Account("@pa:s", {"org": Membership("org", Role.PARENT, classes=frozenset({"c5a"}))})
    teacher = Account("@t:s", {"org": Membership("org", Role.TEACHER, confirmed=True, classes=frozenset({"c5a"}),
                                                 homeroom=frozenset({"c5a"}))})
    poll = parse_poll(UNSTABLE)
    rel = {"rel_type": "m.reference", "event_id": "$p"}
    t = "org.matrix.msc3381.poll.response"
    assert caps.may_post(parent, room, t, {}, {"m.relates_to": rel, t: {"answers": ["y"]}}, poll)
    d = caps.may_post(parent, room, t, {}, {"m.relates_to": rel, t: {"answers": ["y", "пишите"]}}, poll)
    assert not d and d.reason == "poll_answer_not_in_poll"
    for content in ({"m.relates_to": rel, t: {"answers": ["y"], "body": "пишите"}},
                    {"m.relates_to": {**rel, "key": "пишите"}, t: {"answers": ["y"]}},
                    {"m.relates_to": rel, t: "пишите"}):
        d = caps.may_post(parent, room, t, {}, content, poll)
        assert not d and d.reason == "announcements_read_only", content
    # those who post here may write anything anyway
    assert caps.may_post(teacher, room, t, {}, {"m.relates_to": rel, t: {"answers": ["y", "пишите"]}}, poll)

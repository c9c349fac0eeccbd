"""synapse_module.secret_ballots against the pinned Synapse: the filter every client path ends in, and
the push evaluator's visibility check, are imported by exactly the known modules; the wraps drop only
what the decision names; the decision fails closed."""

from __future__ import annotations

from dataclasses import dataclass, field

from policies.capabilities import Account, Membership, RoomInfo, default_capabilities
from policies.model import Role

from synapse_module import secret_ballots


def test_the_pinned_synapse_imports_the_filter_where_parta_rebinds_it():
    secret_ballots.check_importers()


@dataclass
class Ev:
    event_id: str
    type: str
    sender: str
    room_id: str = "!r"
    content: dict = field(default_factory=dict)


@dataclass
class Filtered:
    event: Ev
    membership: str | None = "join"


async def test_the_wrap_keeps_everything_but_the_hidden_answers():
    events = [Ev("$m", "m.room.message", "@t"), Ev("$own", "m.poll.response", "@me"),
              Ev("$other", "org.matrix.msc3381.poll.response", "@x"), Ev("$r", "m.reaction", "@x")]
    asked = []

    async def original(storage, user_id, events, is_peeking=False, always_include_ids=frozenset(),
                       filter_send_to_client=True):
        return [Filtered(e) for e in events]

    async def hidden(user_id, evs):
        asked.append([e.event_id for e in evs])
        return {"$other"}

    wrapped = secret_ballots.wrap(original, hidden)
    got = await wrapped(None, "@me", events)
    assert [f.event.event_id for f in got] == ["$m", "$own", "$r"]
    assert asked == [["$other"]]  # only others' answers are asked about
    # state checks (not sent to a client) are left alone; no answers: no decision at all
    assert len(await wrapped(None, "@me", events, filter_send_to_client=False)) == 4
    assert len(await wrapped(None, "@me", events[:1])) == 1 and len(asked) == 1


async def test_a_failing_decision_hides_the_answers():
    async def original(storage, user_id, events, filter_send_to_client=True):
        return [Filtered(e) for e in events]

    async def hidden(user_id, evs):
        raise RuntimeError("store down")

    got = await secret_ballots.wrap(original, hidden)(None, "@me", [Ev("$a", "m.poll.response", "@x"),
                                                                    Ev("$m", "m.room.message", "@x")])
    assert [f.event.event_id for f in got] == ["$m"]


# --- the decision: fails closed (issue 11's F10) -----------------------------------------------

class Meta:
    def __init__(self, redacted: bool):
        self.redacted = redacted

    def is_redacted(self) -> bool:
        return self.redacted


@dataclass
class Start:
    event_id: str
    type: str = "org.matrix.msc3381.poll.start"
    sender: str = "@teacher"
    room_id: str = "!r"
    content: dict = field(default_factory=dict)
    redacted: bool = False

    @property
    def internal_metadata(self) -> Meta:
        return Meta(self.redacted)


def _kind(kind: str) -> dict:
    return {"org.matrix.msc3381.poll.start": {"kind": f"org.matrix.msc3381.poll.{kind}", "answers": []}}


class Store:
    def __init__(self, *events: Start):
        self.events = {e.event_id: e for e in events}

    async def get_event(self, event_id, allow_none=False):
        return self.events.get(event_id)


class Look:
    def __init__(self, roles: dict[str, Role]):
        self.roles = roles

    async def person(self, user_id):
        role = self.roles.get(user_id)
        return Account(user_id, {"org": Membership("org", role, confirmed=True)} if role else {})

    async def room(self, room_id):
        return RoomInfo(kind="class_materials", org="org", class_id="c")


def ballots(*events: Start) -> secret_ballots.SecretBallots:
    b = secret_ballots.SecretBallots(object(), Look({"@pupil": Role.STUDENT, "@staff": Role.TEACHER}),
                                     default_capabilities(), "@bot")
    b.store = Store(Start("$open", content=_kind("disclosed")), Start("$secret", content=_kind("undisclosed")),
                    Start("$gone", redacted=True), Start("$msg", type="m.room.message"),
                    Start("$elsewhere", room_id="!other", content=_kind("disclosed")),
                    Start("$pupils", sender="@pupil", redacted=True), *events)
    return b


def answer(poll: str | None, eid: str = "$a", sender: str = "@parent") -> Ev:
    content = {"m.relates_to": {"rel_type": "m.reference", "event_id": poll}} if poll else {}
    return Ev(eid, "m.poll.response", sender, content=content)


async def test_answers_are_shown_only_for_a_readable_unredacted_disclosed_poll():
    b = ballots()
    cases = {"$open": False, "$secret": True, "$gone": True, "$msg": True, "$elsewhere": True, "$nosuch": True,
             None: True}
    for poll, hidden in cases.items():
        assert bool(await b.hidden("@pupil", [answer(poll)])) is hidden, poll
        assert not await b.hidden("@staff", [answer(poll)]), poll  # see_secret_answers
        assert bool(await b.withheld(answer(poll), ["@pupil", "@staff"])) is hidden, poll
    # the author of a redacted poll still sees its answers; one's own answer is never withheld
    assert not await b.hidden("@pupil", [answer("$pupils")])
    assert await b.withheld(answer("$secret"), ["@parent", "@pupil", "@staff", "@teacher", "@bot"]) == {"@pupil"}


async def test_the_push_wrap_withholds_secret_answers_from_those_it_names():
    async def original(store, user_ids, event, context, is_peeking=False, filter_send_to_client=True):
        return set(user_ids) - {"@left"}

    async def withheld(event, user_ids):
        assert "@parent" not in user_ids  # the sender is never asked about
        return {"@pupil"}

    wrapped = secret_ballots.wrap_push(original, withheld)
    users = ["@pupil", "@staff", "@left"]
    assert set(await wrapped(None, users, answer("$secret"), None)) == {"@staff"}
    assert set(await wrapped(None, users, Ev("$m", "m.room.message", "@parent"), None)) == {"@pupil", "@staff"}

    async def failing(event, user_ids):
        raise RuntimeError("store down")

    assert list(await secret_ballots.wrap_push(original, failing)(None, ["@pupil"], answer("$x"), None)) == []

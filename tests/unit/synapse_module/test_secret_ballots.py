"""synapse_module.secret_ballots against the pinned Synapse: the filter every client path ends in is
imported by exactly the known modules, and the wrap drops only what the decision names."""

from __future__ import annotations

from dataclasses import dataclass, field

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

"""Polls (MSC3381): reading a poll and counting its answers, as Matrix clients count them.

Pure: events in, results out (no Synapse, no network). The provisioning service feeds it the
poll's start event and the events that refer to it (``spaces_provisioner/ops/polls.py``).

Both the unstable event types Element sends (``org.matrix.msc3381.poll.start``/``.response``/
``.end``) and the stable ones (``m.poll.*``) are read. The counting rules are MSC3381's:

- only a person's latest response counts (by ``origin_server_ts``, the event id breaking ties);
- a response's selections are cut to the poll's ``max_selections`` after dropping ids that are
  not the poll's answers; none left: a spoiled vote, which counts as no answer;
- responses sent after the poll ended (the first end event by the poll's author) do not count;
- a redacted response is no response (Synapse drops a redacted event's relation, so it never
  reaches here); an earlier response the person did not redact still counts.

Sources: MSC3381 "Polls (mk II)" (matrix-org/matrix-spec-proposals), MSC1767 text
(``org.matrix.msc1767.text``, ``m.text``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

POLL_START_TYPES = ("m.poll.start", "org.matrix.msc3381.poll.start")
POLL_RESPONSE_TYPES = ("m.poll.response", "org.matrix.msc3381.poll.response")
POLL_END_TYPES = ("m.poll.end", "org.matrix.msc3381.poll.end")
#: Poll kinds: the answers are shown as they come, or only once the poll has ended.
DISCLOSED = ("m.poll.disclosed", "org.matrix.msc3381.poll.disclosed")
UNDISCLOSED = ("m.poll.undisclosed", "org.matrix.msc3381.poll.undisclosed")


def _text(value: object) -> str:
    """The plain text of an MSC1767 text block (``{"org.matrix.msc1767.text": ...}``, ``{"m.text": ...}``,
    or a list of ``{"body", "mimetype"}``); ``""`` when none."""
    if isinstance(value, str):
        return value
    if not isinstance(value, Mapping):
        return ""
    for key in ("org.matrix.msc1767.text", "m.text", "body"):
        v = value.get(key)
        if isinstance(v, str):
            return v
        if isinstance(v, list):
            for part in v:
                if isinstance(part, Mapping) and isinstance(part.get("body"), str) \
                        and part.get("mimetype", "text/plain") == "text/plain":
                    return str(part["body"])
    return ""


@dataclass(frozen=True)
class Poll:
    """A poll's start event: ``answers`` are ``(id, text)`` in the poll's order; ``undisclosed``:
    the poll shows its results only once it has ended (a secret ballot for Parta's pupils)."""

    event_id: str
    sender: str
    question: str
    answers: tuple[tuple[str, str], ...]
    max_selections: int
    undisclosed: bool
    ts: int

    @property
    def answer_ids(self) -> frozenset[str]:
        """The ids of the poll's answers."""
        return frozenset(a for a, _ in self.answers)


def parse_poll(event: Mapping) -> Poll | None:
    """The poll of a start event (a client-format event: ``type``, ``content``, ``sender``,
    ``event_id``, ``origin_server_ts``); None when the event is not a poll start."""
    etype = event.get("type")
    content = event.get("content") or {}
    if etype not in POLL_START_TYPES or not isinstance(content, Mapping):
        return None
    body = content.get("m.poll") or content.get("org.matrix.msc3381.poll.start") or content.get("m.poll.start")
    if not isinstance(body, Mapping):
        return None
    answers = []
    for a in body.get("answers") or []:
        if isinstance(a, Mapping) and isinstance(a.get("id") or a.get("m.id"), str):
            answers.append((str(a.get("id") or a.get("m.id")), _text(a)))
    try:
        max_sel = max(1, int(body.get("max_selections") or 1))
    except (TypeError, ValueError):
        max_sel = 1
    return Poll(event_id=str(event.get("event_id") or ""), sender=str(event.get("sender") or ""),
                question=_text(body.get("question")), answers=tuple(answers), max_selections=max_sel,
                undisclosed=body.get("kind") in UNDISCLOSED, ts=int(event.get("origin_server_ts") or 0))


def is_poll_kind_undisclosed(content: Mapping | None) -> bool:
    """Whether a poll start's content asks for an undisclosed poll (results only once it ended)."""
    content = content or {}
    body = content.get("m.poll") or content.get("org.matrix.msc3381.poll.start") or content.get("m.poll.start")
    return isinstance(body, Mapping) and body.get("kind") in UNDISCLOSED


#: The key of the response object of an unstable poll answer (``{"answers": [ids]}``).
RESPONSE_KEY = "org.matrix.msc3381.poll.response"


def answers_only(content: Mapping, poll: Poll | None) -> bool:
    """Whether a poll response's answers are nothing but answer ids of ``poll`` (None: the referenced
    event is no readable poll, which has no answer ids): ``m.selections`` (stable) and the response
    object's ``answers`` (unstable), wherever present, are lists of at most as many strings as the
    poll has answers, each one of the poll's ids. An empty list (a spoiled vote, MSC3381) passes; a
    response object that is not an object does not. Read-only rooms use it so that an answer id is
    not a way to write text there (the other keys are ``open_event_keys``' and
    ``open_event_inner_keys``')."""
    ids = poll.answer_ids if poll is not None else frozenset()
    lists = []
    if "m.selections" in content:
        lists.append(content["m.selections"])
    if RESPONSE_KEY in content:
        body = content[RESPONSE_KEY]
        if not isinstance(body, Mapping):
            return False
        if "answers" in body:
            lists.append(body["answers"])
    return all(isinstance(chosen, list) and len(chosen) <= len(ids)
               and all(isinstance(a, str) and a in ids for a in chosen) for chosen in lists)


def selections(poll: Poll, content: Mapping) -> tuple[str, ...]:
    """The valid selections of a response's content, cut to ``max_selections`` (empty: spoiled)."""
    body = content.get("org.matrix.msc3381.poll.response") or content.get("m.poll.response")
    raw = content.get("m.selections")
    if raw is None and isinstance(body, Mapping):
        raw = body.get("answers")
    if not isinstance(raw, list):
        return ()
    out: list[str] = []
    for a in raw:
        if isinstance(a, str) and a in poll.answer_ids and a not in out:
            out.append(a)
    return tuple(out[: poll.max_selections])


@dataclass(frozen=True)
class Answer:
    """A person's counted answer: the answer ids and when it was sent (ms since the epoch)."""

    selections: tuple[str, ...]
    ts: int
    event_id: str


@dataclass(frozen=True)
class Tally:
    """What a poll's related events say: ``answers`` by user id (the latest valid one each), the
    end (``ended_ts`` None while open) and the votes per answer id."""

    poll: Poll
    answers: Mapping[str, Answer]
    ended_ts: int | None
    votes: Mapping[str, int]


def _key(event: Mapping) -> tuple[int, str]:
    return int(event.get("origin_server_ts") or 0), str(event.get("event_id") or "")


def tally(poll: Poll, related: Iterable[Mapping], may_end: frozenset[str] = frozenset()) -> Tally:
    """Count ``related`` (the events referring to the poll: responses and ends, any order).

    ``may_end``: user ids besides the poll's author whose end event closes the poll (those with
    power to redact, as MSC3381 allows); other end events are ignored."""
    events = sorted((e for e in related if isinstance(e, Mapping)), key=_key)
    ended: int | None = None
    for e in events:
        if e.get("type") in POLL_END_TYPES and (e.get("sender") == poll.sender or e.get("sender") in may_end):
            ended = _key(e)[0]
            break
    latest: dict[str, Mapping] = {}
    for e in events:
        if e.get("type") not in POLL_RESPONSE_TYPES:
            continue
        relates = (e.get("content") or {}).get("m.relates_to") or {}
        if not isinstance(relates, Mapping) or relates.get("event_id") != poll.event_id:
            continue
        if ended is not None and _key(e)[0] > ended:
            continue
        latest[str(e.get("sender"))] = e
    answers: dict[str, Answer] = {}
    for user, e in latest.items():
        chosen = selections(poll, e.get("content") or {})
        if chosen:
            answers[user] = Answer(chosen, _key(e)[0], str(e.get("event_id") or ""))
    votes = {a: 0 for a, _ in poll.answers}
    for ans in answers.values():
        for a in ans.selections:
            votes[a] += 1
    return Tally(poll=poll, answers=answers, ended_ts=ended, votes=votes)

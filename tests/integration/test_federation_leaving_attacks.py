"""Federation attack found by the console/federation review (attacker's notes, /tmp/parta-notes/attacker.md):
a teacher their school removed stays in a partner server's cross-school network room.

Two real Parta installations A and B, each the other's partner (tests/integration/federation_world.py).
A's teacher invites B's confirmed teacher into A's network room (the legitimate request). Then B's
school removes its teacher; A cannot know (A trusts B to vouch for B's staff:
``policies.federation.may_take_part_in_partner_room`` is checked only when joining). Closed on B's
side: B's reconciler makes a person no longer confirmed staff leave (and forget) every network room,
its own or a partner's (``policies.federation.may_stay_in_network_room``), so A sees the leave.
"""

from __future__ import annotations

import itertools

import pytest

from ..helpers import eventually, q
from .federation_world import federated_servers
from .test_federation import invite, join, members, messages, network_room, ok, partner_pair

pytestmark = pytest.mark.synapse
V = "/_matrix/client/v3"
_n = itertools.count(1)


@pytest.fixture(scope="module")
def two_servers(tmp_path_factory):
    with federated_servers(tmp_path_factory.mktemp("federation-leaving")) as running:
        yield running


@pytest.fixture(scope="module")
async def fed2(two_servers, tmp_path_factory):
    async with partner_pair(two_servers, tmp_path_factory, "roster-leaving") as fed:
        yield fed


async def _partner_teacher_in(fed) -> str:
    """A new network room of A with B's teacher joined; returns its id."""
    room = await network_room(fed.a)
    ok(await invite(fed.a.teacher, room, fed.b.teacher.user_id))
    ok(await join(fed.b.teacher, room, via=fed.a.hs.server_name))
    return room


async def test_a_partners_teacher_reads_the_network_room(fed2):
    """Legitimate: B's confirmed teacher in A's network room reads what A's teacher writes."""
    room = await _partner_teacher_in(fed2)
    text = f"Олимпиада: задания {next(_n)}"
    await fed2.a.teacher.send_text(room, text)

    async def seen() -> bool:
        return text in await messages(fed2.b.teacher, room)

    assert await eventually(seen, timeout=60)


async def test_a_teacher_removed_by_the_partner_school_leaves_the_partners_network_room(fed2):
    """Attack: B's school removes its teacher (the provisioning API's DELETE, as the console's remove);
    the former teacher's account (suspended on B, which still lets it read) stays in A's network room.
    Rule that closes it: when a person stops being confirmed staff, their own server makes them leave
    every network room they are in, local or a partner's (the bot, a server admin, through Synapse's
    Admin API on their behalf), so the partner sees the leave; the refusal is then 403 on /messages."""
    room = await _partner_teacher_in(fed2)
    await fed2.b.hs.api.call("DELETE", f"/organizations/{fed2.b.org}/people/{q(fed2.b.teacher.user_id)}")

    async def gone() -> bool:
        return fed2.b.teacher.user_id not in await members(fed2.a.teacher, room)

    assert await eventually(gone, timeout=45), "B's former teacher is still a member of A's network room"

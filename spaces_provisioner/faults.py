"""Named points where a test may kill the service, to prove that every operation resumes.

``PARTA_TEST_CRASH_AT=<point>[:<n>]`` in the provisioning service's environment makes the process
kill itself with SIGKILL (no clean-up, as a power cut or the OOM killer would) the ``n``-th time
(default the first) it passes ``<point>``. Unset — always, outside the tests — a point costs one
dictionary look-up. The points (``tests/integration/test_resume.py`` kills at each):

- ``roster.applied``: a roster's records are committed, its rooms not yet reconciled;
- ``reconcile.room_created``: a room exists on the homeserver, its id not yet in the database;
- ``reconcile.joined``: a member was joined to a room (in the middle of a placement);
- ``accounts.created``: an account exists on the homeserver, the next ones not yet;
- ``rollover.archived``: one class room is archived, the others not yet.
"""

from __future__ import annotations

import os
import signal

_passed: dict[str, int] = {}


def crash_point(name: str) -> None:
    """Kill this process here when ``PARTA_TEST_CRASH_AT`` names ``name`` (see the module doc)."""
    wanted = os.environ.get("PARTA_TEST_CRASH_AT")
    if not wanted:
        return
    point, _, nth = wanted.partition(":")
    if point != name:
        return
    _passed[name] = _passed.get(name, 0) + 1
    if _passed[name] >= int(nth or 1):
        os.kill(os.getpid(), signal.SIGKILL)

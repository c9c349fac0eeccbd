"""The quiet-hours wraps fit the pinned Synapse, and their decision drops only held-back users."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace
from unittest import mock

from synapse_module import quiet_hours


def test_targets_match_the_pinned_synapse():
    quiet_hours.check_target()  # raises QuietTargetError when Synapse's shapes change


async def test_filter_drops_only_the_quiet_users():
    q = quiet_hours.QuietHours(mock.Mock(), mock.Mock(), mock.Mock(), "@bot:s", "ru",
                               now=lambda: dt.datetime.now(dt.UTC))
    event = SimpleNamespace(event_id="$e")
    q._creating["$e"] = event
    hours = mock.Mock()
    start = dt.datetime(2026, 12, 7, 17, tzinfo=dt.UTC)

    async def quiet_for(ev, recipients):
        assert ev is event and sorted(recipients) == ["@a:s", "@t:s"]
        return [("@t:s", start, hours)]
    q.quiet_for = quiet_for  # type: ignore[method-assign]
    actions = {"@t:s": ["notify"], "@a:s": ["notify"], "@u:s": []}
    assert await q.filter("$e", actions, False) == {"@a:s": ["notify"], "@u:s": []}
    assert await q.filter("$e", actions, True) == {"@t:s": [], "@a:s": ["notify"], "@u:s": []}
    assert q._pending["$e"] == [("@t:s", start, hours)]
    # an event the wrap did not see is left alone
    assert await q.filter("$other", actions, False) == actions

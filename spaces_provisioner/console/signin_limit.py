"""The console's own limit on failed sign-ins, per client address.

Every console sign-in reaches the homeserver from the provisioning service, so Synapse's per-address
login limit (``rc_login.address``) sees one address for the whole school unless its listener trusts
``X-Forwarded-For`` (``parta init --behind-proxy``). The console therefore counts failed sign-ins
(wrong password, unknown token) by the browser's address itself and refuses that address for a while
after :data:`BURST` failures within :data:`WINDOW` seconds; other addresses are unaffected. It also
passes the browser's address on to the homeserver (:func:`spaces_provisioner.homeserver.user.sign_in`).

Source: Synapse docs, config_documentation.md ``rc_login`` (burst 5 per address); OWASP Authentication
Cheat Sheet (throttle failed logins without locking the account out for everyone).
"""

from __future__ import annotations

import time
from collections import OrderedDict

#: Failed sign-ins an address may make within WINDOW seconds (Synapse's own rc_login.address burst)
BURST = 5
#: Seconds a failure counts against its address
WINDOW = 300.0
#: Addresses remembered at most (the least recently failing go first: memory stays bounded)
MAX_ADDRESSES = 100000


class FailedSignIns:
    """Failure times (``time.monotonic()`` seconds) per client address (text: an IPv4/IPv6 address)."""

    def __init__(self, burst: int = BURST, window: float = WINDOW, max_addresses: int = MAX_ADDRESSES):
        self.burst, self.window, self.max_addresses = burst, window, max_addresses
        self._failures: OrderedDict[str, list[float]] = OrderedDict()

    def _recent(self, address: str, now: float) -> list[float]:
        times = [t for t in self._failures.get(address, []) if now - t < self.window]
        if times:
            self._failures[address] = times
        else:
            self._failures.pop(address, None)
        return times

    def retry_after(self, address: str) -> float:
        """Seconds until ``address`` may try again (0.0: it may now)."""
        now = time.monotonic()
        times = self._recent(address, now)
        if len(times) < self.burst:
            return 0.0
        return max(0.0, times[-self.burst] + self.window - now)

    def failed(self, address: str) -> None:
        """Count one failed sign-in from ``address``."""
        now = time.monotonic()
        times = self._recent(address, now)
        times.append(now)
        self._failures[address] = times
        self._failures.move_to_end(address)
        while len(self._failures) > self.max_addresses:
            self._failures.popitem(last=False)

"""Where a request comes from, for the audit log: ``X-Forwarded-For`` counts only behind a reverse proxy
(``parta init --behind-proxy``), and then only the entry the proxy itself appended (the last)."""

from __future__ import annotations

from aiohttp.test_utils import make_mocked_request

from spaces_provisioner.api.moderation import client_address


def _request(forwarded: str | None):
    headers = {"X-Forwarded-For": forwarded} if forwarded is not None else {}
    return make_mocked_request("GET", "/api/v1/organizations/x/audit", headers=headers)


def test_without_a_proxy_the_peer_counts():
    request = _request("203.0.113.77")
    assert client_address(request, trust_forwarded=False) == request.remote


def test_behind_a_proxy_the_last_entry_counts_not_what_the_client_wrote():
    assert client_address(_request("198.51.100.1, 203.0.113.9"), trust_forwarded=True) == "203.0.113.9"
    assert client_address(_request("203.0.113.9"), trust_forwarded=True) == "203.0.113.9"
    request = _request(None)
    assert client_address(request, trust_forwarded=True) == request.remote

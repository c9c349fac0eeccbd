"""Shared fixtures of the sources' tests: one HTTP client per test (the adapters' only way out)."""

from __future__ import annotations

import pytest

from bridge.sources.http import HttpClient


@pytest.fixture
async def http():
    """An :class:`HttpClient` with a 5-second timeout (the stubs answer at once), closed afterwards."""
    client = HttpClient(timeout=5)
    yield client
    await client.close()

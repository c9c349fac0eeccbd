"""The roster readers' tests read English messages unless a test says otherwise."""

from __future__ import annotations

import pytest

from policies.i18n import set_language


@pytest.fixture(autouse=True)
def english(monkeypatch):
    """``PARTA_LANG`` unset and English chosen for each test; no language chosen after."""
    monkeypatch.delenv("PARTA_LANG", raising=False)
    set_language("en")
    yield
    set_language(None)

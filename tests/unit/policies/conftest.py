"""Every test of the pure rules starts in the default language (Russian), whatever the environment says."""

from __future__ import annotations

import pytest

from policies import i18n


@pytest.fixture(autouse=True)
def russian(monkeypatch):
    """``PARTA_LANG`` unset and no language chosen, before and after each test."""
    monkeypatch.delenv("PARTA_LANG", raising=False)
    i18n.set_language(None)
    yield
    i18n.set_language(None)

"""An organization's settings: the defaults (``policies/data/org_settings.yaml``) and lookups.

The defaults live in one file; an organization's application may override any of them in its
``settings`` mapping. Every reader (the capability matrix, links, the registration page, the
reconciler) asks :func:`effective` instead of keeping a default of its own.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

from ruamel.yaml import YAML

DEFAULTS_PATH = Path(__file__).parent / "data" / "org_settings.yaml"


@functools.cache
def defaults() -> Mapping[str, Any]:
    """The defaults as a read-only mapping (setting name → value), read once per process."""
    return MappingProxyType(dict(YAML(typ="safe").load(DEFAULTS_PATH.read_text(encoding="utf-8"))))


def effective(org_settings: Mapping[str, Any] | None) -> dict[str, Any]:
    """An organization's settings over the defaults (a new dict; unknown keys are kept)."""
    return {**defaults(), **(org_settings or {})}


def max_guardians(org_settings: Mapping[str, Any] | None) -> int:
    """How many parents may be linked to one student (``max_guardians_per_child``)."""
    return int(effective(org_settings)["max_guardians_per_child"])


def parent_email_grades(org_settings: Mapping[str, Any] | None) -> tuple[int, ...]:
    """Grades whose pupils register with a parent's e-mail code (``parent_email_grades``)."""
    return tuple(int(g) for g in effective(org_settings)["parent_email_grades"] or ())

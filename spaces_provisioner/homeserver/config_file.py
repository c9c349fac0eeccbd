"""Reading the homeserver's own configuration file (``homeserver.yaml``) as plain data."""

from __future__ import annotations

from pathlib import Path

from ruamel.yaml import YAML


def read_synapse_config(config_path: Path) -> dict:
    """The homeserver.yaml as plain data (for the shared secret, port and database)."""
    return YAML(typ="safe").load(config_path.read_text(encoding="utf-8"))

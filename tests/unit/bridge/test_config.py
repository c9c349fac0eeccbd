"""The bridge's config and registration, the mautrix way: ``python -m bridge -c CONFIG -g -r REG``
writes the commented config with new tokens and the registration; a config still holding the
shipped placeholders is refused with the fix; an older config gains the keys it lacks, keeping
its values."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from ruamel.yaml import YAML

from bridge.config import Config

BASE = "pkg://bridge/example-config.yaml"


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bridge", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=60)


def test_generate_registration_then_refuse_placeholders(tmp_path):
    import pkgutil

    config = tmp_path / "journal-bridge.yaml"
    config.write_bytes(pkgutil.get_data("bridge", "example-config.yaml") or b"")
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace("domain: example.org", "domain: school.test"), encoding="utf-8")
    r = run("-c", str(config), "-g", "-r", str(tmp_path / "reg.yaml"), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    reg = YAML(typ="safe").load((tmp_path / "reg.yaml").read_text(encoding="utf-8"))
    data = YAML(typ="safe").load(config.read_text(encoding="utf-8"))
    assert reg["as_token"] == data["appservice"]["as_token"] and len(reg["as_token"]) > 40
    assert reg["hs_token"] == data["appservice"]["hs_token"] != reg["as_token"]
    assert reg["sender_localpart"] == "parta_journal" and reg["rate_limited"] is False
    assert reg["namespaces"]["users"] == [{"exclusive": True, "regex": r"@parta_journal:school\.test"}]
    assert "# The journal sources" in config.read_text(encoding="utf-8")  # the comments stay
    assert (tmp_path / "reg.yaml").stat().st_mode & 0o077 == 0


def test_placeholder_tokens_are_refused_with_the_fix(tmp_path):
    import pkgutil

    config = tmp_path / "c.yaml"
    config.write_bytes(pkgutil.get_data("bridge", "example-config.yaml") or b"")
    r = run("-c", str(config), "-n", cwd=tmp_path)
    assert r.returncode == 11
    assert "generate the registration first" in (r.stdout + r.stderr)


def test_an_older_config_gains_new_keys_and_keeps_its_values(tmp_path):
    old = tmp_path / "old.yaml"
    old.write_text("homeserver: {address: 'http://hs:8008', domain: school.test}\n"
                   "journal: {poll_interval: 60}\n", encoding="utf-8")
    c = Config(str(old), BASE)
    c.load()
    c.update(save=True)
    data = YAML(typ="safe").load(old.read_text(encoding="utf-8"))
    assert data["homeserver"]["address"] == "http://hs:8008" and data["journal"]["poll_interval"] == 60
    assert data["journal"]["digest_hour"] == 18 and data["sources"] == []

"""What ``parta init`` writes for uploads (spaces_provisioner.install.uploads): Synapse's
``max_upload_size`` and the module's ``media`` section (clamd), kept by ``--force`` without ``--clamd``."""

from __future__ import annotations

import pytest
from ruamel.yaml import YAML

from spaces_provisioner.install.homeserver_config import InitError
from spaces_provisioner.install.uploads import configure_uploads, old_media_settings

BASE = """\
# Synapse's own comment stays
server_name: school.test
modules:
  - module: synapse_module.PartaModule
    config:
      bot_user_id: "@parta:school.test"
"""


def module_config(path) -> dict:
    data = YAML(typ="safe").load(path.read_text(encoding="utf-8"))
    return data, data["modules"][0]["config"]


def test_clamd_and_the_largest_upload_are_written(tmp_path):
    path = tmp_path / "homeserver.yaml"
    path.write_text(BASE)
    configure_uploads(path, clamd="unix:/run/clamav/clamd.ctl", scan_unavailable="accept")
    data, config = module_config(path)
    assert data["max_upload_size"] == "100M"
    assert config["media"] == {"clamd": "unix:/run/clamav/clamd.ctl", "scan_unavailable": "accept"}
    assert config["bot_user_id"] == "@parta:school.test"
    assert "# Synapse's own comment stays" in path.read_text()


def test_force_without_clamd_keeps_the_old_scanner(tmp_path):
    old, new = tmp_path / "homeserver.yaml.bak", tmp_path / "homeserver.yaml"
    old.write_text(BASE)
    configure_uploads(old, clamd="tcp:127.0.0.1:3310")
    new.write_text(BASE)
    configure_uploads(new, keep_from=old)
    assert module_config(new)[1]["media"] == old_media_settings(old) == {
        "clamd": "tcp:127.0.0.1:3310", "scan_unavailable": "refuse"}
    new.write_text(BASE)
    configure_uploads(new)  # a new installation without --clamd: no scanning
    assert "media" not in module_config(new)[1]


@pytest.mark.parametrize(("clamd", "unavailable", "needle"), [("clamd.sock", "refuse", "--clamd"),
                                                              ("unix:/x", "maybe", "--scan-unavailable")])
def test_bad_settings_are_refused(tmp_path, clamd, unavailable, needle):
    path = tmp_path / "homeserver.yaml"
    path.write_text(BASE)
    with pytest.raises(InitError, match=needle):
        configure_uploads(path, clamd=clamd, scan_unavailable=unavailable)


def test_force_keeps_a_media_section_without_a_scanner(tmp_path):
    """An installation that set only ``unrecognised: accept`` (its schools encrypt) keeps it across --force."""
    old, new = tmp_path / "homeserver.yaml.bak", tmp_path / "homeserver.yaml"
    old.write_text(BASE + "      media: {unrecognised: accept}\n")
    new.write_text(BASE)
    configure_uploads(new, keep_from=old)
    assert module_config(new)[1]["media"] == {"unrecognised": "accept"}

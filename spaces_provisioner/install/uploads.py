"""Uploads in ``homeserver.yaml``: Synapse's ``max_upload_size`` and the module's ``media`` settings.

``parta init`` sets ``max_upload_size`` to the largest file any role may upload
(``policies/data/media.yaml``; Synapse refuses anything larger before the module is asked, and
clients show the person's own limit from the module), and, with ``--clamd ADDRESS``, the module's
virus scanning (``synapse_module.media_upload``)::

    modules:
      - module: synapse_module.PartaModule
        config:
          media: {clamd: "unix:/run/clamav/clamd.ctl", scan_unavailable: refuse}

``scan_unavailable``: what happens to an upload while clamd is down or erring: ``refuse`` (default:
"scanning unavailable, try again later") or ``accept`` (kept unscanned, logged). ``parta init
--force`` without ``--clamd`` keeps the scanning settings the old configuration had.

clamd itself (Debian's ``clamav-daemon``) is the operator's: its ``StreamMaxLength`` must be at least
``max_upload_size`` (Debian's default is 25M), or larger files count as "scanning unavailable".
"""

from __future__ import annotations

from pathlib import Path

from ruamel.yaml import YAML

from policies.media import clamd_address, default_media_rules

from spaces_provisioner.install.homeserver_config import InitError

MODULE = "synapse_module.PartaModule"


def _yaml() -> YAML:
    y = YAML()  # round-trip: keeps Synapse's comments
    y.preserve_quotes = True
    y.width = 4096
    return y


def _module_config(data: dict) -> dict | None:
    for entry in data.get("modules") or []:
        if isinstance(entry, dict) and entry.get("module") == MODULE:
            config = entry.setdefault("config", {})
            return config if isinstance(config, dict) else None
    return None


def old_media_settings(old_config: Path) -> dict | None:
    """The module's ``media`` section in an earlier ``homeserver.yaml`` (None when it had none)."""
    if not old_config.exists():
        return None
    config = _module_config(YAML(typ="safe").load(old_config.read_text(encoding="utf-8")) or {})
    media = (config or {}).get("media")
    return dict(media) if isinstance(media, dict) else None


def configure_uploads(config_path: Path, *, clamd: str | None = None, scan_unavailable: str = "refuse",
                      keep_from: Path | None = None) -> None:
    """Write ``max_upload_size`` and (with ``clamd``, or kept from ``keep_from``, the old
    ``homeserver.yaml``) the module's ``media`` section into ``config_path``, in place.

    Raises InitError for a malformed clamd address or ``scan_unavailable`` value, or when the file
    configures no Parta module.
    """
    y = _yaml()
    data = y.load(config_path.read_text(encoding="utf-8"))
    largest = default_media_rules().largest_file()
    data["max_upload_size"] = f"{largest // 1024 ** 2}M" if largest % 1024 ** 2 == 0 else largest
    data.yaml_set_comment_before_after_key(
        "max_upload_size", before="Parta: the largest file any role may upload (policies/data/media.yaml); the "
        "module narrows it per role")
    module = _module_config(data)
    if module is None:
        raise InitError(f"{config_path}: no {MODULE} in modules")
    media = {"clamd": clamd, "scan_unavailable": scan_unavailable} if clamd else (
        old_media_settings(keep_from) if keep_from is not None else None)
    if media:
        if media.get("clamd"):  # a kept section may hold only other settings (unrecognised: accept)
            try:
                clamd_address(str(media["clamd"]))
            except ValueError as e:
                raise InitError(f"--clamd: {e}") from e
        if media.get("scan_unavailable", "refuse") not in ("refuse", "accept"):
            raise InitError("--scan-unavailable: use refuse or accept")
        module["media"] = media
    else:
        module.pop("media", None)
    with config_path.open("w", encoding="utf-8") as f:
        y.dump(data, f)

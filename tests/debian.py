"""Debian packages the integration tests need (coturn, clamav-daemon...), installed when missing.

A fresh CI machine has none of them, so a test that runs a real Debian program asks for it here:
``ensure_package("turnserver", "coturn")`` returns the binary's path, running ``apt-get install``
first when the binary is not on ``PATH`` (as root, or through ``sudo -n`` when that works), and
skips the test with the reason when the package cannot be installed. Nothing else is downloaded.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading

import pytest

_lock = threading.Lock()
_updated = False

#: The package's own services must not start when it is installed (tests start them themselves).
_ENV = {**os.environ, "DEBIAN_FRONTEND": "noninteractive", "RUNLEVEL": "1"}


def _apt(argv: list[str]) -> subprocess.CompletedProcess:
    prefix = [] if os.geteuid() == 0 else ["sudo", "-n"]
    # another test session (or engineer) may be installing at the same time: wait for dpkg's lock
    lock_wait = ["-o", "DPkg::Lock::Timeout=600"]
    return subprocess.run(prefix + ["apt-get", *lock_wait, *argv], env=_ENV, capture_output=True, text=True,
                          timeout=900)


def ensure_package(binary: str, package: str) -> str:
    """The path of ``binary``; installs Debian's ``package`` with apt-get when it is missing.

    Skips the calling test (``pytest.skip``) when apt-get cannot install it (no root, no network
    to the Debian mirror), with apt-get's last lines as the reason.
    """
    global _updated
    found = shutil.which(binary) or shutil.which(binary, path="/usr/sbin:/sbin:/usr/bin")
    if found:
        return found
    with _lock:
        found = shutil.which(binary) or shutil.which(binary, path="/usr/sbin:/sbin:/usr/bin")
        if found:
            return found
        if os.geteuid() != 0 and shutil.which("sudo") is None:
            pytest.skip(f"{binary} is missing and installing {package} needs root")
        proc = _apt(["install", "-y", "--no-install-recommends", package])
        if proc.returncode != 0 and not _updated:  # an old package list: read it again once
            _updated = True
            _apt(["update"])
            proc = _apt(["install", "-y", "--no-install-recommends", package])
        if proc.returncode != 0:
            tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-5:])
            pytest.skip(f"could not install the Debian package {package}: {tail}")
    found = shutil.which(binary) or shutil.which(binary, path="/usr/sbin:/sbin:/usr/bin")
    if not found:
        pytest.skip(f"the Debian package {package} was installed but has no {binary}")
    return found

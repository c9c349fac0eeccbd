"""The installable package (issue 7): a wheel built from this checkout, installed into a fresh
virtual environment, runs ``parta demo --json`` to its JSON line in an empty directory outside
the repository and applies the example application that ``parta org example`` prints.

Proves that every file the code reads at run time ships in the wheel: the demo reads the room
and capability data, the catalogs, the application schema and example, the name data of the
generator, the templates and school B; nothing comes from the checkout. The fresh environment
takes Parta's dependencies from the package registry (pip's cache makes it fast).

The environment is made by ``docker/install.sh``, the script the Docker image runs (docker/Dockerfile
``RUN sh docker/install.sh /opt/parta /src``): so the image's install steps are exercised here without a
Docker engine, including the script's own checks (``parta --help``; Synapse's module loader loads
``synapse_module.PartaModule`` from the environment; the worker and bridge entry points import).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from ..processes import port_pair, read_json_line

REPO = Path(__file__).resolve().parents[2]
INSTALL = REPO / "docker" / "install.sh"

pytestmark = [
    pytest.mark.synapse,
    pytest.mark.skipif(os.environ.get("PARTA_TEST_DB", "sqlite") == "postgres",
                       reason="the package does not depend on the database; the SQLite run covers it"),
]


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The ``bin`` folder of a fresh virtual environment where ``docker/install.sh`` installed Parta."""
    root = tmp_path_factory.mktemp("package")
    env_dir = root / "venv"
    # python3 on PATH is the one running the tests (the image's is the base image's Python)
    path = f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"
    done = subprocess.run(["sh", str(INSTALL), str(env_dir), str(REPO)], cwd=root, capture_output=True, text=True,
                          env=clean_env(PATH=path))
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"Parta installed in {env_dir}" in done.stdout
    return env_dir / "bin"


def test_the_image_installs_with_this_script():
    """The Dockerfile's build stage runs docker/install.sh and nothing else installs Parta."""
    dockerfile = (REPO / "docker" / "Dockerfile").read_text(encoding="utf-8")
    assert "RUN sh docker/install.sh /opt/parta /src" in dockerfile
    assert "pip install" not in dockerfile


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without anything pointing into the checkout."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PARTA_SAMPLES")}
    return {**env, "PARTA_LANG": "en", **extra}


def test_wheel_installs_and_its_demo_runs_outside_the_repository(installed, tmp_path):
    work = tmp_path / "empty"
    work.mkdir()
    # the package itself is imported from the fresh environment, not from this checkout
    imported = subprocess.run([str(installed / "python"), "-c", "import spaces_provisioner, policies; "
                               "print(spaces_provisioner.__file__); print(policies.__file__)"],
                              cwd=work, env=clean_env(), capture_output=True, text=True)
    assert imported.returncode == 0, imported.stderr
    where = imported.stdout
    assert str(REPO) not in where and str(installed.parent) in where, where

    port = port_pair()
    proc = subprocess.Popen([str(installed / "parta"), "demo", "--port", str(port), "--data-dir", "demo", "--json"],
                            cwd=work, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=clean_env(), start_new_session=True)
    try:
        summary, _ = read_json_line(proc, 300)  # a fresh venv, a busy shared machine
        assert [o["name"] for o in summary["organizations"]] == ["Школа № 7", "Радуга"]
        assert {a["role"] for a in summary["accounts"]} >= {"admin", "teacher", "student", "parent", "none"}

        # the example application, printed by the installed command, is accepted as it is
        example = subprocess.run([str(installed / "parta"), "org", "example"], cwd=work, env=clean_env(),
                                 capture_output=True, text=True, check=True).stdout
        assert "short_name: Школа № 7" in example
        (work / "application.yaml").write_text(example.replace("slug: school-7", "slug: school-8"), encoding="utf-8")
        applied = subprocess.run([str(installed / "parta"), "org", "apply", "application.yaml", "-d", "demo"],
                                 cwd=work, env=clean_env(), capture_output=True, text=True)
        assert applied.returncode == 0, applied.stderr
        assert "Application school-8: pending" in applied.stdout, applied.stdout
        listed = subprocess.run([str(installed / "parta"), "org", "list", "-d", "demo"], cwd=work, env=clean_env(),
                                capture_output=True, text=True, check=True).stdout
        assert "school-8\tpending" in listed and "school-7\tapproved" in listed, listed
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        proc.stdout.close()
        proc.stderr.close()

#!/bin/sh
# Installs Parta (Synapse 1.163.2 with Parta's module, the provisioning service, the journal bridge) from a
# checkout of the repository into a new virtual environment, and checks the result.
# The image runs exactly this (docker/Dockerfile), and so does tests/integration/test_docker_install.py
# into a temporary directory, so what the image installs is tested without a Docker engine.
#   usage: install.sh VENV [REPOSITORY]     (REPOSITORY: default the current directory)
# pip's cache is whatever the caller's pip uses: the image turns it off (PIP_NO_CACHE_DIR), the test keeps it.
set -eu
if [ "$#" -lt 1 ]; then
    echo "usage: $0 VENV [REPOSITORY]" >&2
    exit 2
fi
venv=$1
repo=${2:-.}
if [ ! -f "$repo/setup.cfg" ]; then
    echo "$0: $repo is not Parta's repository (no setup.cfg); give the checkout as the second argument" >&2
    exit 2
fi
python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --upgrade pip
# a regular (not editable) install: the image keeps no source tree, only the installed package
"$venv/bin/python" -m pip install --quiet "$repo"
# the installed command runs, and Synapse finds and loads Parta's module from the environment
"$venv/bin/parta" --help >/dev/null
"$venv/bin/python" - <<'PY'
import bridge.program, spaces_provisioner.api.app, synapse.app.generic_worker, synapse.app.homeserver  # noqa: F401
from synapse.util.module_loader import load_module  # what Synapse does with homeserver.yaml's modules list
cls, config = load_module({"module": "synapse_module.PartaModule",
                           "config": {"bot_user_id": "@parta:school.example",
                                      "registry_alias": "#parta.registry:school.example"}}, ("modules", "<item 0>"))
assert cls.__name__ == "PartaModule" and config.bot_user_id == "@parta:school.example", (cls, config)
PY
echo "Parta installed in $venv"

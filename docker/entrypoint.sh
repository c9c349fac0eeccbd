#!/bin/sh
# The image's entry point: one process per container, or all of them under `parta run`.
#   synapse                 Synapse's main process            (/data/homeserver.yaml)
#   worker NAME             a Synapse worker                  (/data/workers/NAME.yaml, written by parta init --workers)
#   provisioning            Parta's provisioning service      (/data/parta.yaml)
#   bridge                  the journal bridge                (/data/journal-bridge.yaml)
#   run                     everything under Parta's supervisor (parta run /data)
#   anything else           a parta command, e.g. `init /data --server-name ...` or `org list -d /data`
set -eu
data=${PARTA_DIR:-/data}
role=${1:-run}
[ "$#" -gt 0 ] && shift
case "$role" in
    synapse)      exec python -m synapse.app.homeserver -c "$data/homeserver.yaml" ;;
    worker)
        if [ "$#" -lt 1 ]; then
            echo "worker: name the worker (its configuration is $data/workers/NAME.yaml)" >&2
            exit 2
        fi
        exec python -m synapse.app.generic_worker -c "$data/homeserver.yaml" -c "$data/workers/$1.yaml" ;;
    provisioning) exec python -m spaces_provisioner.api "$data" ;;
    bridge)       exec python -m bridge -c "$data/journal-bridge.yaml" ;;
    run)          exec parta run "$data" ;;
    *)            exec parta "$role" "$@" ;;
esac

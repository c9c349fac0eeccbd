#!/bin/sh
# Backs up a Parta installation: the PostgreSQL database (Synapse, the provisioning service's schema
# parta_provisioning, the journal bridge), the installation directory (signing key, parta.yaml's tokens
# and keys, the bridge's registration, workers/) and the media store, as three files in OUT:
#   parta-STAMP.pgdump  parta-data-STAMP.tar.gz  parta-media-STAMP.tar.gz
#   usage: backup.sh DSN DIR OUT     (DSN: the database as parta.yaml's `database` names it)
# Safe while running: pg_dump reads one consistent snapshot, and the media are only added or deleted
# (the media copy runs after the dump, so every file the dump names is in it).
# docs/deployment.md, "Backups"; tests/integration/test_backup.py runs it and docker/restore.sh.
set -eu
if [ "$#" -ne 3 ]; then
    echo "usage: $0 DSN DIR OUT" >&2
    exit 2
fi
dsn=$1; dir=$2; out=$3
if [ ! -f "$dir/homeserver.yaml" ]; then
    echo "$0: $dir is not a Parta installation (no homeserver.yaml)" >&2
    exit 2
fi
stamp=$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$out"
umask 077  # the files hold the installation's secrets
pg_dump --format=custom --dbname="$dsn" --file="$out/parta-$stamp.pgdump"
tar -C "$dir" -czf "$out/parta-data-$stamp.tar.gz" --exclude=./media_store --exclude=./logs \
    --exclude='./*.sock' .
if [ -d "$dir/media_store" ]; then
    tar -C "$dir/media_store" -czf "$out/parta-media-$stamp.tar.gz" .
else
    tar -czf "$out/parta-media-$stamp.tar.gz" -T /dev/null
fi
echo "$stamp"

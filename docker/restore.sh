#!/bin/sh
# Restores what docker/backup.sh saved: the database into DSN (an EMPTY database created with C
# collation: createdb -l C -T template0), the installation directory into DIR (must not exist yet) and the
# media into DIR/media_store. Start nothing before it finishes.
#   usage: restore.sh OUT STAMP DSN DIR
# docs/deployment.md, "Backups"; tested by tests/integration/test_backup.py.
set -eu
if [ "$#" -ne 4 ]; then
    echo "usage: $0 OUT STAMP DSN DIR" >&2
    exit 2
fi
out=$1; stamp=$2; dsn=$3; dir=$4
for f in "parta-$stamp.pgdump" "parta-data-$stamp.tar.gz" "parta-media-$stamp.tar.gz"; do
    if [ ! -f "$out/$f" ]; then
        echo "$0: $out/$f is missing: a backup is the three files of one stamp" >&2
        exit 2
    fi
done
if [ -e "$dir" ]; then
    echo "$0: $dir exists; restore into a new directory (nothing was changed)" >&2
    exit 2
fi
# --exit-on-error: a restore that fails half-way says so instead of leaving a partial database quietly
pg_restore --no-owner --exit-on-error --dbname="$dsn" "$out/parta-$stamp.pgdump"
mkdir -p "$dir/media_store"
chmod 700 "$dir"
tar -C "$dir" -xzf "$out/parta-data-$stamp.tar.gz"
tar -C "$dir/media_store" -xzf "$out/parta-media-$stamp.tar.gz"
echo "restored into $dir"

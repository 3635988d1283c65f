#!/usr/bin/env bash
# PostgreSQL backups for eBookVoice: a compressed custom-format dump, and its restore.
#
#   compose/backup.sh dump [FILE]     write a dump (default: backups/ebookvoice-<UTC time>.dump)
#   compose/backup.sh restore FILE    load a dump into an EMPTY database (refuses one with tables)
#   compose/backup.sh check FILE      list a dump's contents, proving it is readable
#
# Where it runs: with DATABASE_URL set, pg_dump and pg_restore run here against
# that database (their major version must be at least the server's). Without
# it, they run inside the compose stack's "postgres" service, whose tools always
# match its server; COMPOSE (default "docker compose -f compose/docker-compose.yml
# --env-file compose/.env") says how to reach it.
#
# Files in storage (R2) are not in the dump: keep the bucket versioned, or copy
# it with rclone; the dump holds every row, including which objects exist.
set -euo pipefail

cd "$(dirname "$0")/.."
COMPOSE=${COMPOSE:-docker compose -f compose/docker-compose.yml --env-file compose/.env}

usage() {
    sed -n '2,6p' "$0" >&2
    exit 2
}

run_pg() {  # run a PostgreSQL client tool, here or in the postgres service
    local tool=$1
    shift
    if [ -n "${DATABASE_URL:-}" ]; then
        "$tool" "$@"
    else
        # shellcheck disable=SC2086
        $COMPOSE exec -T postgres "$tool" -U ebookvoice "$@"
    fi
}

target() {  # the database argument each tool takes
    if [ -n "${DATABASE_URL:-}" ]; then printf '%s' "--dbname=$DATABASE_URL"; else printf '%s' "--dbname=ebookvoice"; fi
}

dump() {
    local file=${1:-backups/ebookvoice-$(date -u +%Y%m%dT%H%M%SZ).dump}
    mkdir -p "$(dirname "$file")"
    local partial="$file.partial"
    local started=$SECONDS
    # Written under another name first, so a dump cut short is never taken for a backup.
    run_pg pg_dump "$(target)" --format=custom --compress=6 --no-owner --no-privileges > "$partial"
    run_pg pg_restore --list < "$partial" > /dev/null
    mv "$partial" "$file"
    echo "dumped to $file ($(du -h "$file" | cut -f1)) in $((SECONDS - started)) s"
}

restore() {
    local file=${1:?restore needs a FILE}
    [ -r "$file" ] || { echo "cannot read $file" >&2; exit 1; }
    local tables
    tables=$(run_pg psql "$(target)" --tuples-only --no-align --quiet \
        --command="SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
    if [ "${tables//[[:space:]]/}" != "0" ]; then
        echo "refusing to restore: the database already has $tables tables; restore into an empty one" >&2
        exit 1
    fi
    local started=$SECONDS
    # One transaction: a restore that fails part-way leaves the database empty, not half-filled.
    run_pg pg_restore "$(target)" --no-owner --no-privileges --exit-on-error --single-transaction < "$file"
    echo "restored $file in $((SECONDS - started)) s"
}

case "${1:-}" in
    dump) shift; dump "$@" ;;
    restore) shift; restore "$@" ;;
    check) shift; run_pg pg_restore --list < "${1:?check needs a FILE}" | grep -c 'TABLE DATA' | sed 's/$/ tables with data/' ;;
    *) usage ;;
esac

#!/bin/bash
# Build and install pg_topics, start a throwaway PostgreSQL 15 server with it
# preloaded, and run scripts/demo.sql against it. The server is left running
# so you can play with it; "bash scripts/demo.sh stop" stops it.
#
# usage (as root): bash scripts/demo.sh [stop]
#   PGTOPICS_DEMO_PORT=5499   port to listen on (localhost only)
#   PGTOPICS_DEMO_DIR=/var/tmp/pg_topics-demo   the server's data, logs and
#       socket; "stop" needs the same value. Two demos side by side need
#       their own dir and port (and PGTOPICS_BUILD_DIR, PGTOPICS_PG_BIN: see
#       scripts/common.sh).
set -euo pipefail
# shellcheck source=scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

DEMO_DIR=${PGTOPICS_DEMO_DIR:-/var/tmp/pg_topics-demo}   # also the Unix socket directory
DEMO_DIR=${DEMO_DIR%/}
DATA_DIR=$DEMO_DIR/data
LOG_FILE=$DEMO_DIR/logfile
BUILD_LOG=$DEMO_DIR/build.log
PORT=${PGTOPICS_DEMO_PORT:-5499}
# The longest the demo's SQL may take (its long poll waits at most 10 s).
DEMO_TIMEOUT=120

# Stop the demo server if one is running from DATA_DIR (fast, then immediate).
stop_demo() {
    cd /   # postgres may not be allowed into the caller's cwd
    if [ -f "$DATA_DIR/postmaster.pid" ] && as_pg pg_ctl -D "$DATA_DIR" status >/dev/null 2>&1; then
        log "stopping the demo server"
        as_pg pg_ctl -D "$DATA_DIR" stop -m fast -w -t 30 >/dev/null ||
            as_pg pg_ctl -D "$DATA_DIR" stop -m immediate -w >/dev/null
        return 0
    fi
    return 1
}

# A fresh cluster every time, so a second run starts from the same state.
init_cluster() {
    log "creating a cluster in $DATA_DIR (port $PORT)"
    rm -rf "$DATA_DIR"
    mkdir -p "$DEMO_DIR"
    chown postgres:postgres "$DEMO_DIR"
    chmod 755 "$DEMO_DIR"
    cd "$DEMO_DIR"
    # trust: so root can connect as -U postgres; it only listens on localhost
    # and a socket directory of its own.
    as_pg initdb -D "$DATA_DIR" -U postgres -A trust -E UTF8 --locale=C >/dev/null
    as_pg tee -a "$DATA_DIR/postgresql.conf" >/dev/null <<EOF

# pg_topics demo
port = $PORT
listen_addresses = 'localhost'
unix_socket_directories = '$DEMO_DIR'
shared_preload_libraries = 'pg_topics'
EOF
}

start_cluster() {
    log "starting the server (log: $LOG_FILE)"
    rm -f "$LOG_FILE"
    if ! as_pg pg_ctl -D "$DATA_DIR" -l "$LOG_FILE" -w -t 60 start >/dev/null; then
        tail -n 30 "$LOG_FILE" >&2 || true
        die "server did not start (is port $PORT already in use? set PGTOPICS_DEMO_PORT)"
    fi
}

# psql as postgres over the demo socket; -X ignores any ~/.psqlrc, no pager so
# it never waits for a key press; timeout so that nothing can hang the demo.
demo_psql() {
    as_pg timeout "$DEMO_TIMEOUT" psql -X -q -v ON_ERROR_STOP=1 -P pager=off \
        -h "$DEMO_DIR" -p "$PORT" -U postgres -d postgres "$@"
}

print_usage_hints() {
    # "stop" must find the same dir
    local env=
    [ "$DEMO_DIR" != /var/tmp/pg_topics-demo ] && env="PGTOPICS_DEMO_DIR=$DEMO_DIR "
    cat <<EOF

The demo server is still running (data: $DATA_DIR, log: $LOG_FILE).
Connect (trust auth, so any local user can):
  psql -h $DEMO_DIR -p $PORT -U postgres postgres
  runuser -u postgres -- $PG_BIN/psql -h $DEMO_DIR -p $PORT postgres
Stop it with either of:
  ${env}bash scripts/demo.sh stop
  runuser -u postgres -- $PG_BIN/pg_ctl -D $DATA_DIR stop
EOF
}

main() {
    require_root
    check_scratch_dir "$DEMO_DIR"
    case "${1:-}" in
        stop)
            if id postgres >/dev/null 2>&1 && stop_demo; then
                log "demo server stopped"
            else
                log "no demo server running"
            fi
            return 0
            ;;
        "") ;;
        *) die "usage: $0 [stop]" ;;
    esac

    install_packages
    stop_demo || true
    make_scratch_copy "$BUILD_DIR"
    mkdir -p "$DEMO_DIR"
    build_and_install "$BUILD_DIR" "$BUILD_LOG"
    init_cluster
    start_cluster

    cd "$DEMO_DIR"
    # dblink: the demo's long poll is woken by a producer in a second session
    demo_psql -c 'CREATE EXTENSION IF NOT EXISTS pg_topics' -c 'CREATE EXTENSION IF NOT EXISTS dblink'
    # -e echoes each statement before its result
    demo_psql -e -f "$BUILD_DIR/scripts/demo.sql"
    print_usage_hints
}

main "$@"

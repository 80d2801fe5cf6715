# shellcheck shell=bash
# Shared helpers for scripts/test.sh and scripts/demo.sh. Source it, don't run it.
#
# Everything here assumes we run as root on Debian bookworm: we install packages
# with apt and then build/test as the unprivileged "postgres" user, because
# initdb (and therefore pg_regress --temp-instance and the TAP tests) refuses
# to run as root.

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# PGTOPICS_PG_BIN: another copy of the PostgreSQL 15 binaries, so that two
# checkouts can install and test side by side.
PG_BIN=${PGTOPICS_PG_BIN:-/usr/lib/postgresql/15/bin}
PG_CONFIG=$PG_BIN/pg_config
# Scratch copy we build and test in; owned by postgres so the checkout never is.
BUILD_DIR=${PGTOPICS_BUILD_DIR:-/var/tmp/pg_topics-build}

# gcc/make/libc6-dev rather than build-essential: it avoids pulling in g++ and
# dpkg-dev. postgresql-server-dev-15 brings clang/llvm for the JIT bitcode that
# PGXS builds. libipc-run-perl + perl (prove, Test::More) run the TAP tests.
PACKAGES=(postgresql-15 postgresql-server-dev-15 gcc make libc6-dev perl libipc-run-perl)
# test/t/030_readme.pl and 031 run README's driver examples with psycopg2 and
# node-postgres (which they install with npm under the build dir). Debian's
# nodejs has no npm in it; a nodejs from elsewhere (NodeSource) has, and
# conflicts with Debian's npm package: ask for npm only when there is none.
PACKAGES+=(python3-psycopg2 nodejs)
command -v npm >/dev/null 2>&1 || PACKAGES+=(npm)
# test/bench/run adds these to PACKAGES: PgQ, the baseline of one of its
# measures (pgbench itself ships in postgresql-15).
# shellcheck disable=SC2034  # used by test/bench/run
BENCH_PACKAGES=(postgresql-15-pgq3)

POLICY_RC=/usr/sbin/policy-rc.d
POLICY_RC_MARK='# created by pg_topics scripts/common.sh'

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

require_root() {
    [ "$(id -u)" -eq 0 ] || die "run this as root (it installs packages and switches to the postgres user)"
}

# True if dpkg says the package is fully installed ("dpkg -s" alone also
# succeeds for removed-but-not-purged packages).
pkg_installed() {
    [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" = installed ]
}

# Debian would otherwise create and start a "main" cluster on port 5432 when
# postgresql-15 is first installed; we only ever use our own scratch clusters.
# postgresql-common's postinst (via ucf) keeps an existing createcluster.conf.
disable_main_cluster() {
    local conf=/etc/postgresql-common/createcluster.conf
    [ -e "$conf" ] && return 0
    mkdir -p "${conf%/*}"
    echo 'create_main_cluster = false' >"$conf"
}

# In a chroot (or container) maintainer scripts must not start services.
# Only add a policy-rc.d if there is none, and only remove the one we added
# (recognised by its marker, so a leftover from an interrupted run goes too).
block_service_starts() {
    [ -e "$POLICY_RC" ] && return 1
    printf '#!/bin/sh\n%s\nexit 101\n' "$POLICY_RC_MARK" >"$POLICY_RC"
    chmod 755 "$POLICY_RC"
}
unblock_service_starts() {
    if [ -f "$POLICY_RC" ] && grep -qxF "$POLICY_RC_MARK" "$POLICY_RC"; then
        rm -f "$POLICY_RC"
    fi
}

# Install PACKAGES unless all are already there (then apt is not touched at
# all, so repeated runs are fast and work offline).
install_packages() {
    local missing=() p rc=0
    for p in "${PACKAGES[@]}"; do
        pkg_installed "$p" || missing+=("$p")
    done
    if [ ${#missing[@]} -eq 0 ]; then
        log "packages already installed"
        return 0
    fi
    log "installing: ${missing[*]} (log: /var/tmp/pg_topics-apt.log)"
    disable_main_cluster
    unblock_service_starts          # stale one from an interrupted run
    block_service_starts || true    # someone else's policy-rc.d: leave it alone
    # No TTY and no stdin in CI: everything must be non-interactive, and a
    # pre-existing config file (createcluster.conf) must be kept, not asked about.
    {
        apt-get update -q &&
        DEBIAN_FRONTEND=noninteractive UCF_FORCE_CONFFOLD=1 apt-get install -y -q \
            --no-install-recommends \
            -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
            "${missing[@]}"
    } </dev/null >/var/tmp/pg_topics-apt.log 2>&1 || rc=$?
    unblock_service_starts
    if [ "$rc" -ne 0 ]; then
        tail -n 40 /var/tmp/pg_topics-apt.log >&2
        die "package installation failed (exit $rc)"
    fi
    id postgres >/dev/null 2>&1 || die "user postgres missing after installing postgresql-15"
}

# Refuse to rm -rf anything that looks like a mistake.
check_scratch_dir() {
    local dir=$1
    case "$dir" in
        /*/*) ;;
        *) die "scratch dir must be an absolute path below a top-level dir: '$dir'" ;;
    esac
    case "$REPO_ROOT/" in
        "${dir%/}"/*) die "scratch dir '$dir' contains the checkout" ;;
    esac
}

# Copy the working tree (not .git, not build/test output) into DIR, wiping it
# first, and give it to postgres. tar instead of rsync: tar is always there.
make_scratch_copy() {
    local dir=${1:-$BUILD_DIR}
    check_scratch_dir "$dir"
    log "copying $REPO_ROOT to $dir"
    rm -rf "$dir"
    mkdir -p "$dir"
    # Unanchored patterns match at any depth (test output may live next to the
    # tests, wherever the Makefile puts them); "log" is too generic a name for
    # that, so only the top-level one goes.
    tar -C "$REPO_ROOT" -cf - \
        --exclude=.git --exclude='tmp_check*' --exclude=results --exclude=output_iso \
        --exclude=regression.diffs --exclude=regression.out \
        --exclude='*.o' --exclude='*.so' --exclude='*.bc' \
        --anchored --exclude=./log \
        . | tar -C "$dir" -xf -
    chown -R postgres:postgres "$dir"
}

# Run a command as postgres with the PostgreSQL 15 binaries first on PATH.
# Note: the caller's cwd must be readable by postgres (CI runs from /root/...,
# which is not), so callers cd somewhere sensible first.
as_pg() {
    runuser -u postgres -- env PATH="$PG_BIN:$PATH" "$@"
}

# Build with -Werror as postgres, then install into PostgreSQL as root.
# With LOG, the compiler's and make's output goes to that file instead of the
# terminal, and only a failure shows it: the compiler's diagnostics (they may
# lie far above the end with make -j) and the log's last lines.
build_and_install() {
    local dir=${1:-$BUILD_DIR} log=${2:-}
    if [ -z "$log" ]; then
        log "building in $dir"
        (cd "$dir" && as_pg make -j"$(nproc)" PG_CONFIG="$PG_CONFIG" COPT=-Werror) ||
            die "build failed"
        log "installing into $("$PG_CONFIG" --pkglibdir)"
        make -C "$dir" PG_CONFIG="$PG_CONFIG" install >/dev/null || die "make install failed"
        return 0
    fi
    mkdir -p "$(dirname "$log")"
    : >"$log"
    log "building in $dir (compiler output: $log)"
    (cd "$dir" && as_pg make -j"$(nproc)" PG_CONFIG="$PG_CONFIG" COPT=-Werror) >>"$log" 2>&1 ||
        build_failed "build" "$log"
    log "installing into $("$PG_CONFIG" --pkglibdir)"
    make -C "$dir" PG_CONFIG="$PG_CONFIG" install >>"$log" 2>&1 ||
        build_failed "make install" "$log"
}

# Show why STEP failed from its LOG, then exit. The compiler's command lines
# are left out (they are long and say nothing about the error); when the rest
# is long, the first errors and warnings come before its last lines, since
# with make -j they may lie far above the end.
build_failed() {
    local step=$1 log=$2 out n
    out=$(grep -vE '^(/[^ ]*/)?(gcc|cc|clang)(-[0-9.]+)? ' "$log" | cut -c1-400 || true)
    n=$(printf '%s\n' "$out" | wc -l)
    {
        if [ "$n" -le 60 ]; then
            printf '\n----- %s (compiler command lines left out) -----\n' "$log"
            printf '%s\n' "$out"
        else
            printf '\n----- first errors and warnings in %s -----\n' "$log"
            printf '%s\n' "$out" | grep -E ': (fatal )?error|: warning:' | head -n 20 || true
            printf '\n----- last 40 lines of %s (compiler command lines left out) -----\n' "$log"
            printf '%s\n' "$out" | tail -n 40
        fi
        printf -- '-----\n'
    } >&2
    die "$step failed; full output in $log"
}

# Stop every postgres server whose data directory is inside DIR (pg_regress
# temp instances, TAP nodes), e.g. after a failed or interrupted test run.
# SIGQUIT is an immediate shutdown (the postmaster takes its children with it);
# whatever is still there after a few seconds gets SIGKILL.
stop_servers_in() {
    local dir=${1%/} pids=() pidfile pid
    [ -d "$dir" ] || return 0
    while IFS= read -r pidfile; do
        pid=$(head -n 1 "$pidfile" 2>/dev/null) || continue
        # only a live process owned by postgres: the pid may have been reused
        if [[ "$pid" =~ ^[0-9]+$ ]] && [ "$(stat -c %U "/proc/$pid" 2>/dev/null)" = postgres ]; then
            pids+=("$pid")
        fi
    done < <(find "$dir" -name postmaster.pid -type f 2>/dev/null)
    # postmasters whose data dir was deleted under them still show it in argv
    if command -v pgrep >/dev/null; then
        while IFS= read -r pid; do pids+=("$pid"); done < <(pgrep -u postgres -f -- "$dir/" || true)
    fi
    [ ${#pids[@]} -eq 0 ] && return 0
    log "stopping leftover servers under $dir: ${pids[*]}"
    kill -QUIT "${pids[@]}" 2>/dev/null || true
    for _ in 1 2 3 4 5 6 7 8 9 10; do
        kill -0 "${pids[@]}" 2>/dev/null || return 0
        sleep 0.5
    done
    kill -KILL "${pids[@]}" 2>/dev/null || true
}

#!/bin/bash
# Build pg_topics with -Werror, install it, and run its tests against
# PostgreSQL 15, from a scratch copy of this checkout owned by postgres.
#
# usage (as root): bash scripts/test.sh [all|regress|isolation|tap]...
#   REGRESS=..., ISOLATION=..., PROVE_TESTS=... in the environment pick
#   individual tests within a suite; PROVE_FLAGS=--verbose is passed on too.
#
# pg_regress and pg_isolation_regress start their own temporary servers
# (--temp-instance in the Makefile), the TAP tests start their own nodes, so
# no cluster needs to exist beforehand.
set -euo pipefail
# shellcheck source=scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

DEFAULT_PROVE_TESTS='test/t/*.pl'

# Print at most MAX lines of FILE (head or tail), saying what was left out.
show_file() {
    local file=$1 max=$2 end=${3:-head} n
    [ -s "$file" ] || return 0
    n=$(wc -l <"$file")
    printf '\n----- %s (%s lines) -----\n' "$file" "$n"
    if [ "$n" -le "$max" ]; then
        cut -c1-400 "$file"
    elif [ "$end" = head ]; then
        head -n "$max" "$file" | cut -c1-400
        printf '[... %s more lines]\n' $((n - max))
    else
        printf '[... %s earlier lines]\n' $((n - max))
        tail -n "$max" "$file" | cut -c1-400
    fi
}

# Server/TAP logs written since STAMP: log/ (pg_regress), output_iso/log/,
# tmp_check/log/ (TAP). The end is where the error is. Cap the number of
# files so one broken suite cannot flood the CI log.
show_logs() {
    local stamp=$1 f count=0
    while IFS= read -r f; do
        count=$((count + 1))
        if [ "$count" -gt 20 ]; then
            echo "[... more logs under $BUILD_DIR not shown]"
            break
        fi
        # a successful initdb is just noise
        [ "${f##*/}" = initdb.log ] && grep -q '^Success\.' "$f" && continue
        show_file "$f" 60 tail
    done < <(find "$BUILD_DIR" -maxdepth 4 -path '*/log/*' -type f -newer "$stamp" 2>/dev/null | sort)
}

# Diffs written by this suite (newer than STAMP): regression.diffs for
# pg_regress, output_iso/regression.diffs for the isolation tester, or wherever
# the Makefile's --outputdir put them.
show_failure() {
    local suite=$1 stamp=$2 f
    echo
    echo "===== $suite tests FAILED; details follow (all files stay in $BUILD_DIR) ====="
    while IFS= read -r f; do
        show_file "$f" 300
    done < <(find "$BUILD_DIR" -maxdepth 3 -name regression.diffs -newer "$stamp" 2>/dev/null | sort)
    show_logs "$stamp"
}

# Run one suite through PGXS "make installcheck", switching the others off by
# overriding their make variables with empty values.
run_suite() {
    local suite=$1 vars=()
    case "$suite" in
        regress)
            vars=(ISOLATION= TAP_TESTS=)
            [ -n "${REGRESS:-}" ] && vars+=("REGRESS=$REGRESS")
            ;;
        isolation)
            vars=(REGRESS= TAP_TESTS=)
            [ -n "${ISOLATION:-}" ] && vars+=("ISOLATION=$ISOLATION")
            ;;
        tap)
            # the glob is expanded by make's shell, after it cd's to the source dir
            if ! compgen -G "$BUILD_DIR/$DEFAULT_PROVE_TESTS" >/dev/null && [ -z "${PROVE_TESTS:-}" ]; then
                log "no TAP tests ($DEFAULT_PROVE_TESTS), skipping"
                return 0
            fi
            vars=(REGRESS= ISOLATION= TAP_TESTS=1 "PROVE_TESTS=${PROVE_TESTS:-$DEFAULT_PROVE_TESTS}")
            ;;
    esac
    [ -n "${PROVE_FLAGS:-}" ] && vars+=("PROVE_FLAGS=$PROVE_FLAGS")
    log "running $suite tests"
    touch "$BUILD_DIR/.suite-start"
    if ! (cd "$BUILD_DIR" && as_pg make PG_CONFIG="$PG_CONFIG" installcheck "${vars[@]}"); then
        show_failure "$suite" "$BUILD_DIR/.suite-start"
        return 1
    fi
}

main() {
    local suites=() failed=() s
    for s in "${@:-all}"; do
        case "$s" in
            all) suites+=(regress isolation tap) ;;
            regress | isolation | tap) suites+=("$s") ;;
            *) die "unknown suite '$s' (want: all, regress, isolation, tap)" ;;
        esac
    done

    require_root
    install_packages
    # Servers left by an earlier, interrupted run would hold ports and files.
    stop_servers_in "$BUILD_DIR"
    trap 'stop_servers_in "$BUILD_DIR"' EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM

    make_scratch_copy "$BUILD_DIR"
    # The compiler's output goes to a file; a failed build prints its errors
    # and the end of the file, so the CI log still shows what broke.
    build_and_install "$BUILD_DIR" "$BUILD_DIR/build.log"

    # Run every requested suite even if an earlier one failed: one CI run then
    # shows all the breakage.
    for s in "${suites[@]}"; do
        run_suite "$s" || failed+=("$s")
    done
    if [ ${#failed[@]} -gt 0 ]; then
        echo
        echo "FAILED: ${failed[*]}"
        exit 1
    fi
    echo
    echo "All tests passed (${suites[*]})."
}

main "$@"

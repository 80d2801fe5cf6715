# The queue group of test/bench/run: queue mode against a SKIP LOCKED table
# (the way pgmq, pg-boss and River keep a queue) doing the same work in the
# same pgbench runs.  Sourced by run, whose helpers (sql, pgbench_output,
# pgb_mix, median, div, log, die) and tables (RESULTS, RATIOS, MEASURES,
# TARGET, SIDES, UNITS) it uses.
#
# Every round starts from a fresh queue topic of 4 partitions and a fresh
# table, each holding QUEUE_MESSAGES messages of 100 bytes (keyed, so that
# they spread over the partitions), after VACUUM ANALYZE and a CHECKPOINT.
# Runs are of a fixed number of transactions per client (pgbench -t), fewer
# than the messages, so that no side runs dry; each run is checked: no
# transaction of a side took more than 10 messages, and they are gone.
#
# - queue_vs_skiplocked: 4 clients, each transaction picking at random
#   topics.consume() of 10 messages (autocommit: gone when it commits) or
#   DELETE of 10 rows locked FOR UPDATE SKIP LOCKED.  A side's figure is
#   the messages one client took per second: what it took per transaction
#   over its average latency (a read takes fewer than 10 when the others
#   hold the rest of its window).  queue_sync_vs_skiplocked, printed in
#   the details, is the same with pg_topics.synchronous_positions on: then
#   a consume-only transaction waits for its WAL flush as the DELETE does.
# - queue_held_xmin_ratio: consume alone at 4 clients while another session
#   holds a snapshot open for the whole run (REPEATABLE READ, as a long
#   report does), over the same without it, round by round;
#   skiplocked_held_xmin_ratio is the same for the SKIP LOCKED side.  Each
#   side runs alone: mixed with a side that slows down, the other slows
#   down too, for want of CPU.
# - queue_scaling_64_over_4: topics.consume() alone, 64 clients over 4
#   clients, messages per second in the steady state of runs of the same
#   length (scaling_rates).  Beside it, in the same rounds,
#   select_scaling_64_over_4, the same for a plain SELECT of 10 rows of the
#   table by a random key range (what any query that returns as many rows
#   gets from more clients on this machine), and
#   skiplocked_scaling_64_over_4 for SKIP LOCKED + DELETE.  These rounds
#   run with huge pages when the machine has them (as the --scale runs, see
#   huge_pages_setting in run: 64 processes touching new pages of shared
#   memory fault on each), and again without (*_no_hp), after the other
#   measures.
# - receive_ack_vs_skiplocked: 4 clients, topics.receive() of 10 messages
#   then topics.ack() of them in a second transaction, against pgmq's
#   read (UPDATE of the visibility time of 10 rows locked SKIP LOCKED) then
#   DELETE.

if [ "$QUICK" -eq 1 ]; then
    QUEUE_ROUNDS=3
    QUEUE_TX=1500       # transactions per client of one run of 4 clients
    QUEUE_SCALE_SECS=3  # seconds of a scaling run
else
    QUEUE_ROUNDS=5
    QUEUE_TX=6000
    QUEUE_SCALE_SECS=4
fi
# messages of a fresh queue for the scaling runs: what 4 clients consume in
# QUEUE_SCALE_SECS seconds at 500000 messages/s, then 64 clients, with room
QUEUE_SCALE_MESSAGES=$((QUEUE_SCALE_SECS * 1000000 + 200000))
# messages of a fresh queue: those of a mixed run of 4 clients, with room
# to spare (consume_tps fills a queue for twice as many)
QUEUE_MESSAGES=$((4 * QUEUE_TX * 10 + 20000))

# reset_queue TOPIC TABLE [N]: the topic made anew with N (QUEUE_MESSAGES)
# messages, the table with as many rows; a CHECKPOINT.
reset_queue() {
    local topic=$1 table=$2 messages=${3:-$QUEUE_MESSAGES}
    sql "SELECT topics.drop_topic('$topic') FROM topics.topics WHERE name = '$topic';
         SELECT topics.drop_topic('$topic.dead_letter') FROM topics.topics WHERE name = '$topic.dead_letter';
         SELECT topics.create_topic('$topic', 4, 'queue');
         DO \$\$ BEGIN
           FOR b IN 0 .. $((messages / 1000 - 1)) LOOP
             PERFORM topics.produce_batch('$topic',
               ARRAY(SELECT convert_to(lpad(i::text, 100, 'v'), 'UTF8') FROM generate_series(b * 1000 + 1, b * 1000 + 1000) AS i),
               ARRAY(SELECT convert_to('k' || i, 'UTF8') FROM generate_series(b * 1000 + 1, b * 1000 + 1000) AS i));
           END LOOP;
         END \$\$;
         DROP TABLE IF EXISTS $table;
         CREATE TABLE $table (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                              vt timestamptz NOT NULL DEFAULT now(),
                              read_ct integer NOT NULL DEFAULT 0, payload bytea);
         CREATE INDEX ON $table (vt);
         INSERT INTO $table (payload)
         SELECT convert_to(lpad(i::text, 100, 'v'), 'UTF8') FROM generate_series(1, $messages) AS i;
         VACUUM ANALYZE $table;
         CHECKPOINT;" >/dev/null
}

# queue_left TOPIC TABLE: "<messages left in the topic> <rows left in the table>"
queue_left() {
    sql "SELECT (SELECT sum(depth) FROM topics.queue_stats WHERE topic = '$1')
                || ' ' || (SELECT count(*) FROM $2)"
}

# taken TOPIC TABLE N_OURS N_BASE [N]: prints how many of the N
# (QUEUE_MESSAGES) messages each side took; dies unless each took at most
# 10 per transaction pgbench counted (whose per-script counts may miss a
# transaction or two of a run) and some.  A read takes fewer than 10 when
# the others hold the rest of its window; a side's figure counts messages.
taken() {
    local left_ours left_base messages=${5:-$QUEUE_MESSAGES} t_ours t_base
    read -r left_ours left_base <<<"$(queue_left "$1" "$2")"
    t_ours=$((messages - left_ours))
    t_base=$((messages - left_base))
    if ((t_ours > 10 * ($3 + 2) || t_base > 10 * ($4 + 2) ||
         ($3 > 0 && t_ours == 0) || ($4 > 0 && t_base == 0))); then
        die "queue: after $3 and $4 transactions of 10, $1 holds $left_ours messages and $2 $left_base rows (of $messages)"
    fi
    echo "$t_ours $t_base"
}

# per_client_rate TAKEN N LAT: messages per second of one client, from the
# messages a side took in N transactions of LAT ms on average
per_client_rate() { awk -v m="$1" -v n="$2" -v l="$3" 'BEGIN { printf "%.1f\n", m / n * 1000 / l }'; }

# hold_snapshot: a session that holds a snapshot open until release_snapshot
# (and no lock on the tables of the measures).
hold_snapshot() {
    as_pg psql -X -q -h "$ROOT" -p "$PORT" -U postgres -d bench \
        -c "BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT count(*) FROM pg_class; SELECT pg_sleep(3600)" \
        >/dev/null 2>&1 &
    HOLDER=$!
    for _ in $(seq 1 100); do
        [ "$(sql "SELECT count(*) FROM pg_stat_activity WHERE backend_xmin IS NOT NULL
                   AND query LIKE '%pg_sleep(3600)%' AND pid <> pg_backend_pid()")" = 1 ] && return 0
        sleep 0.1
    done
    die "queue: the snapshot holder did not start"
}
release_snapshot() {
    sql "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
          WHERE query LIKE '%pg_sleep(3600)%' AND pid <> pg_backend_pid()" >/dev/null
    wait "$HOLDER" 2>/dev/null || true
}

# queue_round SIDE_OURS SIDE_BASE [held]: one mixed run of consume and SKIP
# LOCKED from a fresh queue and table, with held while a snapshot is held;
# adds each side's figure (messages per second of one client) to RESULTS.
queue_round() {
    local n_ours lat_ours n_base lat_base t_ours t_base
    reset_queue qq skq
    [ "${3:-}" != held ] || hold_snapshot
    read -r n_ours lat_ours n_base lat_base <<<"$(pgb_mix queue 4 2 queue_consume skiplocked_consume \
        -t "$QUEUE_TX")"
    [ "${3:-}" != held ] || release_snapshot
    read -r t_ours t_base <<<"$(taken qq skq "$n_ours" "$n_base")"
    RESULTS[$1]+="$(per_client_rate "$t_ours" "$n_ours" "$lat_ours") "
    RESULTS[$2]+="$(per_client_rate "$t_base" "$n_base" "$lat_base") "
    log "queue round: $1 $n_ours x $lat_ours ms took $t_ours, $2 $n_base x $lat_base ms took $t_base"
}

# alone_rate SCRIPT [held]: SCRIPT (queue_consume or skiplocked_consume)
# alone at 4 clients from a fresh queue and table, with held while a
# snapshot is held for the whole run; prints the messages taken per second.
# Each side runs alone here: mixed with a side that slows down, the other
# would slow down too, for want of CPU.
alone_rate() {
    local script=$1 out tps t_ours t_base n=$((4 * QUEUE_TX))
    reset_queue qq skq
    [ "${2:-}" != held ] || hold_snapshot
    out=$(pgbench_output "$script" -c 4 -j 2 -t "$QUEUE_TX" -f "$SQLDIR/$script.sql") || exit 1
    [ "${2:-}" != held ] || release_snapshot
    tps=$(sed -n 's/^tps = \([0-9.]*\) (without initial connection time)$/\1/p' <<<"$out")
    [ -n "$tps" ] || { printf '%s\n' "$out" >&2; die "no tps in the output of pgbench $script"; }
    if [ "$script" = queue_consume ]; then
        read -r t_ours _ <<<"$(taken qq skq "$n" 0)"
    else
        read -r _ t_ours <<<"$(taken qq skq 0 "$n")"
    fi
    awk -v tps="$tps" -v m="$t_ours" -v n="$n" 'BEGIN { printf "%.1f\n", tps * m / n }'
}

# steady_tps OUTPUT: the mean of the per-second tps of a pgbench run with
# -P 1, but for its first second, in which each new connection fills its
# caches and maps the shared memory it touches (a cost a consumer pays once
# per connection, which a short run at 64 clients would count 16 times as
# often as one at 4).
steady_tps() {
    sed -n 's/^progress: \([0-9.]*\) s, \([0-9.]*\) tps.*/\1 \2/p' <<<"$1" |
        awk '$1 > 1.5 { s += $2; n++ } END { if (n) printf "%.1f\n", s / n }'
}

# scaling_rates: from a fresh queue and table of QUEUE_SCALE_MESSAGES messages
# each, each of these alone for QUEUE_SCALE_SECS seconds at 4 clients, then at 64
# (at 64, then at 4, in odd rounds $1): a plain SELECT of 10 rows of the
# table by a random key range (the reference: a query that does no more
# than return as many rows), topics.consume() of 10, then SKIP LOCKED +
# DELETE of 10; prints "<select 4> <ours 4> <skip locked 4> <select 64>
# <ours 64> <skip locked 64>", rows or messages per second in the steady
# state (steady_tps).  Each consuming run must leave messages behind.
scaling_rates() {
    local out tps n script clients before after taken order=(4 64)
    local -A rate
    [ $(($1 % 2)) -eq 0 ] || order=(64 4)
    reset_queue qq skq "$QUEUE_SCALE_MESSAGES"
    for clients in "${order[@]}"; do
        for script in select_range10 queue_consume skiplocked_consume; do
            before=$(side_left "$script")
            out=$(pgbench_output "$script" -c "$clients" -j 2 -T "$QUEUE_SCALE_SECS" -P 1 \
                -D rows=$((QUEUE_SCALE_MESSAGES - 10)) -f "$SQLDIR/$script.sql") || exit 1
            tps=$(steady_tps "$out")
            n=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' <<<"$out")
            [ -n "$tps" ] && [ -n "$n" ] ||
                { printf '%s\n' "$out" >&2; die "no progress in the output of pgbench $script"; }
            if [ "$script" = select_range10 ]; then
                taken=$((10 * n))
            else
                after=$(side_left "$script")
                taken=$((before - after))
                ((after > 0 && taken <= 10 * (n + 2) && taken > 0)) ||
                    die "queue: $script at $clients clients took $taken of $before messages in $n transactions"
            fi
            rate[$clients:$script]=$(awk -v tps="$tps" -v m="$taken" -v n="$n" 'BEGIN { printf "%.1f\n", tps * m / n }')
        done
    done
    echo "${rate[4:select_range10]} ${rate[4:queue_consume]} ${rate[4:skiplocked_consume]}" \
        "${rate[64:select_range10]} ${rate[64:queue_consume]} ${rate[64:skiplocked_consume]}"
}

# side_left SCRIPT: the messages left to a consuming script's side (the
# topic qq, or the table skq); 0 for the SELECT, which takes none
side_left() {
    case $1 in
        queue_consume) queue_left qq skq | cut -d' ' -f1 ;;
        skiplocked_consume) queue_left qq skq | cut -d' ' -f2 ;;
        *) echo 0 ;;
    esac
}

# server_huge_pages on|off: restarts the server with huge pages (when the
# machine can have them, huge_pages_setting: HUGE_PAGES says which) or
# without.
server_huge_pages() {
    as_pg pg_ctl -D "$DATA" -m fast -w -t 60 stop >/dev/null || die "could not stop the server"
    sed -i '/^huge_pages = /d' "$DATA/postgresql.auto.conf"
    if [ "$1" = on ]; then
        [ -n "$HUGE_PAGES" ] || huge_pages_setting
        printf 'huge_pages = %s\n' "$HUGE_PAGES" >>"$DATA/postgresql.auto.conf"
    else
        echo 'huge_pages = off' >>"$DATA/postgresql.auto.conf"
    fi
    chown postgres:postgres "$DATA/postgresql.auto.conf"
    as_pg pg_ctl -D "$DATA" -l "$SERVER_LOG" -w -t 60 start >/dev/null || die "could not restart the server"
    log "server restarted, huge_pages $(sql 'SHOW huge_pages')"
}

# last SIDE: the last figure of a side in RESULTS
last() { local v=${RESULTS[$1]% }; echo "${v##* }"; }

run_queue() {
    local r n_ours lat_ours n_base lat_base t_ours t_base s4 m4 k4 s64 m64 k64 hp suffix
    log "queue: warm-up"
    reset_queue qq skq
    pgb_mix queue 4 2 queue_consume skiplocked_consume -t 500 >/dev/null
    for ((r = 0; r < QUEUE_ROUNDS; r++)); do
        queue_round ours_queue skiplocked
        # held first in odd rounds, so that neither side always runs after
        # the other
        for side in queue_consume skiplocked_consume; do
            if ((r % 2)); then
                RESULTS[${side}_held]+="$(alone_rate "$side" held) "
                RESULTS[${side}_alone]+="$(alone_rate "$side") "
            else
                RESULTS[${side}_alone]+="$(alone_rate "$side") "
                RESULTS[${side}_held]+="$(alone_rate "$side" held) "
            fi
        done
        log "queue round $((r + 1))/$QUEUE_ROUNDS: alone, messages/s: ours $(last queue_consume_alone)," \
            "held $(last queue_consume_held); SKIP LOCKED $(last skiplocked_consume_alone)," \
            "held $(last skiplocked_consume_held)"
        PGOPTIONS='-c pg_topics.synchronous_positions=on' queue_round ours_queue_sync skiplocked_sync

        reset_queue qr skr
        read -r n_ours lat_ours n_base lat_base <<<"$(pgb_mix receive 4 2 queue_receive_ack \
            skiplocked_receive_ack -t "$QUEUE_TX")"
        read -r t_ours t_base <<<"$(taken qr skr "$n_ours" "$n_base")"
        RESULTS[ours_receive]+="$(per_client_rate "$t_ours" "$n_ours" "$lat_ours") "
        RESULTS[skiplocked_receive]+="$(per_client_rate "$t_base" "$n_base" "$lat_base") "
        log "queue round $((r + 1))/$QUEUE_ROUNDS: receive+ack $n_ours x $lat_ours ms took $t_ours," \
            "pgmq-style $n_base x $lat_base ms took $t_base"
    done

    # the scaling rounds, with huge pages (when the machine has them), then
    # without, each side of a ratio in the same rounds
    for hp in on off; do
        server_huge_pages "$hp"
        suffix=
        [ "$hp" = on ] || suffix=_no_hp
        for ((r = 0; r < QUEUE_ROUNDS; r++)); do
            read -r s4 m4 k4 s64 m64 k64 <<<"$(scaling_rates "$r")"
            RESULTS[ours_queue_4$suffix]+="$m4 "
            RESULTS[ours_queue_64$suffix]+="$m64 "
            RESULTS[select_range_4$suffix]+="$s4 "
            RESULTS[select_range_64$suffix]+="$s64 "
            RESULTS[skiplocked_4$suffix]+="$k4 "
            RESULTS[skiplocked_64$suffix]+="$k64 "
            log "queue scaling round $((r + 1))/$QUEUE_ROUNDS, huge_pages $hp: at 4 clients and 64," \
                "consume $m4 and $m64 messages/s, SELECT of 10 rows $s4 and $s64 rows/s," \
                "SKIP LOCKED $k4 and $k64 messages/s"
        done
    done
}

queue_measures() {
    ratio_per_round queue_vs_skiplocked ours_queue skiplocked
    ratio_per_round queue_sync_vs_skiplocked ours_queue_sync skiplocked_sync
    ratio_per_round queue_held_xmin_ratio queue_consume_held queue_consume_alone
    ratio_per_round skiplocked_held_xmin_ratio skiplocked_consume_held skiplocked_consume_alone
    ratio_per_round queue_scaling_64_over_4 ours_queue_64 ours_queue_4
    ratio_per_round select_scaling_64_over_4 select_range_64 select_range_4
    ratio_per_round skiplocked_scaling_64_over_4 skiplocked_64 skiplocked_4
    ratio_per_round queue_scaling_no_hp ours_queue_64_no_hp ours_queue_4_no_hp
    ratio_per_round select_scaling_no_hp select_range_64_no_hp select_range_4_no_hp
    ratio_per_round skiplocked_scaling_no_hp skiplocked_64_no_hp skiplocked_4_no_hp
    ratio_per_round receive_ack_vs_skiplocked ours_receive skiplocked_receive
    MEASURES+=(queue_vs_skiplocked queue_sync_vs_skiplocked queue_held_xmin_ratio
               skiplocked_held_xmin_ratio queue_scaling_64_over_4 select_scaling_64_over_4
               skiplocked_scaling_64_over_4 queue_scaling_no_hp select_scaling_no_hp
               skiplocked_scaling_no_hp receive_ack_vs_skiplocked)
    TARGET+=([queue_vs_skiplocked]='>= 1.5' [queue_sync_vs_skiplocked]='informational'
             [queue_held_xmin_ratio]='>= 0.95' [skiplocked_held_xmin_ratio]='informational'
             [queue_scaling_64_over_4]='>= 0.9' [select_scaling_64_over_4]='informational'
             [skiplocked_scaling_64_over_4]='informational' [queue_scaling_no_hp]='informational'
             [select_scaling_no_hp]='informational' [skiplocked_scaling_no_hp]='informational'
             [receive_ack_vs_skiplocked]='>= 1.2')
    SIDES+=([queue_vs_skiplocked]='ours_queue skiplocked'
            [queue_sync_vs_skiplocked]='ours_queue_sync skiplocked_sync'
            [queue_held_xmin_ratio]='queue_consume_held queue_consume_alone'
            [skiplocked_held_xmin_ratio]='skiplocked_consume_held skiplocked_consume_alone'
            [queue_scaling_64_over_4]='ours_queue_64 ours_queue_4'
            [select_scaling_64_over_4]='select_range_64 select_range_4'
            [skiplocked_scaling_64_over_4]='skiplocked_64 skiplocked_4'
            [queue_scaling_no_hp]='ours_queue_64_no_hp ours_queue_4_no_hp'
            [select_scaling_no_hp]='select_range_64_no_hp select_range_4_no_hp'
            [skiplocked_scaling_no_hp]='skiplocked_64_no_hp skiplocked_4_no_hp'
            [receive_ack_vs_skiplocked]='ours_receive skiplocked_receive')
    UNITS+=([ours_queue]="messages/s of one client (taken / transactions x 1000 / average ms), topics.consume of up to 10 (autocommit), 4 clients mixed at random with skiplocked, $QUEUE_TX transactions per client"
            [skiplocked]='messages/s of one client, SELECT 10 FOR UPDATE SKIP LOCKED + DELETE in one statement, mixed with ours_queue'
            [ours_queue_sync]='as ours_queue, with pg_topics.synchronous_positions on (the commit waits for its flush)'
            [skiplocked_sync]='as skiplocked, in the runs of ours_queue_sync'
            [queue_consume_alone]="messages/s, topics.consume of up to 10, 4 clients alone, $QUEUE_TX transactions each"
            [queue_consume_held]='as queue_consume_alone, while a REPEATABLE READ transaction holds a snapshot for the whole run'
            [skiplocked_consume_alone]="messages/s, SKIP LOCKED + DELETE of 10, 4 clients alone, $QUEUE_TX transactions each"
            [skiplocked_consume_held]='as skiplocked_consume_alone, while the snapshot is held'
            [ours_queue_4]="messages/s, topics.consume of up to 10, 4 clients, $QUEUE_SCALE_SECS s, the mean of each second but the first, huge_pages ${HUGE_PAGES:-off}"
            [ours_queue_64]="messages/s, as ours_queue_4 at 64 clients"
            [select_range_4]="rows/s, SELECT of the 10 rows of a random key range of the table, 4 clients, as ours_queue_4"
            [select_range_64]="rows/s, as select_range_4 at 64 clients"
            [skiplocked_4]="messages/s, SKIP LOCKED + DELETE of 10, 4 clients, as ours_queue_4"
            [skiplocked_64]="messages/s, as skiplocked_4 at 64 clients"
            [ours_queue_4_no_hp]='as ours_queue_4, huge_pages off'
            [ours_queue_64_no_hp]='as ours_queue_64, huge_pages off'
            [select_range_4_no_hp]='as select_range_4, huge_pages off'
            [select_range_64_no_hp]='as select_range_64, huge_pages off'
            [skiplocked_4_no_hp]='as skiplocked_4, huge_pages off'
            [skiplocked_64_no_hp]='as skiplocked_64, huge_pages off'
            [ours_receive]='messages/s of one client, topics.receive of up to 10 then topics.ack of them (two transactions), mixed with skiplocked_receive'
            [skiplocked_receive]='messages/s of one client, pgmq read (UPDATE vt of 10 rows locked SKIP LOCKED) then DELETE of them (two transactions)')
}

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
# than the messages, so that no side runs dry; each run is checked: every
# transaction a side ran took 10 messages, and they are gone.
#
# - queue_vs_skiplocked: 4 clients, each transaction picking at random
#   topics.consume() of 10 messages (autocommit: gone when it commits) or
#   DELETE of 10 rows locked FOR UPDATE SKIP LOCKED.  A side's figure is
#   1000 / its average latency in ms.  queue_sync_vs_skiplocked, printed in
#   the details, is the same with pg_topics.synchronous_positions on: then
#   a consume-only transaction waits for its WAL flush as the DELETE does.
# - queue_held_xmin_ratio: the same runs while another session holds a
#   snapshot open for the whole run (REPEATABLE READ, as a long report
#   does), over the runs without it, round by round;
#   skiplocked_held_xmin_ratio is the same for the SKIP LOCKED side.
# - queue_scaling_64_over_4: topics.consume() alone, 64 clients over 4
#   clients, transactions per second, the same number of transactions in
#   all.
# - receive_ack_vs_skiplocked: 4 clients, topics.receive() of 10 messages
#   then topics.ack() of them in a second transaction, against pgmq's
#   read (UPDATE of the visibility time of 10 rows locked SKIP LOCKED) then
#   DELETE.

if [ "$QUICK" -eq 1 ]; then
    QUEUE_ROUNDS=3
    QUEUE_TX=1500       # transactions per client of one run of 4 clients
else
    QUEUE_ROUNDS=5
    QUEUE_TX=6000
fi
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

# check_taken TOPIC TABLE N_OURS N_BASE [N]: each side's transactions took
# 10 of the N (QUEUE_MESSAGES) messages each.
check_taken() {
    local left_ours left_base messages=${5:-$QUEUE_MESSAGES}
    read -r left_ours left_base <<<"$(queue_left "$1" "$2")"
    [ "$left_ours" = $((messages - 10 * $3)) ] && [ "$left_base" = $((messages - 10 * $4)) ] ||
        die "queue: after $3 and $4 transactions of 10, $1 holds $left_ours messages and $2 $left_base rows (of $messages)"
}

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

# queue_round SIDE_OURS SIDE_BASE: one mixed run of consume and SKIP LOCKED
# from a fresh queue and table; adds each side's figure to RESULTS.
queue_round() {
    local n_ours lat_ours n_base lat_base
    reset_queue qq skq
    read -r n_ours lat_ours n_base lat_base <<<"$(pgb_mix queue 4 2 queue_consume skiplocked_consume \
        -t "$QUEUE_TX")"
    check_taken qq skq "$n_ours" "$n_base"
    RESULTS[$1]+="$(div 1000 "$lat_ours") "
    RESULTS[$2]+="$(div 1000 "$lat_base") "
    log "queue round: $1 $n_ours x $lat_ours ms, $2 $n_base x $lat_base ms"
}

# consume_tps CLIENTS: topics.consume() alone, 8 x QUEUE_TX transactions in
# all; prints the transactions per second.
consume_tps() {
    local clients=$1 out tps messages=$((8 * QUEUE_TX * 10 + 20000))
    reset_queue qq skq "$messages"
    out=$(pgbench_output consume -c "$clients" -j 2 -t $((8 * QUEUE_TX / clients)) \
        -f "$SQLDIR/queue_consume.sql") || exit 1
    tps=$(sed -n 's/^tps = \([0-9.]*\) (without initial connection time)$/\1/p' <<<"$out")
    [ -n "$tps" ] || { printf '%s\n' "$out" >&2; die "no tps in the output of pgbench consume"; }
    check_taken qq skq $((8 * QUEUE_TX / clients * clients)) 0 "$messages"
    echo "$tps"
}

run_queue() {
    local r n_ours lat_ours n_base lat_base t4 t64
    log "queue: warm-up"
    reset_queue qq skq
    pgb_mix queue 4 2 queue_consume skiplocked_consume -t 500 >/dev/null
    for ((r = 0; r < QUEUE_ROUNDS; r++)); do
        queue_round ours_queue skiplocked
        queue_round ours_queue_held skiplocked_held held
        PGOPTIONS='-c pg_topics.synchronous_positions=on' queue_round ours_queue_sync skiplocked_sync
        t4=$(consume_tps 4)
        t64=$(consume_tps 64)
        RESULTS[ours_queue_4]+="$t4 "
        RESULTS[ours_queue_64]+="$t64 "
        log "queue round $((r + 1))/$QUEUE_ROUNDS: consume at 4 clients $t4 tps, at 64 $t64 tps"

        reset_queue qr skr
        read -r n_ours lat_ours n_base lat_base <<<"$(pgb_mix receive 4 2 queue_receive_ack \
            skiplocked_receive_ack -t "$QUEUE_TX")"
        check_taken qr skr "$n_ours" "$n_base"
        RESULTS[ours_receive]+="$(div 1000 "$lat_ours") "
        RESULTS[skiplocked_receive]+="$(div 1000 "$lat_base") "
        log "queue round $((r + 1))/$QUEUE_ROUNDS: receive+ack $n_ours x $lat_ours ms, pgmq-style $n_base x $lat_base ms"
    done
}

queue_measures() {
    ratio_per_round queue_vs_skiplocked ours_queue skiplocked
    ratio_per_round queue_sync_vs_skiplocked ours_queue_sync skiplocked_sync
    ratio_per_round queue_held_xmin_ratio ours_queue_held ours_queue
    ratio_per_round skiplocked_held_xmin_ratio skiplocked_held skiplocked
    ratio_per_round queue_scaling_64_over_4 ours_queue_64 ours_queue_4
    ratio_per_round receive_ack_vs_skiplocked ours_receive skiplocked_receive
    MEASURES+=(queue_vs_skiplocked queue_sync_vs_skiplocked queue_held_xmin_ratio
               skiplocked_held_xmin_ratio queue_scaling_64_over_4 receive_ack_vs_skiplocked)
    TARGET+=([queue_vs_skiplocked]='>= 1.5' [queue_sync_vs_skiplocked]='informational'
             [queue_held_xmin_ratio]='>= 0.95' [skiplocked_held_xmin_ratio]='informational'
             [queue_scaling_64_over_4]='>= 0.9' [receive_ack_vs_skiplocked]='>= 1.2')
    SIDES+=([queue_vs_skiplocked]='ours_queue skiplocked'
            [queue_sync_vs_skiplocked]='ours_queue_sync skiplocked_sync'
            [queue_held_xmin_ratio]='ours_queue_held ours_queue'
            [skiplocked_held_xmin_ratio]='skiplocked_held skiplocked'
            [queue_scaling_64_over_4]='ours_queue_64 ours_queue_4'
            [receive_ack_vs_skiplocked]='ours_receive skiplocked_receive')
    UNITS+=([ours_queue]="1000 / average ms, topics.consume of 10 (autocommit), 4 clients mixed at random with skiplocked, $QUEUE_TX transactions per client"
            [skiplocked]='1000 / average ms, SELECT 10 FOR UPDATE SKIP LOCKED + DELETE in one statement, mixed with ours_queue'
            [ours_queue_sync]='as ours_queue, with pg_topics.synchronous_positions on (the commit waits for its flush)'
            [skiplocked_sync]='as skiplocked, in the runs of ours_queue_sync'
            [ours_queue_held]='as ours_queue, while a REPEATABLE READ transaction holds a snapshot for the whole run'
            [skiplocked_held]='as skiplocked, while the snapshot is held'
            [ours_queue_4]="transactions/s, topics.consume of 10, 4 clients, $((8 * QUEUE_TX)) transactions"
            [ours_queue_64]="transactions/s, topics.consume of 10, 64 clients, $((8 * QUEUE_TX)) transactions"
            [ours_receive]='1000 / average ms, topics.receive of 10 then topics.ack of them (two transactions), mixed with skiplocked_receive'
            [skiplocked_receive]='1000 / average ms, pgmq read (UPDATE vt of 10 rows locked SKIP LOCKED) then DELETE of them (two transactions)')
}

# The --scale part of test/bench/run: how the cost of producing grows with
# the number of segments, partitions, topics, groups and members, as ratios
# of a large case to a small one measured in the same runs.  Sourced by
# run, whose helpers (sql, pgb_mix, median, div, per_second, log, die) and
# tables (RESULTS, RATIOS, MEASURES, TARGET, SIDES, UNITS) it uses.

SCALE_GROUPS=(segments partitions topics groups members)

# Settings of the scale runs, beyond those of every run: PostgreSQL's
# defaults (the lock table among them) that run lowers, and room for the
# partitions of every group in one server (4,000 + 1,000 and some).
SCALE_SETTINGS=("max_connections = 100" "pg_topics.max_partitions = 8192")

if [ "$QUICK" -eq 1 ]; then
    SCALE_SECS=4        # pgbench -T of one mixed run
    SCALE_ROUNDS=3
else
    SCALE_SECS=15
    SCALE_ROUNDS=5
fi

# Segments: produce_batch (1000 messages of 100 B, 1 client) into a
# partition of SEG_MANY segments and into one of SEG_FEW, in the same
# pgbench runs, each transaction picking a side at random.  Both topics have
# segments of SEG_MESSAGES offsets, so a run rolls both over every
# SEG_MESSAGES / 1000 of their transactions: what is measured is producing
# and rolling over at either count.  The partitions are filled beforehand
# with 1-byte messages, in batches of 20 segments.
SEG_MESSAGES=10000
SEG_FEW=40
SEG_MANY=2000

# fill_segments TOPIC N: produce into TOPIC until its partition has N
# segments (the last one partly filled).
fill_segments() {
    local topic=$1 n=$2 have batch
    while :; do
        have=$(sql "SELECT count(*) FROM topics.segments WHERE topic = '$topic'")
        ((have < n)) || break
        batch=$(((n - have < 20 ? n - have : 20) * SEG_MESSAGES))
        sql "SELECT count(*) FROM topics.produce_batch('$topic',
                 ARRAY(SELECT '\\x78'::bytea FROM generate_series(1, $batch)))" >/dev/null
    done
}

setup_segments() {
    log "segments: filling a partition to $SEG_FEW and one to $SEG_MANY segments of $SEG_MESSAGES offsets"
    sql "SELECT topics.create_topic('segfew', 1, config => '{\"segment.messages\": $SEG_MESSAGES}');
         SELECT topics.create_topic('segmany', 1, config => '{\"segment.messages\": $SEG_MESSAGES}');" >/dev/null
    fill_segments segfew "$SEG_FEW"
    fill_segments segmany "$SEG_MANY"
    sql "VACUUM ANALYZE topics.segment; CHECKPOINT" >/dev/null
}

run_segments() {
    local r n_few lat_few n_many lat_many segs_few segs_many
    setup_segments
    log "segments: warm-up"
    pgb_mixed segments 1 produce_batch_segfew produce_batch_segmany -t 100 >/dev/null
    for ((r = 0; r < SCALE_ROUNDS; r++)); do
        sql CHECKPOINT >/dev/null
        read -r n_few lat_few n_many lat_many <<<"$(pgb_mixed segments 1 \
            produce_batch_segfew produce_batch_segmany -T "$SCALE_SECS")"
        IFS='|' read -r segs_few segs_many <<<"$(sql "
            SELECT (SELECT count(*) FROM topics.segments WHERE topic = 'segfew'),
                   (SELECT count(*) FROM topics.segments WHERE topic = 'segmany')")"
        RESULTS[seg_few]+="$(per_second 1000 "$lat_few") "
        RESULTS[seg_many]+="$(per_second 1000 "$lat_many") "
        log "segments round $((r + 1))/$SCALE_ROUNDS: few $n_few x $lat_few ms (now $segs_few segments)," \
            "many $n_many x $lat_many ms (now $segs_many segments)"
    done
    ratio_per_round segments_2000_over_40 seg_many seg_few
}

# Partitions: a topic of PARTS partitions against one of 1.  create_topic
# of PARTS partitions is timed until every partition is made, by the
# segment makers after the call returns (create_topic_4000_s), and until
# it returns (create_topic_4000_return_s); PostgreSQL's floor beside it,
# the same tables without partitioning, by one session and by two.  Batches of 1000
# keyed messages (random keys, so spread over about 880 partitions) at one
# client, and single keyed messages at 8 clients, each into both topics in
# the same pgbench runs.  Plain SQL doing the same writes (INSERT of the
# same 1000 rows into a table hash partitioned into PARTS partitions, each
# with an index, against one of 1) is measured alongside, in the same runs:
# PostgreSQL's own cost of writing to that many tables.
PARTS=4000

# Seconds (two decimals) from $1, a time as date +%s.%N prints it, to now.
seconds_since() {
    awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }'
}

# Seconds (two decimals) that two sessions take, each running one of the
# statements $1 and $2, side by side.
two_sessions_s() {
    local t0
    t0=$(date +%s.%N)
    sql "$1" >/dev/null &
    sql "$2" >/dev/null
    wait
    seconds_since "$t0"
}

# PostgreSQL's floor for a topic's layout: the statements the segment
# makers run, in plain SQL, by two sessions, each its half in whole groups,
# on tables named with prefix $1; prints the seconds.  A root LIST
# partitioned, groups of 64 partitions made and attached in transactions of
# their own, then per partition a table RANGE partitioned, its first
# segment PARTITION OF it with its unique index, the partition attached to
# its group and a row recorded; 64 partitions per transaction.  Run once
# before create_topic and once after, as which side comes first pays more
# for files (this machine's ext4 skips recently freed inodes when it
# creates a file).
layout_2_sessions_s() {
    local pre=$1 half=$((PARTS / 2 / 64 * 64))
    sql "CREATE TABLE ${pre}root (partition integer NOT NULL, msg_offset bigint NOT NULL,
                                  \"timestamp\" timestamptz NOT NULL DEFAULT now(),
                                  key bytea, value bytea, headers jsonb)
           PARTITION BY LIST (partition);
         CREATE TABLE ${pre}segment (partition int, base_offset bigint, end_offset bigint);
         CREATE PROCEDURE ${pre}make(lo int, hi int) LANGUAGE plpgsql AS \$\$
         BEGIN
           FOR p IN lo .. hi - 1 LOOP
             IF p % 64 = 0 THEN
               EXECUTE format('CREATE TABLE ${pre}g%s (LIKE ${pre}root INCLUDING DEFAULTS)
                               PARTITION BY LIST (partition)', p);
               EXECUTE format('ALTER TABLE ${pre}root ATTACH PARTITION ${pre}g%s FOR VALUES IN (%s)',
                              p, (SELECT string_agg(q::text, ',') FROM generate_series(p, p + 63) q));
               COMMIT;
             END IF;
             EXECUTE format('CREATE TABLE ${pre}p%s (LIKE ${pre}root INCLUDING DEFAULTS)
                             PARTITION BY RANGE (msg_offset)', p);
             EXECUTE format('CREATE TABLE ${pre}p%s_0 PARTITION OF ${pre}p%s
                             FOR VALUES FROM (0) TO (1000000)', p, p);
             EXECUTE format('CREATE UNIQUE INDEX ON ${pre}p%s_0 (msg_offset)', p);
             EXECUTE format('ALTER TABLE ${pre}g%s ATTACH PARTITION ${pre}p%s FOR VALUES IN (%s)',
                            p - p % 64, p, p);
             INSERT INTO ${pre}segment VALUES (p, 0, 1000000);
             IF p % 64 = 63 THEN COMMIT; END IF;
           END LOOP;
         END \$\$;
         CHECKPOINT;" >/dev/null
    two_sessions_s "CALL ${pre}make(0, $half)" "CALL ${pre}make($half, $PARTS)"
    sql CHECKPOINT >/dev/null
}

setup_partitions() {
    local t0 p layout_before layout_after
    layout_before=$(layout_2_sessions_s pla_)
    log "partitions: creating a topic of $PARTS partitions"
    sql CHECKPOINT >/dev/null
    t0=$(date +%s.%N)
    sql "SELECT topics.create_topic('p$PARTS', $PARTS)" >/dev/null
    RATIOS[create_topic_4000_return_s]=$(seconds_since "$t0")
    # a partition is made once its first segment is recorded; one session
    # looks, as a new session every 50 ms (a process or three each) would
    # take the makers' CPU
    sql "DO \$\$ BEGIN
           LOOP
             EXIT WHEN (SELECT count(*) FROM topics.segment WHERE topic = 'p$PARTS') >= $PARTS;
             PERFORM pg_sleep(0.05);
             COMMIT;
           END LOOP;
         END \$\$" >/dev/null
    RATIOS[create_topic_4000_s]=$(seconds_since "$t0")
    log "partitions: create_topic of $PARTS partitions returned after" \
        "${RATIOS[create_topic_4000_return_s]} s, all made after ${RATIOS[create_topic_4000_s]} s"
    sql "SELECT topics.create_topic('p1', 1);
         CREATE TABLE pl1 (key bytea, value bytea, id bigint) PARTITION BY HASH (key);
         CREATE TABLE pl1_0 PARTITION OF pl1 FOR VALUES WITH (MODULUS 1, REMAINDER 0);
         CREATE INDEX ON pl1 (id);
         CREATE TABLE pl$PARTS (key bytea, value bytea, id bigint) PARTITION BY HASH (key);
         CREATE INDEX ON pl$PARTS (id);" >/dev/null
    for ((p = 0; p < PARTS; p += 500)); do
        sql "DO \$\$ BEGIN FOR r IN $p .. $((p + 499)) LOOP
               EXECUTE format('CREATE TABLE pl${PARTS}_%s PARTITION OF pl$PARTS
                               FOR VALUES WITH (MODULUS $PARTS, REMAINDER %s)', r, r);
             END LOOP; END \$\$" >/dev/null
    done
    # PostgreSQL's floor for the tables alone: PARTS plain tables shaped as
    # a topic's, each with its unique index (and its TOAST table), 64 per
    # transaction as the segment maker makes them, no partitioning; by one
    # session, then by as many as a database runs makers (two), each making
    # its half, as the makers do
    sql "CREATE TABLE plc_root (LIKE topics_data.p1 INCLUDING DEFAULTS);
         CREATE PROCEDURE plc_make(pre text, lo int, hi int) LANGUAGE plpgsql AS \$\$
         BEGIN
           FOR i IN lo .. hi - 1 LOOP
             EXECUTE format('CREATE TABLE %I (LIKE plc_root INCLUDING DEFAULTS)', pre || i);
             EXECUTE format('CREATE UNIQUE INDEX ON %I (msg_offset)', pre || i);
             IF i % 64 = 63 THEN COMMIT; END IF;
           END LOOP;
         END \$\$;
         CHECKPOINT;" >/dev/null
    t0=$(date +%s.%N)
    sql "CALL plc_make('plc_', 0, $PARTS)" >/dev/null
    RATIOS[plain_create_4000_s]=$(seconds_since "$t0")
    RATIOS[create_topic_4000_over_plain]=$(awk -v a="${RATIOS[create_topic_4000_s]}" \
        -v b="${RATIOS[plain_create_4000_s]}" 'BEGIN { printf "%.2f", a / b }')
    log "partitions: $PARTS plain tables with their indexes made after ${RATIOS[plain_create_4000_s]} s"
    sql CHECKPOINT >/dev/null
    RATIOS[plain_create_4000_2_sessions_s]=$(two_sessions_s "CALL plc_make('pld_', 0, $((PARTS / 2)))" \
        "CALL plc_make('pld_', $((PARTS / 2)), $PARTS)")
    log "partitions: $PARTS plain tables with their indexes made by two sessions after" \
        "${RATIOS[plain_create_4000_2_sessions_s]} s"
    layout_after=$(layout_2_sessions_s plb_)
    RATIOS[plain_layout_4000_2_sessions_s]=$(awk -v a="$layout_before" -v b="$layout_after" \
        'BEGIN { printf "%.2f", (a + b) / 2 }')
    RATIOS[create_topic_4000_over_layout]=$(awk -v a="${RATIOS[create_topic_4000_s]}" \
        -v b="${RATIOS[plain_layout_4000_2_sessions_s]}" 'BEGIN { printf "%.2f", a / b }')
    log "partitions: a topic's layout of $PARTS partitions made in plain SQL by two sessions after" \
        "$layout_before s (before create_topic) and $layout_after s (after)"
    sql CHECKPOINT >/dev/null
}

run_partitions() {
    local r n_o1 lat_o1 n_on lat_on n_p1 lat_p1 n_pn lat_pn
    setup_partitions
    log "partitions: warm-up (every partition once)"
    sql "SELECT count(*) FROM generate_series(0, $PARTS - 1) p,
             LATERAL topics.produce('p$PARTS', '\\x77'::bytea, partition => p)" >/dev/null
    pgb_mix partitions 1 4 produce_batch_keyed_p1 produce_batch_keyed_p$PARTS \
        insert_batch_pl1 insert_batch_pl$PARTS -t 40 >/dev/null
    for ((r = 0; r < SCALE_ROUNDS; r++)); do
        sql CHECKPOINT >/dev/null
        read -r n_o1 lat_o1 n_on lat_on n_p1 lat_p1 n_pn lat_pn <<<"$(pgb_mix partitions 1 4 \
            produce_batch_keyed_p1 produce_batch_keyed_p$PARTS insert_batch_pl1 insert_batch_pl$PARTS \
            -T "$SCALE_SECS")"
        RESULTS[part_batch_1]+="$(per_second 1000 "$lat_o1") "
        RESULTS[part_batch_n]+="$(per_second 1000 "$lat_on") "
        RESULTS[plain_batch_1]+="$(per_second 1000 "$lat_p1") "
        RESULTS[plain_batch_n]+="$(per_second 1000 "$lat_pn") "
        log "partitions batch round $((r + 1))/$SCALE_ROUNDS: ours 1 $n_o1 x $lat_o1 ms, ours $PARTS $n_on x $lat_on ms," \
            "plain 1 $n_p1 x $lat_p1 ms, plain $PARTS $n_pn x $lat_pn ms"
    done
    ratio_per_round partitions_4000_batch_over_1 part_batch_n part_batch_1
    ratio_per_round plain_partitions_4000_batch_over_1 plain_batch_n plain_batch_1
    for ((r = 0; r < SCALE_ROUNDS; r++)); do
        sql CHECKPOINT >/dev/null
        read -r n_o1 lat_o1 n_on lat_on n_p1 lat_p1 n_pn lat_pn <<<"$(pgb_mix partitions 8 4 \
            produce_single_keyed_p1 produce_single_keyed_p$PARTS insert_single_pl1 insert_single_pl$PARTS \
            -T "$SCALE_SECS")"
        RESULTS[part_single_1]+="$(per_second 8 "$lat_o1") "
        RESULTS[part_single_n]+="$(per_second 8 "$lat_on") "
        RESULTS[plain_single_1]+="$(per_second 8 "$lat_p1") "
        RESULTS[plain_single_n]+="$(per_second 8 "$lat_pn") "
        log "partitions single round $((r + 1))/$SCALE_ROUNDS: ours 1 $n_o1 x $lat_o1 ms, ours $PARTS $n_on x $lat_on ms," \
            "plain 1 $n_p1 x $lat_p1 ms, plain $PARTS $n_pn x $lat_pn ms"
    done
    ratio_per_round partitions_4000_single_over_1 part_single_n part_single_1
    ratio_per_round plain_partitions_4000_single_over_1 plain_single_n plain_single_1
}

# Topics: 8 clients producing single keyed messages, each to one of 1000
# topics of 1 partition picked at random, against 8 clients producing to
# one topic, in the same pgbench runs; beside them plain SQL inserting the
# same rows into one of 1000 tables (list partitions) at random, against
# one.
run_topics() {
    local r n_1 lat_1 n_n lat_n
    log "topics: creating 1000 topics"
    # a transaction per topic: one for all would hold 6 locks per topic
    sql "SELECT topics.create_topic('t1', 1);
         $(for ((i = 1; i <= 1000; i++)); do echo "SELECT topics.create_topic('tt$i', 1);"; done)" >/dev/null
    sql "CREATE TABLE plt1 (t int, key bytea, value bytea, id bigint) PARTITION BY LIST (t);
         CREATE TABLE plt1_1 PARTITION OF plt1 FOR VALUES IN (1);
         CREATE INDEX ON plt1 (id);
         CREATE TABLE plt1000 (t int, key bytea, value bytea, id bigint) PARTITION BY LIST (t);
         CREATE INDEX ON plt1000 (id);
         DO \$\$ BEGIN FOR r IN 1 .. 1000 LOOP
           EXECUTE format('CREATE TABLE plt1000_%s PARTITION OF plt1000 FOR VALUES IN (%s)', r, r);
         END LOOP; END \$\$;" >/dev/null
    pgb_mix topics 8 4 produce_single_topics1 produce_single_topics1000 \
        insert_single_plt1 insert_single_plt1000 -t 500 >/dev/null
    for ((r = 0; r < SCALE_ROUNDS; r++)); do
        sql CHECKPOINT >/dev/null
        read -r n_1 lat_1 n_n lat_n n_p1 lat_p1 n_pn lat_pn <<<"$(pgb_mix topics 8 4 \
            produce_single_topics1 produce_single_topics1000 insert_single_plt1 insert_single_plt1000 \
            -T "$SCALE_SECS")"
        RESULTS[topics_single_1]+="$(per_second 8 "$lat_1") "
        RESULTS[topics_single_n]+="$(per_second 8 "$lat_n") "
        RESULTS[plain_tables_single_1]+="$(per_second 8 "$lat_p1") "
        RESULTS[plain_tables_single_n]+="$(per_second 8 "$lat_pn") "
        log "topics round $((r + 1))/$SCALE_ROUNDS: 1 topic $n_1 x $lat_1 ms, 1000 topics $n_n x $lat_n ms," \
            "plain 1 table $n_p1 x $lat_p1 ms, 1000 tables $n_pn x $lat_pn ms"
    done
    ratio_per_round topics_1000_random_over_1 topics_single_n topics_single_1
    ratio_per_round plain_tables_1000_random_over_1 plain_tables_single_n plain_tables_single_1
}

# Groups: 8 clients producing single messages into topic gq (4
# partitions), alone and while GROUPS_N groups of one member each
# long-poll it (a pgbench client per member, poll_group.sql: up to 1000
# messages, waiting up to 1 s for 500), in alternating runs.  Plain SQL
# doing the same work runs in the same rounds: 8 clients INSERT into table
# plain_gq, alone and while GROUPS_N readers each read it past a position
# of their own (select_group_gq.sql: up to 1000 rows, then 100 ms of sleep
# when fewer than 500 came).  After each run with the readers, the largest
# lag of a group (of a reader) is printed: every one keeps up when it stays
# within a batch or two.
GROUPS_N=50

# groups_run SIDE PRODUCER READER CATCH_UP LAG: a run of the producers'
# script alone, then one while GROUPS_N clients run the readers' script,
# which begin after CATCH_UP; LAG is the query of the largest lag.
groups_run() {
    local side=$1 producer=$2 reader=$3 catch_up=$4 lag_sql=$5 tps lag pid
    sql CHECKPOINT >/dev/null
    tps=$(pgb "$producer" 8 -T "$SCALE_SECS")
    RESULTS[${side}_none]+="$tps "
    log "groups round $((r + 1))/$SCALE_ROUNDS, $side: alone $tps rows/s"
    sql "$catch_up" >/dev/null
    as_pg pgbench -n -M prepared -h "$ROOT" -p "$PORT" -U postgres -c "$GROUPS_N" -j 2 \
        -f "$SQLDIR/$reader.sql" -T "$((SCALE_SECS + 2))" bench >/dev/null 2>&1 &
    pid=$!
    sleep 1
    tps=$(pgb "$producer" 8 -T "$SCALE_SECS")
    lag=$(sql "$lag_sql")
    wait "$pid" || die "the readers' pgbench ($reader) failed"
    RESULTS[${side}_50]+="$tps "
    log "groups round $((r + 1))/$SCALE_ROUNDS, $side: with $GROUPS_N readers $tps rows/s;" \
        "largest lag of a reader at the end of the producers' run: $lag messages"
}

run_groups() {
    local r
    log "groups: topic gq, $GROUPS_N groups of one member; table plain_gq, $GROUPS_N readers"
    sql "SELECT topics.create_topic('gq', 4);
         SELECT count(*) FROM generate_series(1, $GROUPS_N) g,
                LATERAL topics.join('g' || g, 'gq', 'm', session_timeout => '1 hour');
         CREATE TABLE plain_gq (id bigserial PRIMARY KEY, v bytea);
         CREATE TABLE plain_gpos (g integer PRIMARY KEY, pos bigint NOT NULL);
         INSERT INTO plain_gpos SELECT g, 0 FROM generate_series(1, $GROUPS_N) g" >/dev/null
    pgb produce_single_gq 8 -t 500 >/dev/null
    pgb insert_single_gq 8 -t 500 >/dev/null
    for ((r = 0; r < SCALE_ROUNDS; r++)); do
        # the readers catch up first, then read through the producers' run
        groups_run groups produce_single_gq poll_group \
            "SELECT count(*) FROM generate_series(1, $GROUPS_N) g,
                    LATERAL topics.poll('g' || g, 'gq', 'm', 1000000)" \
            "SELECT max(l) FROM (SELECT sum(lag) AS l FROM topics.group_lag
                                  WHERE topic = 'gq' GROUP BY group_name) s"
        groups_run plain_groups insert_single_gq select_group_gq \
            "UPDATE plain_gpos SET pos = (SELECT max(id) FROM plain_gq)" \
            "SELECT max(id) - min(pos) FROM plain_gq, plain_gpos"
    done
    ratio_per_round groups_50_producer_ratio groups_50 groups_none
    ratio_per_round plain_groups_50_producer_ratio plain_groups_50 plain_groups_none
}

# Members: 64 members join a new group of topic ms (64 partitions), each at
# a random moment of the same second, from backends that joined a group of
# their own before (members_join.sql), then each joins once
# more (members_resync.sql: a member added before a later rebalance learns
# of it so; none when all joined in one).  Each join logs when it began and
# ended; members_64_settle_s is the time from the first join's start until
# every member is current: the end of the first join of each member that
# returned the last generation.
MEMBERS_N=64

run_members() {
    local r settle state
    sql "SELECT topics.create_topic('ms', $MEMBERS_N);
         CREATE TABLE settle_log (g text, member text, pass integer, started timestamptz,
                                  ended timestamptz, generation integer)" >/dev/null
    for ((r = 0; r < SCALE_ROUNDS; r++)); do
        pgbench_output members -c "$MEMBERS_N" -j 2 -t 1 -D g="gs$r" -D start=$(($(date +%s) + 3)) \
            -f "$SQLDIR/members_join.sql" >/dev/null || exit 1
        pgbench_output members -c "$MEMBERS_N" -j 2 -t 1 -D g="gs$r" \
            -f "$SQLDIR/members_resync.sql" >/dev/null || exit 1
        # a member is current at the end of its first join of the last
        # generation: the first pass's, or else the second's
        settle=$(sql "SELECT round(extract(epoch FROM max(c.ended) - min(f.started))::numeric, 3)
                        FROM settle_log f,
                             LATERAL (SELECT ended FROM settle_log l
                                       WHERE l.g = f.g AND l.member = f.member
                                         AND l.generation = (SELECT max(generation) FROM settle_log
                                                              WHERE g = f.g)
                                       ORDER BY pass LIMIT 1) c
                       WHERE f.g = 'gs$r' AND f.pass = 1")
        state=$(sql "SELECT count(*) || ' members, generation ' || max(g.generation) ||
                            ', all current: ' || bool_and(m.generation = g.generation) ||
                            ', first pass joins spread over ' ||
                            (SELECT round(extract(epoch FROM max(started) - min(started))::numeric, 3)
                               FROM settle_log WHERE g = 'gs$r' AND pass = 1) || ' s'
                       FROM topics.group_member m JOIN topics.consumer_group g
                         ON g.topic = m.topic AND g.name = m.group_name
                      WHERE g.name = 'gs$r'")
        RESULTS[members_settle]+="$settle "
        log "members round $((r + 1))/$SCALE_ROUNDS: settled in $settle s; $state"
    done
    RATIOS[members_64_settle_s]=${RESULTS[members_settle]}
    run_members_wake
}

# Wake-ups: longpoll.c's poll samples (commit -> wake-up of a member's long
# poll, one member in group lg of topic lt) interleaved with those of member
# m00 of group lg64 of topic lt64 (64 partitions), while the group's 63
# other members long-poll their own partitions (members_poll.sql).
run_members_wake() {
    local r out p1 p64 pid
    sql "SET pg_topics.rebalance_delay = 0;
         SELECT topics.create_topic('lt64', 64);
         SELECT count(*) FROM generate_series(0, 63) i,
                LATERAL topics.join('lg64', 'lt64', 'm' || lpad(i::text, 2, '0'), '1 h',
                                    auto_offset_reset => 'latest');
         SELECT count(*) FROM generate_series(0, 63) i,
                LATERAL topics.join('lg64', 'lt64', 'm' || lpad(i::text, 2, '0'), '1 h');" >/dev/null
    for ((r = 0; r < SCALE_ROUNDS; r++)); do
        as_pg pgbench -n -M prepared -h "$ROOT" -p "$PORT" -U postgres -c 63 -j 2 -T 600 \
            -f "$SQLDIR/members_poll.sql" bench >/dev/null 2>&1 &
        pid=$!
        sleep 2
        out=$(as_pg "$LONGPOLL" "host=127.0.0.1 port=$PORT user=postgres dbname=bench" \
            "$LATENCY_SAMPLES" members) || die "longpoll members failed"
        # the pollers end as their backends do
        sql "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
              WHERE query LIKE '%topics.poll(''lg64''%' AND pid <> pg_backend_pid()" >/dev/null
        wait "$pid" || true
        p1=$(awk '$1 == "poll" { print $2 }' <<<"$out")
        p64=$(awk '$1 == "poll_64" { print $2 }' <<<"$out")
        [ -n "$p1" ] && [ -n "$p64" ] || die "no poll figures in the output of longpoll members: $out"
        RESULTS[wake_1]+="$p1 "
        RESULTS[wake_64]+="$p64 "
        log "members wake round $((r + 1))/$SCALE_ROUNDS: p50 $p1 ms with 1 member, $p64 ms with 64"
    done
    ratio_per_round members_64_wake_p50_over_1 wake_64 wake_1
}

scale_measures() {
    MEASURES+=(members_64_wake_p50_over_1)
    TARGET[members_64_wake_p50_over_1]='<= 1.2 (lower is better)'
    SIDES[members_64_wake_p50_over_1]='wake_64 wake_1'
    UNITS[wake_1]="ms, p50 of commit -> wake-up of a long poll, the member alone in its group ($LATENCY_SAMPLES samples a round)"
    UNITS[wake_64]='ms, the same for a member of a group of 64 whose 63 others long-poll meanwhile'
    MEASURES+=(members_64_settle_s)
    TARGET[members_64_settle_s]='<= 2 (seconds, median of the rounds, not a ratio)'
    SIDES[members_64_settle_s]=''
    MEASURES+=(groups_50_producer_ratio plain_groups_50_producer_ratio)
    TARGET[groups_50_producer_ratio]='>= 0.7'
    SIDES[groups_50_producer_ratio]='groups_50 groups_none'
    UNITS[groups_none]='rows/s (pgbench tps) at 8 clients, produce of 1 row into topic gq, nobody polling'
    UNITS[groups_50]="rows/s at 8 clients, the same while $GROUPS_N groups long-poll gq (up to 1 s for 500 messages)"
    TARGET[plain_groups_50_producer_ratio]='informational: plain SQL doing the same work'
    SIDES[plain_groups_50_producer_ratio]='plain_groups_50 plain_groups_none'
    UNITS[plain_groups_none]='rows/s at 8 clients, INSERT of 1 row into table plain_gq, nobody reading'
    UNITS[plain_groups_50]="rows/s at 8 clients, the same while $GROUPS_N readers each read plain_gq past a position of their own (up to 1000 rows; 100 ms of sleep after fewer than 500)"
    MEASURES+=(topics_1000_random_over_1 plain_tables_1000_random_over_1)
    TARGET[plain_tables_1000_random_over_1]='informational: plain SQL doing the same writes'
    SIDES[plain_tables_1000_random_over_1]='plain_tables_single_n plain_tables_single_1'
    UNITS[plain_tables_single_1]='rows/s at 8 clients = 8 x 1000 / average ms, INSERT of 1 row into a table of 1 list partition'
    UNITS[plain_tables_single_n]='rows/s at 8 clients = 8 x 1000 / average ms, INSERT of 1 row into one of 1000 list partitions at random'
    TARGET[topics_1000_random_over_1]='>= 0.9'
    SIDES[topics_1000_random_over_1]='topics_single_n topics_single_1'
    UNITS[topics_single_1]='rows/s at 8 clients = 8 x 1000 / average ms, produce of 1 keyed row into one topic'
    UNITS[topics_single_n]='rows/s at 8 clients = 8 x 1000 / average ms, produce of 1 keyed row into one of 1000 topics at random'
    MEASURES+=(create_topic_4000_s create_topic_4000_return_s plain_create_4000_s plain_create_4000_2_sessions_s create_topic_4000_over_plain
               plain_layout_4000_2_sessions_s create_topic_4000_over_layout
               partitions_4000_batch_over_1 plain_partitions_4000_batch_over_1
               partitions_4000_single_over_1 plain_partitions_4000_single_over_1)
    TARGET[create_topic_4000_s]='<= 10 (seconds until every partition is made, not a ratio; default lock table)'
    TARGET[create_topic_4000_return_s]='informational: seconds until create_topic returns'
    TARGET[plain_create_4000_s]="informational: seconds for $PARTS plain tables shaped as a topic's, each with its unique index, 64 per transaction"
    TARGET[create_topic_4000_over_plain]='informational: create_topic_4000_s over plain_create_4000_s'
    TARGET[plain_create_4000_2_sessions_s]="informational: the same $PARTS plain tables made by two sessions, half each"
    TARGET[plain_layout_4000_2_sessions_s]="informational: seconds for the statements that make a topic of $PARTS partitions (groups, partition tables, first segments with their indexes, attached, a row each), in plain SQL by two sessions, half each; the mean of a run before create_topic and one after"
    TARGET[create_topic_4000_over_layout]='informational: create_topic_4000_s over plain_layout_4000_2_sessions_s'
    TARGET[partitions_4000_batch_over_1]='>= 0.5'
    TARGET[plain_partitions_4000_batch_over_1]='informational: plain SQL doing the same writes'
    TARGET[partitions_4000_single_over_1]='>= 0.9'
    SIDES[create_topic_4000_s]=''
    SIDES[create_topic_4000_return_s]=''
    SIDES[plain_create_4000_s]=''
    SIDES[create_topic_4000_over_plain]=''
    SIDES[plain_create_4000_2_sessions_s]=''
    SIDES[plain_layout_4000_2_sessions_s]=''
    SIDES[create_topic_4000_over_layout]=''
    SIDES[partitions_4000_batch_over_1]='part_batch_n part_batch_1'
    SIDES[plain_partitions_4000_batch_over_1]='plain_batch_n plain_batch_1'
    SIDES[partitions_4000_single_over_1]='part_single_n part_single_1'
    SIDES[plain_partitions_4000_single_over_1]='plain_single_n plain_single_1'
    TARGET[plain_partitions_4000_single_over_1]='informational: plain SQL doing the same writes'
    UNITS[part_batch_1]='rows/s, 1 client, produce_batch of 1000 keyed rows into a topic of 1 partition'
    UNITS[part_batch_n]="rows/s, 1 client, produce_batch of 1000 keyed rows into a topic of $PARTS partitions"
    UNITS[plain_batch_1]='rows/s, 1 client, INSERT of the same 1000 rows into a table of 1 hash partition'
    UNITS[plain_batch_n]="rows/s, 1 client, INSERT of the same 1000 rows into a table of $PARTS hash partitions"
    UNITS[part_single_1]='rows/s at 8 clients = 8 x 1000 / average ms, produce of 1 keyed row into a topic of 1 partition'
    UNITS[part_single_n]="rows/s at 8 clients = 8 x 1000 / average ms, produce of 1 keyed row into a topic of $PARTS partitions"
    UNITS[plain_single_1]='rows/s at 8 clients = 8 x 1000 / average ms, INSERT of 1 row into a table of 1 hash partition'
    UNITS[plain_single_n]="rows/s at 8 clients = 8 x 1000 / average ms, INSERT of 1 row into a table of $PARTS hash partitions"
    MEASURES+=(segments_2000_over_40)
    TARGET[segments_2000_over_40]='>= 0.95'
    SIDES[segments_2000_over_40]='seg_many seg_few'
    UNITS[seg_many]="rows/s, 1 client, produce_batch of 1000 rows into a partition of $SEG_MANY segments of $SEG_MESSAGES offsets, mixed at random with seg_few"
    UNITS[seg_few]="rows/s, 1 client, produce_batch of 1000 rows into a partition of $SEG_FEW segments of $SEG_MESSAGES offsets"
}

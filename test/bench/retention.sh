# shellcheck shell=bash
# The retention group of test/bench/run: reclaiming old messages and
# compacting a topic, and what that costs producers.  Sourced by run, whose
# helpers (sql, pgbench_output, median, div, log, die, as_pg) and tables
# (RESULTS, RATIOS, MEASURES, TARGET, SIDES, UNITS) it uses.
#
# The server's own maintenance rounds are put off for the group
# (pg_topics.maintenance_interval = 1h, set with ALTER SYSTEM and reset at
# the end, so that other groups keep the default): only the calls of
# topics.run_maintenance() below run maintenance.
#
# - retention_drop_vs_delete: reclaiming RETENTION_MESSAGES expired
#   messages.  Each round makes anew a stream topic whose first segment
#   holds exactly those messages (segment.messages RETENTION_MESSAGES, as the
#   default 1,000,000 of a full run; retention.ms 1 h, segment.ms so large
#   that the old timestamps roll nothing over) and a plain table (id bigint PRIMARY KEY, as the
#   segments' unique btree on msg_offset; ts, key, value), holding the
#   same rows: RETENTION_MESSAGES of 100 B, key 'k'||i, timestamped two
#   hours ago, then RETENTION_FRESH of now, so that the old segments are
#   sealed and not the last.  Both are VACUUM ANALYZEd (hour-old rows
#   autovacuum would have seen), then each side runs after a CHECKPOINT,
#   in one session, timed by the server's clock in a procedure that
#   commits each step (which-first alternates by round), once the worker
#   has measured the sealed segment's newest timestamp (it does so as the
#   stable offset seals a segment, as Kafka keeps a segment's largest
#   timestamp while writing it):
#     ours: topics.run_maintenance() (retention moves the log start), then
#           again until no segment lies wholly below the log start
#           (reclaim drops it once every snapshot sees the move: the second
#           call);
#     plain: DELETE FROM rplain WHERE ts < now() - interval '1 hour'
#           (autovacuum is off; no VACUUM in the timed part).
#   A side's figure is the messages it reclaimed per second, the ratio
#   ours / plain (= the DELETE's time over ours).  Afterwards a fetch from
#   offset 0 must return the fresh messages only, the table must hold them
#   only; retention_dead_tuples_drop and retention_dead_tuples_delete are
#   the dead tuples each side left (n_dead_tup after
#   pg_stat_force_next_flush(): the topic's tables in topics_data, the
#   plain table).  The details give our time split into the first call
#   (retention) and the drops, and the time of a VACUUM of the table after
#   the DELETE (after both sides; the debt the DELETE leaves, in no ratio).
# - produce_during_maintenance: topics.produce() of one keyed message per
#   transaction (produce_single_maint.sql, 10,000 keys) at 4 clients into
#   a topic with cleanup.policy delete,compact, segments of MAINT_SEGMENT
#   messages, retention.ms MAINT_RETENTION_MS and min.compaction.lag.ms 0,
#   while a procedure in another session calls topics.run_maintenance() on
#   it every MAINT_PAUSE_SECS (the worker at pg_topics.maintenance_interval
#   = 100ms, 3000 times as often as Kafka's default check), over the same
#   without that loop.  On this shared
#   machine throughput swings by a factor of two from one run to the next,
#   so the two conditions are not separate runs: each round is one pgbench
#   run in which the loop is on and off by turns, in phases of
#   MAINT_PHASE_SECS seconds (the project's rule: both sides meet the same
#   conditions), and pgbench's per-transaction log says which phase each
#   transaction ended in (the first MAINT_GUARD_SECS of a phase are left
#   out: a call begun before may still run).  Phases cycle over three
#   kinds: off; on (run_maintenance of the topic produced to); and idle,
#   the same loop on a topic nobody writes to, which does no work but
#   takes the CPU the loop takes (this machine has 2 cores):
#   produce_during_idle_maintenance (idle over off) and
#   produce_during_maintenance_vs_idle_loop (on over idle), informational,
#   tell that cost from the cost of the work and its locks.  The round's
#   kind of first phase rotates.  Each round starts from fresh topics and
#   a CHECKPOINT; the ratio is the messages per second of on phases over
#   off phases.
# - compaction_rate_msgs_per_s, compaction_size_ratio (informational):
#   a compacted topic (segments of 100,000, min.compaction.lag.ms 0,
#   delete.retention.ms 1 day) of COMPACTION_MESSAGES messages over 10,000
#   keys ('k' || (i % 10000)) and RETENTION_FRESH more, VACUUM ANALYZEd,
#   after a CHECKPOINT: topics.run_maintenance() until compaction, having
#   compacted, compacts nothing in a call, timed to the end of the last
#   call that compacted.  The rate is the messages of the sealed segments
#   over that time; the size ratio, the bytes of the topic's segments
#   (topics_internal.segment_size) after over before.  Afterwards a fetch
#   from offset 0 must return 10,000 keys in at most 10,000 +
#   RETENTION_FRESH messages; the details count the sealed segments left
#   empty (compaction keeps them, as empty tables).

if [ "$QUICK" -eq 1 ]; then
    RETENTION_MESSAGES=200000
    RETENTION_ROUNDS=3
    MAINT_ROUNDS=3
    MAINT_PHASES=12         # phases of one round (a multiple of 3)
    MAINT_PHASE_SECS=0.5
    COMPACTION_MESSAGES=200000
    COMPACTION_ROUNDS=3
else
    RETENTION_MESSAGES=1000000
    RETENTION_ROUNDS=5
    MAINT_ROUNDS=5
    MAINT_PHASES=36
    MAINT_PHASE_SECS=0.75
    COMPACTION_MESSAGES=1000000
    COMPACTION_ROUNDS=3
fi
RETENTION_FRESH=10
MAINT_CLIENTS=4
MAINT_RETENTION_MS=3000
# Small segments, so that several seal in every run, even on a slow run
# of this shared machine (2,000 messages/s and less): at 20,000 a quick run
# sealed none, and the loop had no work to do.
MAINT_SEGMENT=5000
MAINT_GUARD_SECS=0.1
MAINT_PAUSE_SECS=0.1

# retention_fill TOPIC FROM TO KEYMOD TS: SQL producing messages FROM to TO
# (1000 at a time; TO - FROM + 1 a multiple of 1000, or fewer than 1000) to
# TOPIC: value lpad(i, 100, 'v'), key 'k' || i (KEYMOD 0) or
# 'k' || (i % KEYMOD), timestamp TS (an SQL expression).
retention_fill() {
    local topic=$1 from=$2 to=$3 keymod=$4 ts=$5 key=i
    [ "$keymod" -eq 0 ] || key="(i % $keymod)"
    printf '%s\n' "DO \$\$ BEGIN
       FOR b IN 0 .. greatest(($to - $from + 1) / 1000, 1) - 1 LOOP
         PERFORM topics.produce_batch('$topic',
           ARRAY(SELECT convert_to(lpad(i::text, 100, 'v'), 'UTF8')
                   FROM generate_series($from + b * 1000, least($from + b * 1000 + 999, $to)) AS i),
           ARRAY(SELECT convert_to('k' || $key, 'UTF8')
                   FROM generate_series($from + b * 1000, least($from + b * 1000 + 999, $to)) AS i),
           \"timestamp\" => $ts);
       END LOOP;
     END \$\$;"
}

# The procedures that time and drive maintenance, in the server: each step
# commits, as the worker's would, so that a later call sees the earlier
# one's log start move (and the caller holds no snapshot meanwhile).
retention_setup() {
    log "retention: pg_topics.maintenance_interval = 1h for the group"
    sql "ALTER SYSTEM SET pg_topics.maintenance_interval = '1h'; SELECT pg_reload_conf();" >/dev/null
    for _ in $(seq 1 100); do
        [ "$(sql 'SHOW pg_topics.maintenance_interval')" = 1h ] && break
        sleep 0.1
    done
    [ "$(sql 'SHOW pg_topics.maintenance_interval')" = 1h ] ||
        die "retention: pg_topics.maintenance_interval did not change"
    sql "
CREATE OR REPLACE PROCEDURE bench_reclaim(t text, INOUT first_ms float8 DEFAULT NULL,
                                          INOUT total_ms float8 DEFAULT NULL,
                                          INOUT calls int DEFAULT NULL)
LANGUAGE plpgsql AS \$\$
DECLARE
    t0 timestamptz := clock_timestamp();
    err text;
BEGIN
    calls := 0;
    LOOP
        SELECT string_agg(job || ': ' || error, '; ') INTO err
          FROM topics.run_maintenance(t) WHERE last_error_at >= now();
        COMMIT;
        IF err IS NOT NULL THEN
            RAISE EXCEPTION 'run_maintenance(%): %', t, err;
        END IF;
        calls := calls + 1;
        IF calls = 1 THEN
            first_ms := extract(epoch FROM clock_timestamp() - t0) * 1000;
        END IF;
        EXIT WHEN NOT EXISTS (SELECT FROM topics.segments s JOIN topics.partitions p USING (topic, partition)
                               WHERE s.topic = t AND s.end_offset <= p.log_start);
        IF calls >= 1000 THEN
            RAISE EXCEPTION 'topic % still holds segments below its log start after % calls', t, calls;
        END IF;
    END LOOP;
    total_ms := extract(epoch FROM clock_timestamp() - t0) * 1000;
END \$\$;

CREATE OR REPLACE PROCEDURE bench_delete(INOUT ms float8 DEFAULT NULL, INOUT n bigint DEFAULT NULL)
LANGUAGE plpgsql AS \$\$
DECLARE
    t0 timestamptz := clock_timestamp();
BEGIN
    DELETE FROM rplain WHERE ts < now() - interval '1 hour';
    GET DIAGNOSTICS n = ROW_COUNT;
    COMMIT;
    ms := extract(epoch FROM clock_timestamp() - t0) * 1000;
END \$\$;

-- compaction until a call compacts nothing after one that did; ms is the
-- time to the end of the last call that compacted
CREATE OR REPLACE PROCEDURE bench_compact(t text, INOUT ms float8 DEFAULT NULL,
                                          INOUT calls int DEFAULT NULL,
                                          INOUT segments bigint DEFAULT NULL)
LANGUAGE plpgsql AS \$\$
DECLARE
    t0 timestamptz := clock_timestamp();
    freed bigint;
    err text;
BEGIN
    calls := 0;
    segments := 0;
    LOOP
        SELECT max(segments_freed) FILTER (WHERE job = 'compaction'),
               string_agg(job || ': ' || error, '; ') FILTER (WHERE last_error_at >= now())
          INTO freed, err
          FROM topics.run_maintenance(t);
        COMMIT;
        IF err IS NOT NULL THEN
            RAISE EXCEPTION 'run_maintenance(%): %', t, err;
        END IF;
        calls := calls + 1;
        IF coalesce(freed, 0) > 0 THEN
            segments := segments + freed;
            ms := extract(epoch FROM clock_timestamp() - t0) * 1000;
        ELSIF segments > 0 THEN
            EXIT;
        ELSE
            PERFORM pg_sleep(0.01);
        END IF;
        IF calls >= 1000 THEN
            RAISE EXCEPTION 'compaction of topic % not done after % calls', t, calls;
        END IF;
    END LOOP;
END \$\$;

-- run_maintenance in phases of phase seconds from t0 (epoch seconds), for
-- phases phases: phase k is of kind (first + k) % 3: 0 off (sleeps), 1 on
-- the topic hot, 2 on the topic idle; a call every pause seconds, each its
-- own transaction.  Sums what the calls on hot did, counts the errors.
CREATE OR REPLACE PROCEDURE bench_maintain_phases(hot text, idle text, t0 float8, phase float8,
                                                  phases int, first int, pause float8,
                                                  INOUT hot_calls int DEFAULT 0,
                                                  INOUT idle_calls int DEFAULT 0,
                                                  INOUT rolled bigint DEFAULT 0,
                                                  INOUT expired bigint DEFAULT 0,
                                                  INOUT compacted bigint DEFAULT 0,
                                                  INOUT dropped bigint DEFAULT 0,
                                                  INOUT max_call_ms float8 DEFAULT 0,
                                                  INOUT errors int DEFAULT 0,
                                                  INOUT last_error text DEFAULT NULL)
LANGUAGE plpgsql AS \$\$
DECLARE
    now_s float8;
    k int;
    kind int;
    r record;
    started timestamptz;
BEGIN
    LOOP
        now_s := extract(epoch FROM clock_timestamp());
        EXIT WHEN now_s >= t0 + phase * phases;
        IF now_s < t0 THEN
            PERFORM pg_sleep(t0 - now_s);
            COMMIT;
            CONTINUE;
        END IF;
        k := floor((now_s - t0) / phase);
        kind := (first + k) % 3;
        IF kind = 0 THEN
            PERFORM pg_sleep(t0 + (k + 1) * phase - now_s);
            COMMIT;
            CONTINUE;
        END IF;
        started := clock_timestamp();
        FOR r IN SELECT * FROM topics.run_maintenance(CASE WHEN kind = 1 THEN hot ELSE idle END) LOOP
            IF kind = 1 THEN
                CASE r.job
                    WHEN 'roll' THEN rolled := rolled + r.segments_freed;
                    WHEN 'retention' THEN expired := expired + r.segments_freed;
                    WHEN 'compaction' THEN compacted := compacted + r.segments_freed;
                    WHEN 'reclaim' THEN dropped := dropped + r.segments_freed;
                    ELSE NULL;
                END CASE;
            END IF;
            IF r.last_error_at >= now() THEN
                errors := errors + 1;
                last_error := r.topic || ' ' || r.job || ': ' || r.error;
            END IF;
        END LOOP;
        COMMIT;
        max_call_ms := greatest(max_call_ms, extract(epoch FROM clock_timestamp() - started) * 1000);
        PERFORM pg_sleep(pause);
        COMMIT;
        IF kind = 1 THEN
            hot_calls := hot_calls + 1;
        ELSE
            idle_calls := idle_calls + 1;
        END IF;
    END LOOP;
END \$\$;" >/dev/null
}

retention_teardown() {
    sql "SELECT topics.drop_topic(name) FROM topics.topics WHERE name IN ('rt', 'rm', 'ri', 'cp');
         DROP TABLE IF EXISTS rplain;
         ALTER SYSTEM RESET pg_topics.maintenance_interval; SELECT pg_reload_conf();" >/dev/null
}

# retention_reset: topic rt and table rplain anew, with the same rows,
# VACUUM ANALYZEd; checks the topic's segments.
retention_reset() {
    local n=$RETENTION_MESSAGES f=$RETENTION_FRESH below
    sql "SELECT topics.drop_topic('rt') FROM topics.topics WHERE name = 'rt';
         SELECT topics.create_topic('rt', 1, 'stream',
             '{\"segment.messages\": $n, \"retention.ms\": 3600000, \"segment.ms\": 1000000000000}');
         $(retention_fill rt 1 "$n" 0 "now() - interval '2 hours'")
         $(retention_fill rt $((n + 1)) $((n + f)) 0 "now()")
         DROP TABLE IF EXISTS rplain;
         CREATE TABLE rplain (id bigint PRIMARY KEY, ts timestamptz NOT NULL, key bytea, value bytea);
         INSERT INTO rplain
         SELECT i - 1, now() - interval '2 hours', convert_to('k' || i, 'UTF8'),
                convert_to(lpad(i::text, 100, 'v'), 'UTF8')
           FROM generate_series(1, $n) AS i;
         INSERT INTO rplain
         SELECT i - 1, now(), convert_to('k' || i, 'UTF8'), convert_to(lpad(i::text, 100, 'v'), 'UTF8')
           FROM generate_series($n + 1, $n + $f) AS i;
         VACUUM ANALYZE rplain;
         VACUUM ANALYZE topics_data.rt;" >/dev/null
    # every old message in a sealed segment that is not the last
    below=$(sql "SELECT count(*) FROM topics.segments s JOIN topics.partitions p USING (topic, partition)
                  WHERE s.topic = 'rt' AND s.end_offset <= $n AND s.end_offset <= p.lso")
    [ "$below" = 1 ] ||
        die "retention: topic rt has $below sealed segments of old messages, not 1"
    # the worker measures a segment's newest timestamp once it is sealed, as
    # Kafka keeps a segment's largest timestamp while it writes it: not part
    # of the reclamation
    for ((i = 0; i < 300; i++)); do
        [ "$(sql "SELECT count(*) FROM topics.segment WHERE topic = 'rt' AND end_offset <= $n
                   AND max_timestamp IS NULL")" = 0 ] && return
        sleep 0.1
    done
    die "retention: the worker did not measure the sealed segment of topic rt"
}

# retention_side ours|plain: one side's timed reclamation; adds its figure
# to RESULTS and logs it.
retention_side() {
    local side=$1 n=$RETENTION_MESSAGES f=$RETENTION_FRESH out first total calls dead ms rows count min
    sql CHECKPOINT >/dev/null
    if [ "$side" = ours ]; then
        out=$(sql "CALL bench_reclaim('rt');
                   SELECT pg_stat_force_next_flush();
                   SELECT coalesce(sum(n_dead_tup), 0) FROM pg_stat_user_tables
                    WHERE schemaname = 'topics_data' AND (relname = 'rt' OR relname LIKE 'rt\$%');") ||
            die "retention: reclamation failed"
        { IFS='|' read -r first total calls; read -r _; read -r dead; } <<<"$out"
        IFS='|' read -r count min <<<"$(sql "SELECT count(*), min(msg_offset) FROM topics.fetch('rt', 0, 0, 1000000)")"
        [ "$count" = "$f" ] && [ "$min" = "$n" ] ||
            die "retention: after reclamation a fetch from 0 returns $count messages from offset $min, not $f from $n"
        RESULTS[ours_reclaim]+="$(per_second "$n" "$total") "
        RESULTS[ours_reclaim_first_ms]+="$first "
        RESULTS[ours_reclaim_drop_ms]+="$(awk -v a="$total" -v b="$first" 'BEGIN { printf "%.3f", a - b }') "
        RESULTS[ours_reclaim_dead]+="$dead "
        log "retention: drop $total ms ($calls calls, the first $first ms), $dead dead tuples left"
    else
        out=$(sql "CALL bench_delete();
                   SELECT pg_stat_force_next_flush();
                   SELECT n_dead_tup FROM pg_stat_user_tables WHERE relname = 'rplain';") ||
            die "retention: DELETE failed"
        { IFS='|' read -r ms rows; read -r _; read -r dead; } <<<"$out"
        [ "$rows" = "$n" ] || die "retention: the DELETE removed $rows rows, not $n"
        count=$(sql "SELECT count(*) FROM rplain")
        [ "$count" = "$f" ] || die "retention: after the DELETE the table holds $count rows, not $f"
        RESULTS[plain_delete]+="$(per_second "$n" "$ms") "
        RESULTS[plain_delete_ms]+="$ms "
        RESULTS[plain_delete_dead]+="$dead "
        log "retention: DELETE $ms ms, $dead dead tuples left"
    fi
}

run_retention_reclaim() {
    local r side order vac drop
    for ((r = 0; r < RETENTION_ROUNDS; r++)); do
        retention_reset
        if ((r % 2 == 0)); then order=(ours plain); else order=(plain ours); fi
        for side in "${order[@]}"; do
            retention_side "$side"
        done
        # the debt the DELETE left, for the details: the VACUUM it calls for
        # (after both sides: not part of either)
        vac=$(sql "\\timing on
                   VACUUM rplain;" | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p')
        [ -n "$vac" ] || die "retention: no time for VACUUM rplain"
        RESULTS[plain_vacuum_ms]+="$vac "
        RESULTS[plain_delete_vacuum]+="$(per_second "$RETENTION_MESSAGES" \
            "$(awk -v a="$(last plain_delete_ms)" -v b="$vac" 'BEGIN { printf "%.3f", a + b }')") "
        # the floor of any drop: PostgreSQL's DROP TABLE of the plain table,
        # whose file is as large still (its last pages hold the fresh rows)
        sql CHECKPOINT >/dev/null
        drop=$(sql "\\timing on
                    DROP TABLE rplain;" | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p')
        [ -n "$drop" ] || die "retention: no time for DROP TABLE rplain"
        RESULTS[plain_drop_ms]+="$drop "
        RESULTS[plain_drop]+="$(per_second "$RETENTION_MESSAGES" "$drop") "
        log "retention round $((r + 1))/$RETENTION_ROUNDS done; VACUUM after the DELETE $vac ms"
    done
}

# maint_reset: topics rm (produced to) and ri (idle) anew, the log of
# maintenance vacuumed (the loop updates its rows thousands of times and
# autovacuum is off), a CHECKPOINT.
maint_reset() {
    local cfg="{\"cleanup.policy\": \"delete,compact\", \"segment.messages\": $MAINT_SEGMENT,
                \"retention.ms\": $MAINT_RETENTION_MS, \"min.compaction.lag.ms\": 0}"
    sql "SELECT topics.drop_topic(name) FROM topics.topics WHERE name IN ('rm', 'ri');
         SELECT topics.create_topic('rm', 1, 'stream', '$cfg');
         SELECT topics.create_topic('ri', 1, 'stream', '$cfg');
         VACUUM topics.maintenance, topics.partition, topics.segment;
         CHECKPOINT;" >/dev/null
}

# maint_round R: one pgbench run with the loop on and off by turns (see
# the header); adds the messages per second of each kind of phase to
# RESULTS.
maint_round() {
    local r=$1 t0 secs out maint pid logs rates off on idle
    local hot_calls idle_calls rolled expired compacted dropped errors last_error max_call
    maint_reset
    # the phases start half a second from now (pgbench is connected by
    # then) and end before pgbench's run does
    t0=$(awk -v t="$(date +%s.%N)" 'BEGIN { printf "%.3f", t + 0.5 }')
    secs=$(awk -v p="$MAINT_PHASES" -v s="$MAINT_PHASE_SECS" 'BEGIN { printf "%d", p * s + 1.999 }')
    sql "CALL bench_maintain_phases('rm', 'ri', $t0, $MAINT_PHASE_SECS, $MAINT_PHASES, $((r % 3)), $MAINT_PAUSE_SECS)" \
        >"$ROOT/maint.out" 2>&1 &
    pid=$!
    rm -f "$ROOT"/maint_log.*
    out=$(pgbench_output produce_single_maint -c "$MAINT_CLIENTS" -j 2 -T "$secs" \
        -l --log-prefix="$ROOT/maint_log" -f "$SQLDIR/produce_single_maint.sql") || exit 1
    wait "$pid" || { cat "$ROOT/maint.out" >&2; die "retention: the maintenance loop failed"; }
    if grep -q '^number of failed transactions: [1-9]' <<<"$out"; then
        printf '%s\n' "$out" >&2
        die "pgbench produce_single_maint: failed transactions"
    fi
    IFS='|' read -r hot_calls idle_calls rolled expired compacted dropped max_call errors last_error <"$ROOT/maint.out"
    logs=("$ROOT"/maint_log.*)
    [ -e "${logs[0]}" ] || die "retention: no transaction log from pgbench"
    # transactions ended in each kind of phase, over the phases' time
    rates=$(cat "${logs[@]}" | awk -v t0="$t0" -v p="$MAINT_PHASE_SECS" -v n="$MAINT_PHASES" \
        -v first=$((r % 3)) -v g="$MAINT_GUARD_SECS" '
        { t = $5 + $6 / 1e6 - t0
          if (t < 0 || t >= p * n) next
          k = int(t / p)
          if (t - k * p < g) next
          c[(first + k) % 3]++ }
        END { for (k = 0; k < n; k++) ph[(first + k) % 3]++
              for (i = 0; i < 3; i++) printf "%.1f ", c[i] / (ph[i] * (p - g))
              print "" }')
    rm -f "${logs[@]}"
    read -r off on idle <<<"$rates"
    RESULTS[produce_maint_off]+="$off "
    RESULTS[produce_maint_on]+="$on "
    RESULTS[produce_maint_idle]+="$idle "
    RESULTS[maint_expired]+="$expired "
    RESULTS[maint_dropped]+="$dropped "
    RESULTS[maint_compacted]+="$compacted "
    RESULTS[maint_max_call_ms]+="$max_call "
    ((errors == 0)) || {
        RESULTS[maint_errors]+="$errors "
        log "retention: WARNING: $errors maintenance jobs failed in the round, the last: $last_error"
    }
    log "produce_during_maintenance round $((r + 1))/$MAINT_ROUNDS: messages/s off $off, on $on, idle loop $idle;" \
        "$hot_calls calls on rm (segments rolled $rolled, expired $expired, dropped $dropped, compacted $compacted)," \
        "$idle_calls on ri; the longest call $max_call ms"
}

run_retention_maint() {
    local r
    log "produce_during_maintenance: warm-up"
    maint_reset
    pgbench_output produce_single_maint -c "$MAINT_CLIENTS" -j 2 -T 1 \
        -f "$SQLDIR/produce_single_maint.sql" >/dev/null || exit 1
    for ((r = 0; r < MAINT_ROUNDS; r++)); do
        maint_round "$r"
    done
}

# compaction_round: one timed compaction of a fresh topic cp.
compaction_round() {
    local n=$COMPACTION_MESSAGES f=$RETENTION_FRESH sealed before after size size_after ms calls segs count keys rate out empty
    sql "SELECT topics.drop_topic('cp') FROM topics.topics WHERE name = 'cp';
         SELECT topics.create_topic('cp', 1, 'stream',
             '{\"cleanup.policy\": \"compact\", \"segment.messages\": 100000,
               \"min.compaction.lag.ms\": 0, \"delete.retention.ms\": 86400000}');
         $(retention_fill cp 1 "$n" 10000 "now()")
         $(retention_fill cp $((n + 1)) $((n + f)) 10000 "now()")
         VACUUM ANALYZE topics_data.cp;" >/dev/null
    IFS='|' read -r sealed before size <<<"$(sql "
        SELECT (SELECT sum(s.end_offset - s.base_offset) FROM topics.segments s JOIN topics.partitions p USING (topic, partition)
                 WHERE s.topic = 'cp' AND s.end_offset <= p.lso),
               (SELECT sum(topics_internal.segment_size(topic, partition, base_offset)) FROM topics.segments WHERE topic = 'cp'),
               (SELECT size_bytes FROM topics.partitions WHERE topic = 'cp')")"
    [ "$sealed" = "$n" ] || die "compaction: topic cp has $sealed messages in sealed segments, not $n"
    sql CHECKPOINT >/dev/null
    out=$(sql "CALL bench_compact('cp')") || die "compaction: run_maintenance failed"
    IFS='|' read -r ms calls segs <<<"$out"
    # and the sealed segments compaction left empty (kept: the log start
    # does not move)
    IFS='|' read -r after size_after count keys empty <<<"$(sql "
        SELECT (SELECT sum(topics_internal.segment_size(topic, partition, base_offset)) FROM topics.segments WHERE topic = 'cp'),
               (SELECT size_bytes FROM topics.partitions WHERE topic = 'cp'),
               count(*), count(DISTINCT key),
               (SELECT count(*) FROM topics.segments s JOIN topics.partitions p USING (topic, partition)
                 WHERE s.topic = 'cp' AND s.end_offset <= p.lso
                   AND NOT EXISTS (SELECT FROM topics.fetch('cp', 0, s.base_offset, 1) f
                                    WHERE f.msg_offset < s.end_offset))
          FROM topics.fetch('cp', 0, 0, 1000000)")"
    ((count <= 10000 + f && keys == 10000)) ||
        die "compaction: a fetch from 0 returns $count messages of $keys keys, not at most $((10000 + f)) of 10000"
    [ "$segs" = $((n / 100000)) ] ||
        log "compaction: WARNING: $segs segments compacted in $calls calls, of $((n / 100000)) sealed"
    [ "$before" = "$size" ] && [ "$after" = "$size_after" ] ||
        log "compaction: WARNING: topics.partitions.size_bytes says $size then $size_after bytes, the segments $before then $after"
    rate=$(per_second "$n" "$ms")
    RESULTS[compaction_rate]+="$rate "
    RESULTS[compaction_ms]+="$ms "
    RESULTS[compaction_empty]+="$empty "
    RESULTS[compaction_size]+="$(awk -v a="$after" -v b="$before" 'BEGIN { printf "%.5f", a / b }') "
    log "compaction: $n messages in $ms ms ($calls calls, $segs segments): $rate messages/s;" \
        "$before -> $after bytes, $count messages left, $empty of $((n / 100000)) sealed segments left empty"
}

run_retention_compaction() {
    local r
    for ((r = 0; r < COMPACTION_ROUNDS; r++)); do
        compaction_round
    done
}

run_retention() {
    retention_setup
    run_retention_reclaim
    run_retention_maint
    run_retention_compaction
    retention_teardown
}

retention_measures() {
    ratio_per_round retention_drop_vs_delete ours_reclaim plain_delete
    ratio_per_round retention_drop_vs_delete_vacuum ours_reclaim plain_delete_vacuum
    ratio_per_round retention_table_drop_vs_delete plain_drop plain_delete
    RATIOS[retention_dead_tuples_drop]=${RESULTS[ours_reclaim_dead]}
    RATIOS[retention_dead_tuples_delete]=${RESULTS[plain_delete_dead]}
    ratio_per_round produce_during_maintenance produce_maint_on produce_maint_off
    ratio_per_round produce_during_idle_maintenance produce_maint_idle produce_maint_off
    ratio_per_round produce_during_maintenance_vs_idle_loop produce_maint_on produce_maint_idle
    RATIOS[compaction_rate_msgs_per_s]=${RESULTS[compaction_rate]}
    RATIOS[compaction_size_ratio]=${RESULTS[compaction_size]}
    MEASURES+=(retention_drop_vs_delete retention_drop_vs_delete_vacuum retention_table_drop_vs_delete
               retention_dead_tuples_drop retention_dead_tuples_delete
               produce_during_maintenance produce_during_idle_maintenance
               produce_during_maintenance_vs_idle_loop
               compaction_rate_msgs_per_s compaction_size_ratio)
    TARGET+=([retention_drop_vs_delete]='>= 20'
             [retention_drop_vs_delete_vacuum]='informational (the DELETE and the VACUUM that frees its space)'
             [retention_table_drop_vs_delete]='informational (the floor: a DROP TABLE of the plain table, over its DELETE)'
             [retention_dead_tuples_drop]='informational (dead tuples, not a ratio)'
             [retention_dead_tuples_delete]='informational (dead tuples, not a ratio)'
             [produce_during_maintenance]='>= 0.9'
             [produce_during_idle_maintenance]='informational'
             [produce_during_maintenance_vs_idle_loop]='informational'
             [compaction_rate_msgs_per_s]='informational (messages/s, not a ratio)'
             [compaction_size_ratio]='informational (bytes after / before, lower is smaller)')
    SIDES+=([retention_drop_vs_delete]='ours_reclaim plain_delete ours_reclaim_first_ms ours_reclaim_drop_ms plain_delete_ms plain_vacuum_ms'
            [retention_drop_vs_delete_vacuum]='ours_reclaim plain_delete_vacuum'
            [retention_table_drop_vs_delete]='plain_drop plain_delete plain_drop_ms'
            [retention_dead_tuples_drop]='' [retention_dead_tuples_delete]=''
            [produce_during_maintenance]='produce_maint_on produce_maint_off maint_expired maint_dropped maint_compacted maint_max_call_ms'
            [produce_during_idle_maintenance]='produce_maint_idle produce_maint_off'
            [produce_during_maintenance_vs_idle_loop]='produce_maint_on produce_maint_idle'
            [compaction_rate_msgs_per_s]='compaction_rate compaction_ms compaction_empty' [compaction_size_ratio]='')
    UNITS+=([ours_reclaim]="messages reclaimed/s, $RETENTION_MESSAGES expired in one segment: run_maintenance until no segment lies below the log start, each call committed"
            [plain_delete]="rows/s, DELETE of $RETENTION_MESSAGES rows by ts from a table with a bigint primary key, committed"
            [ours_reclaim_first_ms]='ms, the first run_maintenance: retention moves the log start past the segment the worker measured'
            [ours_reclaim_drop_ms]='ms, the later calls: reclaim drops the segments'
            [plain_delete_ms]='ms, the DELETE'
            [plain_drop]='rows/s, DROP TABLE of the plain table after the DELETE and VACUUM (its file as large), committed'
            [plain_drop_ms]='ms, that DROP TABLE'
            [plain_delete_vacuum]='rows/s, the DELETE and the VACUUM after it (VACUUM makes the space reusable)'
            [plain_vacuum_ms]='ms, VACUUM of the table after the DELETE (not timed in the ratio: the debt the DELETE leaves)'
            [produce_maint_on]="messages/s, topics.produce of 1 keyed message/transaction, $MAINT_CLIENTS clients, in the phases of $MAINT_PHASE_SECS s with run_maintenance every $MAINT_PAUSE_SECS s on the topic (segments of $MAINT_SEGMENT, retention.ms $MAINT_RETENTION_MS, delete,compact), $MAINT_PHASES phases of 3 kinds per run"
            [produce_maint_off]='messages/s, in the phases of the same runs without the loop'
            [produce_maint_idle]='messages/s, in the phases of the same runs with the loop on an idle topic (the CPU of the loop, no work)'
            [maint_expired]='segments retention let go in the on phases of a run (calls on the topic)'
            [maint_dropped]='segments reclaim dropped in the on phases of a run'
            [maint_compacted]='segments compaction rewrote in the on phases of a run'
            [maint_max_call_ms]="ms, the longest run_maintenance call of a run (a call may end up to this late in the next phase; the first $MAINT_GUARD_SECS s of each phase are not counted)"
            [compaction_rate]="messages/s, $COMPACTION_MESSAGES messages of 10000 keys in sealed segments of 100000, run_maintenance until compaction is done"
            [compaction_ms]='ms, to the end of the last call that compacted'
            [compaction_empty]='sealed segments compaction left empty, kept as empty tables')
}

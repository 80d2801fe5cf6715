# The --scale part of test/bench/run: how the cost of producing grows with
# the number of segments, partitions, topics, groups and members, as ratios
# of a large case to a small one measured in the same runs.  Sourced by
# run, whose helpers (sql, pgb_mix, median, div, per_second, log, die) and
# tables (RESULTS, RATIOS, MEASURES, TARGET, SIDES, UNITS) it uses.

SCALE_GROUPS=(segments)

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

scale_measures() {
    MEASURES+=(segments_2000_over_40)
    TARGET[segments_2000_over_40]='>= 0.95'
    SIDES[segments_2000_over_40]='seg_many seg_few'
    UNITS[seg_many]="rows/s, 1 client, produce_batch of 1000 rows into a partition of $SEG_MANY segments of $SEG_MESSAGES offsets, mixed at random with seg_few"
    UNITS[seg_few]="rows/s, 1 client, produce_batch of 1000 rows into a partition of $SEG_FEW segments of $SEG_MESSAGES offsets"
}

# shellcheck shell=bash
# The cdc group of test/bench/run: what change data capture costs the
# writers of a captured table.  Sourced by run, whose helpers (sql,
# pgb_mix, per_second, ratio_per_round, log, die) and tables (RESULTS,
# RATIOS, MEASURES, TARGET, SIDES, UNITS) it uses.
#
# Three tables of the same order rows (id bigint identity primary key,
# customer, amount numeric, status, note; about 100 B):
#   cdc_plain     no trigger;
#   cdc_captured  topics.capture() into topic cdc_t (4 partitions, the
#                 events keyed by id, plain JSON);
#   cdc_outboxed  the hand-written transactional outbox: an AFTER INSERT
#                 FOR EACH ROW trigger in PL/pgSQL that inserts the row as
#                 jsonb (to_jsonb(NEW)) with its table, id and op into an
#                 outbox table with an identity primary key.
# The three sides run in the same pgbench runs, each transaction picking
# one of them at random (the project's rule for measures where commits
# dominate: WAL flush times swing from one second to the next here):
# - single: one INSERT of one row per transaction, 8 clients, runs of
#   CDC_SINGLE_SECS; a side's figure is 8 x 1000 / its average ms.
#   cdc_insert_overhead_single = captured / plain, cdc_vs_outbox =
#   captured / outboxed.
# - bulk: one INSERT ... SELECT of 1000 rows per transaction, 1 client,
#   runs of CDC_BULK_SECS; a side's figure is 1000 x 1000 / its average ms
#   (rows/s).  cdc_insert_overhead_bulk = captured / plain,
#   cdc_vs_outbox_bulk (informational) = captured / outboxed.
# Every run starts from emptied tables, a new topic and a CHECKPOINT, and
# is checked afterwards: the topic must hold one event per row of
# cdc_captured, the outbox one row per row of cdc_outboxed.

if [ "$QUICK" -eq 1 ]; then
    CDC_SINGLE_SECS=3
    CDC_BULK_SECS=4
    CDC_ROUNDS=3
else
    CDC_SINGLE_SECS=16
    CDC_BULK_SECS=16
    CDC_ROUNDS=5
fi
CDC_SINGLE_CLIENTS=8

cdc_setup() {
    sql "
DROP TABLE IF EXISTS cdc_plain, cdc_captured, cdc_outboxed, cdc_outbox;
CREATE TABLE cdc_plain (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer text NOT NULL,
    amount numeric(12,2) NOT NULL,
    status text NOT NULL,
    note text,
    created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE cdc_captured (LIKE cdc_plain INCLUDING ALL);
CREATE TABLE cdc_outboxed (LIKE cdc_plain INCLUDING ALL);
CREATE TABLE cdc_outbox (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    aggregate_type text NOT NULL,
    aggregate_id text NOT NULL,
    op text NOT NULL,
    payload jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now());
CREATE OR REPLACE FUNCTION cdc_outbox_write() RETURNS trigger LANGUAGE plpgsql AS \$\$
BEGIN
    INSERT INTO cdc_outbox (aggregate_type, aggregate_id, op, payload)
    VALUES (TG_TABLE_NAME, NEW.id::text, lower(TG_OP), to_jsonb(NEW));
    RETURN NULL;
END \$\$;
CREATE TRIGGER outbox AFTER INSERT ON cdc_outboxed
    FOR EACH ROW EXECUTE FUNCTION cdc_outbox_write();
SELECT topics.create_topic('cdc_t', 4);
SELECT topics.capture('cdc_captured', 'cdc_t');" >/dev/null
}

# Empty the tables and make the topic anew.
reset_cdc() {
    sql "SELECT topics.uncapture('cdc_captured'); SELECT topics.drop_topic('cdc_t');
         SELECT topics.create_topic('cdc_t', 4); SELECT topics.capture('cdc_captured', 'cdc_t');
         TRUNCATE cdc_plain, cdc_captured, cdc_outboxed, cdc_outbox RESTART IDENTITY;" >/dev/null
}

# cdc_check: one event per captured row, one outbox row per outboxed row.
cdc_check() {
    local rows events orows outbox
    IFS='|' read -r rows events orows outbox <<<"$(sql "
        SELECT (SELECT count(*) FROM cdc_captured), (SELECT count(*) FROM topics_data.cdc_t),
               (SELECT count(*) FROM cdc_outboxed), (SELECT count(*) FROM cdc_outbox)")"
    [ "$rows" = "$events" ] && [ "$orows" = "$outbox" ] ||
        die "cdc: $rows captured rows but $events events; $orows outboxed rows but $outbox outbox rows"
}

# cdc_round KIND CLIENTS ROWS PGBENCH-ARGS...: one mixed run of the three
# sides of KIND (insert or bulk), their figures appended to RESULTS.
cdc_round() {
    local kind=$1 clients=$2 rows=$3 n_c lat_c n_p lat_p n_o lat_o
    shift 3
    reset_cdc
    sql CHECKPOINT >/dev/null
    read -r n_c lat_c n_p lat_p n_o lat_o <<<"$(pgb_mix "cdc_$kind" "$clients" 3 \
        "cdc_${kind}_captured" "cdc_${kind}_plain" "cdc_${kind}_outboxed" "$@")"
    cdc_check
    RESULTS[cdc_${kind}_captured]+="$(per_second $((clients * rows)) "$lat_c") "
    RESULTS[cdc_${kind}_plain]+="$(per_second $((clients * rows)) "$lat_p") "
    RESULTS[cdc_${kind}_outboxed]+="$(per_second $((clients * rows)) "$lat_o") "
    log "cdc $kind: captured $n_c x $lat_c ms, plain $n_p x $lat_p ms, outbox $n_o x $lat_o ms"
}

run_cdc() {
    local r
    log "cdc: setup and warm-up"
    cdc_setup
    reset_cdc
    pgb_mix cdc_warmup "$CDC_SINGLE_CLIENTS" 3 cdc_insert_captured cdc_insert_plain \
        cdc_insert_outboxed -t 100 >/dev/null
    pgb_mix cdc_warmup 1 3 cdc_bulk_captured cdc_bulk_plain cdc_bulk_outboxed -t 10 >/dev/null
    for ((r = 0; r < CDC_ROUNDS; r++)); do
        log "cdc round $((r + 1))/$CDC_ROUNDS"
        cdc_round insert "$CDC_SINGLE_CLIENTS" 1 -T "$CDC_SINGLE_SECS"
        cdc_round bulk 1 1000 -T "$CDC_BULK_SECS"
    done
}

cdc_measures() {
    ratio_per_round cdc_insert_overhead_single cdc_insert_captured cdc_insert_plain
    ratio_per_round cdc_insert_overhead_bulk cdc_bulk_captured cdc_bulk_plain
    ratio_per_round cdc_vs_outbox cdc_insert_captured cdc_insert_outboxed
    ratio_per_round cdc_vs_outbox_bulk cdc_bulk_captured cdc_bulk_outboxed
    MEASURES+=(cdc_insert_overhead_single cdc_insert_overhead_bulk cdc_vs_outbox cdc_vs_outbox_bulk)
    TARGET+=([cdc_insert_overhead_single]='>= 0.6' [cdc_insert_overhead_bulk]='>= 0.5'
             [cdc_vs_outbox]='>= 1.0' [cdc_vs_outbox_bulk]='informational')
    SIDES+=([cdc_insert_overhead_single]='cdc_insert_captured cdc_insert_plain'
            [cdc_insert_overhead_bulk]='cdc_bulk_captured cdc_bulk_plain'
            [cdc_vs_outbox]='cdc_insert_captured cdc_insert_outboxed'
            [cdc_vs_outbox_bulk]='cdc_bulk_captured cdc_bulk_outboxed')
    UNITS+=([cdc_insert_captured]="rows/s at $CDC_SINGLE_CLIENTS clients = $CDC_SINGLE_CLIENTS x 1000 / average ms, INSERT of 1 row into the captured table, mixed at random with the other two in runs of $CDC_SINGLE_SECS s"
            [cdc_insert_plain]='as cdc_insert_captured, into the table without capture'
            [cdc_insert_outboxed]='as cdc_insert_captured, into the table with the outbox row trigger'
            [cdc_bulk_captured]="rows/s, 1 client, INSERT ... SELECT of 1000 rows into the captured table, mixed at random with the other two in runs of $CDC_BULK_SECS s"
            [cdc_bulk_plain]='as cdc_bulk_captured, into the table without capture'
            [cdc_bulk_outboxed]='as cdc_bulk_captured, into the table with the outbox row trigger')
}

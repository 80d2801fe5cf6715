/*-------------------------------------------------------------------------
 *
 * retention.c
 *	  Which segments of a stream partition retention lets go: as Kafka,
 *	  whole segments from the oldest, by the newest timestamp each holds
 *	  (retention.ms) and by the partition's size (retention.bytes).
 *
 * Only sealed segments go, those wholly below the last stable offset, to
 * which no producer writes any more; and never a partition's last segment.
 * A segment's newest timestamp is measured once, when retention first
 * looks at it sealed, and kept in topics.segment.max_timestamp: sealed, it
 * does not change.  Retention only moves the log start past what expired;
 * the segments go with the next reclamation (reclaim.c), once every
 * snapshot sees the move.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "log/topic_tables.h"
#include "pg_topics.h"
#include "retention/log_start.h"
#include "retention/retention.h"
#include "subxact.h"

/*
 * segment_newest_timestamp returns the newest timestamp of a sealed segment,
 * measured now and recorded, or -infinity when it holds no message.
 * Caller runs as the owner of the topic's tables, connected to SPI.
 */
TimestampTz
segment_newest_timestamp(const char *topic, int partition, int64 base)
{
	Oid			argtypes[4] = {TEXTOID, INT4OID, INT8OID, TIMESTAMPTZOID};
	Datum		args[4];
	bool		isnull;
	TimestampTz ts;

	/* the latest snapshot: it sees every message below the LSO read before */
	spi_select_latest(psprintf("SELECT pg_catalog.max(\"timestamp\") FROM %s",
							   quote_qualified_identifier(TOPICS_DATA_SCHEMA,
														  topic_table_name(topic, partition, base))),
					  0, NULL, NULL);
	if (SPI_processed != 1)
		elog(ERROR, "could not measure a segment of topic \"%s\"", topic);
	ts = DatumGetTimestampTz(SPI_getbinval(SPI_tuptable->vals[0],
										   SPI_tuptable->tupdesc, 1, &isnull));
	if (isnull)
		TIMESTAMP_NOBEGIN(ts);
	args[0] = CStringGetTextDatum(topic);
	args[1] = Int32GetDatum(partition);
	args[2] = Int64GetDatum(base);
	args[3] = TimestampTzGetDatum(ts);
	if (SPI_execute_with_args("UPDATE topics.segment SET max_timestamp = $4 "
							  "WHERE topic OPERATOR(pg_catalog.=) $1 "
							  "AND partition OPERATOR(pg_catalog.=) $2 "
							  "AND base_offset OPERATOR(pg_catalog.=) $3",
							  4, argtypes, args, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "could not record a segment's newest timestamp of topic \"%s\"", topic);
	return ts;
}

/*
 * time_before returns the time ms milliseconds before now, or -infinity
 * when that lies before the calendar's start.
 */
TimestampTz
time_before(TimestampTz now, int64 ms)
{
	TimestampTz result;

	if (ms >= (now - MIN_TIMESTAMP) / 1000)
		TIMESTAMP_NOBEGIN(result);
	else
		result = now - ms * 1000;
	return result;
}

/*
 * segments_from_log_start lists in SPI_tuptable, under the latest snapshot,
 * the segments of a partition that end above its log start, oldest first:
 * the columns numbered SEGMENT_* (retention.h), the size only when sized
 * (0 else).  Caller is connected to SPI.
 */
void
segments_from_log_start(const char *topic, int partition, bool sized)
{
	spi_select_latest("SELECT s.base_offset, s.end_offset, s.max_timestamp, "
					  "CASE WHEN $3 THEN topics_internal.segment_size("
					  "s.topic, s.partition, s.base_offset) ELSE 0 END, "
					  "s.base_offset OPERATOR(pg_catalog.<) p.sealed_end, p.compacted_end "
					  "FROM topics.segment s JOIN topics.partition p "
					  "ON p.topic OPERATOR(pg_catalog.=) s.topic "
					  "AND p.partition OPERATOR(pg_catalog.=) s.partition "
					  "WHERE s.topic OPERATOR(pg_catalog.=) $1 "
					  "AND s.partition OPERATOR(pg_catalog.=) $2 "
					  "AND s.end_offset OPERATOR(pg_catalog.>) p.log_start "
					  "ORDER BY s.base_offset",
					  3, (Oid[]) {TEXTOID, INT4OID, BOOLOID},
					  (Datum[]) {CStringGetTextDatum(topic), Int32GetDatum(partition),
						  BoolGetDatum(sized)});
}

/*
 * retention_expire moves the log start of a partition of a stream topic
 * past the sealed segments that retention lets go at now, and returns how
 * many.  Caller runs as the owner of the topic's tables, connected to SPI,
 * with the topic open.
 */
int
retention_expire(Topic *topic, int partition, TimestampTz now)
{
	const TopicConfig *cfg = &topic->cfg;
	PartitionBounds bounds;
	SPITupleTable *tuptable;
	uint64		n;
	uint64		i;
	int64		total = 0;
	int64		start = -1;
	int			expired = 0;
	bool		by_time = cfg->retention_ms >= 0;
	TimestampTz cutoff = time_before(now, Max(cfg->retention_ms, 0));

	if (topic_partition_pending(topic, partition) ||
		(!by_time && cfg->retention_bytes < 0))
		return 0;
	topic_bounds(topic, partition, &bounds);

	segments_from_log_start(topic->name, partition, cfg->retention_bytes >= 0);
	n = SPI_processed;
	tuptable = SPI_tuptable;
	for (i = 0; i < n; i++)
	{
		bool		isnull;

		total += DatumGetInt64(SPI_getbinval(tuptable->vals[i], tuptable->tupdesc,
											 SEGMENT_SIZE, &isnull));
	}

	/* oldest first, and never the last segment */
	for (i = 0; i + 1 < n; i++)
	{
		HeapTuple	tup = tuptable->vals[i];
		TupleDesc	desc = tuptable->tupdesc;
		bool		isnull;
		bool		unmeasured;
		int64		base = DatumGetInt64(SPI_getbinval(tup, desc, SEGMENT_BASE, &isnull));
		int64		end = DatumGetInt64(SPI_getbinval(tup, desc, SEGMENT_END, &isnull));
		Datum		newest = SPI_getbinval(tup, desc, SEGMENT_NEWEST, &unmeasured);
		int64		size = DatumGetInt64(SPI_getbinval(tup, desc, SEGMENT_SIZE, &isnull));
		bool		too_old = false;
		bool		too_big;

		if (end > bounds.lso)
			break;
		if (by_time)
			too_old = (unmeasured ? segment_newest_timestamp(topic->name, partition, base) :
					   DatumGetTimestampTz(newest)) < cutoff;
		too_big = cfg->retention_bytes >= 0 && total - size >= cfg->retention_bytes;
		if (!too_old && !too_big)
			break;
		total -= size;
		start = end;
		expired++;
	}
	if (start >= 0 &&
		!log_start_move(topic->name, partition, topic->partitions[partition].relid,
						start, 0, true))
		expired = 0;
	return expired;
}

/* One sealed segment not measured yet. */
typedef struct Unmeasured
{
	char	   *topic;
	int			partition;
	int64		base;
} Unmeasured;

/*
 * measure_one measures the newest timestamp of one sealed segment; arg is
 * its Unmeasured.
 */
static void
measure_one(void *arg)
{
	Unmeasured *u = (Unmeasured *) arg;
	AsOwner		admin;

	as_owner_begin(&admin);
	(void) segment_newest_timestamp(u->topic, u->partition, u->base);
	as_owner_end(&admin);
}

/*
 * retention_measure_sealed measures the newest timestamp of the segments of
 * streams that the stable offset sealed since the last round (at most
 * MEASURED_PER_ROUND), as Kafka keeps a segment's largest timestamp as it
 * writes it: retention and compaction then read it from the catalog.  A
 * database worker's job, in its transaction.
 */
#define MEASURED_PER_ROUND	64

void
retention_measure_sealed(void)
{
	MemoryContext cxt = CurrentMemoryContext;
	List	   *todo = NIL;
	ListCell   *lc;
	AsOwner		admin;
	uint64		i;

	as_owner_begin(&admin);
	if (SPI_execute("SELECT s.topic, s.partition, s.base_offset "
					"FROM topics.segment s "
					"JOIN topics.partition p ON p.topic OPERATOR(pg_catalog.=) s.topic "
					"AND p.partition OPERATOR(pg_catalog.=) s.partition "
					"JOIN topics.topic t ON t.name OPERATOR(pg_catalog.=) s.topic "
					"WHERE s.max_timestamp IS NULL "
					"AND s.end_offset OPERATOR(pg_catalog.<=) p.stable_offset "
					"AND s.end_offset OPERATOR(pg_catalog.>) p.log_start "
					"AND t.mode OPERATOR(pg_catalog.=) 'stream' "
					"ORDER BY s.topic, s.partition, s.base_offset LIMIT "
					CppAsString2(MEASURED_PER_ROUND), true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not list the sealed segments");
	for (i = 0; i < SPI_processed; i++)
	{
		/* in the caller's memory: SPI's goes at as_owner_end */
		MemoryContext old = MemoryContextSwitchTo(cxt);
		Unmeasured *u = palloc(sizeof(Unmeasured));
		bool		isnull;

		u->topic = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);
		u->partition = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[i],
												   SPI_tuptable->tupdesc, 2, &isnull));
		u->base = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i],
											  SPI_tuptable->tupdesc, 3, &isnull));
		todo = lappend(todo, u);
		MemoryContextSwitchTo(old);
	}
	as_owner_end(&admin);
	foreach(lc, todo)
		(void) subxact_try(measure_one, lfirst(lc), "could not measure a segment");
}

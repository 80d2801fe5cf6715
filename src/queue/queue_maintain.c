/*-------------------------------------------------------------------------
 *
 * queue_maintain.c
 *	  The queue share of a database worker's round: the delivery state made
 *	  durable, and the segments every message of which is done emptied.
 *
 * Each round, for each queue partition whose window is loaded:
 *
 *	- the messages at the head of a full window that wait for a time still
 *	  far off (delayed, or given back with a delay) move to the end of the
 *	  log (queue_read.c), so that they hold back no message behind them;
 *	- its start is written where it moved on, and the rows that still name
 *	  an ended transaction as pending are rewritten as settled
 *	  (delivery_store.c), so that no row needs the commit log once it may
 *	  forget; the start is recorded in topics.partition too, as a dump must
 *	  see it;
 *	- the segments wholly below the start are truncated, oldest first, and
 *	  the partition's log start moves past them: "gone on consume" becomes
 *	  physical, a segment at a time, with no DELETE and no dead tuple.  A
 *	  TRUNCATE ignores snapshots, so only segments below a start that every
 *	  snapshot sees recorded go (retention/log_start.c): a snapshot held
 *	  open (a report, a dump) keeps the segments it might read.  The
 *	  emptied tables are dropped later with the log start (reclaim.c).
 *
 * A topic whose lock is busy is passed over until the next round; an error
 * in one topic is reported and the others go on.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "storage/lmgr.h"
#include "storage/procarray.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"

#include "log/topic_tables.h"
#include "queue/delivery.h"
#include "queue/delivery_store.h"
#include "queue/queue_maintain.h"
#include "queue/queue_read.h"
#include "retention/log_start.h"
#include "subxact.h"

/*
 * reclaim empties the segments of a partition that lie wholly below
 * below, from its log start on, and moves the log start past them.
 * Caller runs as the owner of the topic's tables, connected to SPI.
 */
static void
reclaim(const char *topic, int partition, int64 below)
{
	Oid			argtypes[3] = {TEXTOID, INT4OID, INT8OID};
	Datum		args[3];
	uint64		i;
	uint64		n;
	int64		log_start = -1;
	int64		freed = 0;
	SPITupleTable *tuptable;

	if (below <= 0)
		return;
	args[0] = CStringGetTextDatum(topic);
	args[1] = Int32GetDatum(partition);
	args[2] = Int64GetDatum(below);
	if (SPI_execute_with_args("SELECT s.base_offset, s.end_offset, "
							  "CASE WHEN s.base_offset OPERATOR(pg_catalog.<) p.sealed_end "
							  "THEN topics_internal.segment_size(s.topic, s.partition, s.base_offset) "
							  "ELSE 0 END "
							  "FROM topics.segment s JOIN topics.partition p "
							  "ON p.topic OPERATOR(pg_catalog.=) s.topic "
							  "AND p.partition OPERATOR(pg_catalog.=) s.partition "
							  "WHERE s.topic OPERATOR(pg_catalog.=) $1 "
							  "AND s.partition OPERATOR(pg_catalog.=) $2 "
							  "AND s.base_offset OPERATOR(pg_catalog.>=) p.log_start "
							  "AND s.end_offset OPERATOR(pg_catalog.<=) $3 "
							  "ORDER BY s.base_offset",
							  3, argtypes, args, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not list the consumed segments of topic \"%s\"", topic);
	n = SPI_processed;
	tuptable = SPI_tuptable;
	for (i = 0; i < n; i++)
	{
		bool		isnull;
		int64		base = DatumGetInt64(SPI_getbinval(tuptable->vals[i],
													   tuptable->tupdesc, 1, &isnull));

		Oid			relid = topic_table_relid(topic, partition, base);

		/* a segment someone reads (a cursor, say) waits for a later round */
		if (!OidIsValid(relid) ||
			!ConditionalLockRelationOid(relid, AccessExclusiveLock))
			break;
		topic_tables_exec(psprintf("TRUNCATE %s",
								   quote_qualified_identifier(TOPICS_DATA_SCHEMA,
															  topic_table_name(topic, partition, base))));
		log_start = DatumGetInt64(SPI_getbinval(tuptable->vals[i],
												tuptable->tupdesc, 2, &isnull));
		freed += DatumGetInt64(SPI_getbinval(tuptable->vals[i],
											 tuptable->tupdesc, 3, &isnull));
	}
	if (log_start < 0 ||
		!log_start_move(topic, partition, topic_table_relid(topic, partition, -1),
						log_start, freed, true))
		return;
	ereport(DEBUG1,
			(errmsg("emptied the consumed segments of partition %d of queue \"%s\" up to offset %lld",
					partition, topic, (long long) log_start)));
}

/*
 * record_start records a queue partition's start in topics.partition, in
 * the worker's transaction, with an id below which every transaction had
 * ended by the worker's snapshot: a dump whose snapshot sees the record
 * knows that every message below the start was done by a transaction it
 * sees, and that every change of the delivery state by a transaction
 * below the id is one it sees (delivery_store.c).  Caller runs as the
 * owner of pg_topics's catalog, connected to SPI.
 */
static void
record_start(const char *topic, int partition, int64 start)
{
	Oid			argtypes[3] = {TEXTOID, INT4OID, INT8OID};
	Datum		args[3];

	args[0] = CStringGetTextDatum(topic);
	args[1] = Int32GetDatum(partition);
	args[2] = Int64GetDatum(start);
	if (SPI_execute_with_args("UPDATE topics.partition "
							  "SET queue_start = $3, "
							  "queue_horizon = pg_catalog.pg_snapshot_xmin(pg_catalog.pg_current_snapshot()) "
							  "WHERE topic OPERATOR(pg_catalog.=) $1 "
							  "AND partition OPERATOR(pg_catalog.=) $2 "
							  "AND queue_start OPERATOR(pg_catalog.<>) $3",
							  3, argtypes, args, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "could not record the start of queue \"%s\"", topic);
}

/*
 * settle_window settles one window and reclaims what its partition
 * consumed.  arg is the window's key; the caller locked its topic.
 */
static void
settle_window(void *arg)
{
	const QueueWindowKey *key = (const QueueWindowKey *) arg;
	QueueWindow *w = delivery_window_lookup(key);
	AsOwner		admin;
	Topic	   *t;
	int64		start;

	/* (the caller locked the topic: the window is still there) */
	if (w == NULL)
		return;
	t = topic_open(w->topic, AccessShareLock);
	if (queue_defer_waiting(t, w, w->partition) > 0)
		ereport(DEBUG1,
				(errmsg("deferred delayed messages at the head of partition %d of queue \"%s\"",
						w->partition, w->topic)));
	LWLockAcquire(&w->lock, LW_EXCLUSIVE);
	delivery_advance_start(w);
	LWLockRelease(&w->lock);
	start = delivery_store_settle(w);
	as_owner_begin(&admin);
	record_start(w->topic, w->partition, start);
	reclaim(w->topic, w->partition,
			Min(start, log_start_safe(w->topic, w->partition, RECORDED_QUEUE_START)));
	as_owner_end(&admin);
}

/*
 * maintain_window settles one window and reclaims what its partition
 * consumed, in a subtransaction; returns false when a lock was busy, which
 * ends the round's queue work.
 */
static bool
maintain_window(const QueueWindowKey *key)
{
	bool		busy;
	QueueWindow *w = delivery_window_hold(key, &busy);

	if (w == NULL)
		return !busy;
	return subxact_try(settle_window, (void *) key,
					   psprintf("could not maintain partition %d of queue \"%s\"",
								w->partition, w->topic));
}

/*
 * queue_maintain runs the queue share of a database worker's round, inside
 * the worker's transaction.
 */
void
queue_maintain(void)
{
	List	   *keys = delivery_loaded_windows();
	ListCell   *lc;

	foreach(lc, keys)
		if (!maintain_window(lfirst(lc)))
			break;
	list_free_deep(keys);
}

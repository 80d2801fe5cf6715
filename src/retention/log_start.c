/*-------------------------------------------------------------------------
 *
 * log_start.c
 *	  Moving a partition's log start, and how far every snapshot sees it
 *	  moved.
 *
 * The log start (topics.partition.log_start) is the first offset readers
 * are handed: retention, delete_records and a queue's reclamation move it
 * up, in the transaction of their catalog write, and an invalidation of
 * the partition's table makes every backend read it again (topic.c) once
 * that transaction commits; rolled back, nothing moved.
 *
 * A segment below the log start is dropped (or a queue's emptied) only
 * once every snapshot of the server sees the log start past it: a
 * snapshot that saw an older start (a report's, a dump's, a reader's that
 * began before the move) finds the messages above that start still there.
 * The catalog row says which transaction wrote it (its xmin), which is
 * recent while the worker keeps updating the row (the stable offset), so
 * each backend keeps the last few starts it read with the transaction
 * that wrote them: the newest whose writer every snapshot sees committed
 * is safe, provided that it committed.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/transam.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "storage/procarray.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/memutils.h"

#include "retention/log_start.h"

/*
 * log_start_move moves the log start of a partition, whose table is relid,
 * up to start, taking sealed_freed off its sealed size; returns whether it
 * moved.  With skip_locked, a partition whose row another transaction
 * holds (an open delete_records) is left as it is, for a later round: the
 * worker never waits for a user's transaction.  Caller runs as the owner
 * of pg_topics's catalog, connected to SPI.
 */
bool
log_start_move(const char *topic, int partition, Oid relid, int64 start,
			   int64 sealed_freed, bool skip_locked)
{
	Oid			argtypes[4] = {TEXTOID, INT4OID, INT8OID, INT8OID};
	Datum		args[4];

	args[0] = CStringGetTextDatum(topic);
	args[1] = Int32GetDatum(partition);
	args[2] = Int64GetDatum(start);
	args[3] = Int64GetDatum(sealed_freed);
	if (SPI_execute_with_args(skip_locked ?
							  "UPDATE topics.partition p "
							  "SET log_start = $3, "
							  "sealed_bytes = GREATEST(p.sealed_bytes OPERATOR(pg_catalog.-) $4, 0) "
							  "WHERE p.topic OPERATOR(pg_catalog.=) $1 "
							  "AND p.partition OPERATOR(pg_catalog.=) $2 "
							  "AND p.log_start OPERATOR(pg_catalog.<) $3 "
							  "AND p.ctid OPERATOR(pg_catalog.=) (SELECT l.ctid FROM topics.partition l "
							  "WHERE l.topic OPERATOR(pg_catalog.=) $1 "
							  "AND l.partition OPERATOR(pg_catalog.=) $2 "
							  "FOR NO KEY UPDATE SKIP LOCKED)" :
							  "UPDATE topics.partition "
							  "SET log_start = $3, "
							  "sealed_bytes = GREATEST(sealed_bytes OPERATOR(pg_catalog.-) $4, 0) "
							  "WHERE topic OPERATOR(pg_catalog.=) $1 "
							  "AND partition OPERATOR(pg_catalog.=) $2 "
							  "AND log_start OPERATOR(pg_catalog.<) $3",
							  4, argtypes, args, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "could not move the log start of topic \"%s\"", topic);
	if (SPI_processed == 0)
		return false;
	/* every backend reads the log start again once this commits */
	if (OidIsValid(relid))
		CacheInvalidateRelcacheByRelid(relid);
	return true;
}

/* Starts this backend read for a partition, with their writers, newest last. */
#define RECORDS_KEPT	8

typedef struct RecordedStartKey
{
	char		topic[NAMEDATALEN];
	int32		partition;
	int32		kind;
} RecordedStartKey;

typedef struct RecordedStarts
{
	RecordedStartKey key;		/* hash key: must be first */
	int			n;
	struct
	{
		int64		start;
		TransactionId xid;
	}			r[RECORDS_KEPT];
} RecordedStarts;

static HTAB *recorded = NULL;

/*
 * log_start_safe returns the offset below which a partition's segments may
 * be reclaimed: the newest start of that kind recorded by a transaction
 * that every snapshot of the server sees committed (-1: none yet).  The
 * start the catalog holds now joins the history.  Caller is connected to
 * SPI, with a role that may read topics.partition.
 */
int64
log_start_safe(const char *topic, int partition, RecordedStartKind kind)
{
	Oid			argtypes[2] = {TEXTOID, INT4OID};
	Datum		args[2];
	RecordedStartKey key;
	RecordedStarts *rs;
	TransactionId horizon;
	bool		found;
	bool		isnull;
	int64		safe = -1;
	int			i;
	int			keep;

	if (recorded == NULL)
	{
		HASHCTL		ctl;

		memset(&ctl, 0, sizeof(ctl));
		ctl.keysize = sizeof(RecordedStartKey);
		ctl.entrysize = sizeof(RecordedStarts);
		ctl.hcxt = TopMemoryContext;
		recorded = hash_create("pg_topics recorded log starts", 64, &ctl,
							   HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	memset(&key, 0, sizeof(key));
	strlcpy(key.topic, topic, NAMEDATALEN);
	key.partition = partition;
	key.kind = kind;
	rs = hash_search(recorded, &key, HASH_ENTER, &found);
	if (!found)
		rs->n = 0;

	args[0] = CStringGetTextDatum(topic);
	args[1] = Int32GetDatum(partition);
	if (SPI_execute_with_args(kind == RECORDED_QUEUE_START ?
							  "SELECT queue_start, xmin FROM topics.partition "
							  "WHERE topic OPERATOR(pg_catalog.=) $1 "
							  "AND partition OPERATOR(pg_catalog.=) $2" :
							  "SELECT log_start, xmin FROM topics.partition "
							  "WHERE topic OPERATOR(pg_catalog.=) $1 "
							  "AND partition OPERATOR(pg_catalog.=) $2",
							  2, argtypes, args, NULL, true, 0) != SPI_OK_SELECT ||
		SPI_processed != 1)
		return -1;
	if (rs->n == RECORDS_KEPT)
	{
		memmove(rs->r, rs->r + 1, sizeof(rs->r[0]) * (RECORDS_KEPT - 1));
		rs->n--;
	}
	rs->r[rs->n].start = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
													 SPI_tuptable->tupdesc, 1, &isnull));
	rs->r[rs->n].xid = DatumGetTransactionId(SPI_getbinval(SPI_tuptable->vals[0],
														   SPI_tuptable->tupdesc, 2, &isnull));
	rs->n++;

	/*
	 * A record read from a row that its transaction then rolled back (this
	 * backend's own, a delete_records undone) was never seen by anyone: it
	 * is forgotten, however old.
	 */
	horizon = GetOldestNonRemovableTransactionId(NULL);
	keep = 0;
	for (i = 0; i < rs->n; i++)
	{
		if (!TransactionIdPrecedes(rs->r[i].xid, horizon))
			continue;
		if (!TransactionIdDidCommit(rs->r[i].xid))
		{
			memmove(rs->r + i, rs->r + i + 1, sizeof(rs->r[0]) * (rs->n - i - 1));
			rs->n--;
			i--;
			continue;
		}
		safe = Max(safe, rs->r[i].start);
		keep = i;
	}
	/* the records older than the one used are of no more use */
	if (keep > 0)
	{
		memmove(rs->r, rs->r + keep, sizeof(rs->r[0]) * (rs->n - keep));
		rs->n -= keep;
	}
	return safe;
}

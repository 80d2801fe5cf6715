/*-------------------------------------------------------------------------
 *
 * reclaim.c
 *	  Dropping the segments of a partition that lie wholly below its log
 *	  start: the one way retention, delete_records and a queue's
 *	  consumption give space back, a table at a time, with no DELETE of a
 *	  message row and so no dead tuple and no vacuum debt.
 *
 * What no reader can be handed any more is dropped, and only that:
 *	- only below a log start that every snapshot sees (log_start_safe),
 *	  so that a snapshot older than the move still finds what it may read;
 *	- a segment is dropped under an exclusive lock on it, taken without
 *	  waiting: a reader holds its segment locked from its first row to the
 *	  end of its transaction (a cursor too), so a read in the middle of a
 *	  segment keeps it, and the segments after it, whole.  Dropping is
 *	  oldest first and stops at the first busy segment;
 *	- dropping a partition's child locks the partition's table (as
 *	  PostgreSQL does, so that a query on it cannot plan a table that is
 *	  gone), also without waiting: a plain SQL read of the topic holds the
 *	  drop off until a later run.
 * The last segment of a partition is never dropped: the partition's log
 * end lies in it or after it.  A reader that reaches a dropped segment
 * (its copy of the segment list was older) finds it gone below the log
 * start and passes over it (fetch_reader.c).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/partition.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "storage/lmgr.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"

#include "log/topic_tables.h"
#include "pg_topics.h"
#include "retention/reclaim.h"

/*
 * reclaim_segments drops the segments of a partition that lie wholly below
 * below, oldest first, but never its last one, and returns how many; the
 * bytes they held are added to *bytes.  Caller runs as the owner of the
 * topic's tables, connected to SPI, with the topic locked.
 */
int
reclaim_segments(const char *topic, int partition, int64 below, int64 *bytes)
{
	Oid			argtypes[4] = {TEXTOID, INT4OID, INT8OID, INT8OID};
	Datum		args[4];
	uint64		i;
	uint64		n;
	int			dropped = 0;
	int64		sealed_freed = 0;
	SPITupleTable *tuptable;
	Oid			parent;
	List	   *groups = NIL;
	ListCell   *lc;

	if (below <= 0)
		return 0;
	args[0] = CStringGetTextDatum(topic);
	args[1] = Int32GetDatum(partition);
	args[2] = Int64GetDatum(below);
	if (SPI_execute_with_args("SELECT s.base_offset, "
							  "topics_internal.segment_size(s.topic, s.partition, s.base_offset), "
							  "s.base_offset OPERATOR(pg_catalog.<) p.sealed_end "
							  "FROM topics.segment s JOIN topics.partition p "
							  "ON p.topic OPERATOR(pg_catalog.=) s.topic "
							  "AND p.partition OPERATOR(pg_catalog.=) s.partition "
							  "WHERE s.topic OPERATOR(pg_catalog.=) $1 "
							  "AND s.partition OPERATOR(pg_catalog.=) $2 "
							  "AND s.end_offset OPERATOR(pg_catalog.<=) $3 "
							  "AND s.end_offset OPERATOR(pg_catalog.<=) p.log_start "
							  "AND s.base_offset OPERATOR(pg_catalog.<) ("
							  " SELECT pg_catalog.max(l.base_offset) FROM topics.segment l "
							  " WHERE l.topic OPERATOR(pg_catalog.=) $1 "
							  " AND l.partition OPERATOR(pg_catalog.=) $2) "
							  "ORDER BY s.base_offset",
							  3, argtypes, args, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not list the segments of topic \"%s\" below its log start", topic);
	n = SPI_processed;
	tuptable = SPI_tuptable;
	if (n == 0)
		return 0;

	parent = topic_table_relid(topic, partition, -1);
	if (!OidIsValid(parent) ||
		!ConditionalLockRelationOid(parent, AccessExclusiveLock))
		return 0;
	for (i = 0; i < n; i++)
	{
		bool		isnull;
		bool		unsized;
		int64		base = DatumGetInt64(SPI_getbinval(tuptable->vals[i],
													   tuptable->tupdesc, 1, &isnull));
		Datum		size = SPI_getbinval(tuptable->vals[i], tuptable->tupdesc, 2,
										 &unsized);
		bool		sealed = DatumGetBool(SPI_getbinval(tuptable->vals[i],
														tuptable->tupdesc, 3,
														&isnull));
		Oid			relid = topic_table_relid(topic, partition, base);
		Oid			group;

		if (!OidIsValid(relid) ||
			!ConditionalLockRelationOid(relid, AccessExclusiveLock))
			break;
		group = get_partition_parent(relid, true);
		if (group != parent)
			groups = list_append_unique_oid(groups, group);
		topic_tables_exec(psprintf("DROP TABLE %s",
								   quote_qualified_identifier(TOPICS_DATA_SCHEMA,
															  topic_table_name(topic, partition, base))));
		args[2] = Int64GetDatum(base);
		if (SPI_execute_with_args("DELETE FROM topics.segment "
								  "WHERE topic OPERATOR(pg_catalog.=) $1 "
								  "AND partition OPERATOR(pg_catalog.=) $2 "
								  "AND base_offset OPERATOR(pg_catalog.=) $3",
								  3, argtypes, args, NULL, false, 0) != SPI_OK_DELETE)
			elog(ERROR, "could not remove a segment of topic \"%s\"", topic);
		if (!unsized)
		{
			*bytes += DatumGetInt64(size);
			if (sealed)
				sealed_freed += DatumGetInt64(size);
		}
		dropped++;
	}
	/* a group of segments left without any goes too */
	foreach(lc, groups)
	{
		Oid			group = lfirst_oid(lc);
		char	   *name = get_rel_name(group);

		if (name != NULL && find_inheritance_children(group, NoLock) == NIL)
			topic_tables_exec(psprintf("DROP TABLE %s",
									   quote_qualified_identifier(TOPICS_DATA_SCHEMA, name)));
	}

	/*
	 * Dropping a segment of a group invalidates the group, not the
	 * partition's table, whose invalidation brings the segment lists of the
	 * backends up to date (topic.c).
	 */
	if (dropped > 0)
		CacheInvalidateRelcacheByRelid(parent);

	if (sealed_freed > 0)
	{
		args[3] = Int64GetDatum(sealed_freed);
		if (SPI_execute_with_args("UPDATE topics.partition "
								  "SET sealed_bytes = GREATEST(sealed_bytes OPERATOR(pg_catalog.-) $4, 0) "
								  "WHERE topic OPERATOR(pg_catalog.=) $1 "
								  "AND partition OPERATOR(pg_catalog.=) $2",
								  4, argtypes, args, NULL, false, 0) != SPI_OK_UPDATE)
			elog(ERROR, "could not update the size of topic \"%s\"", topic);
	}
	return dropped;
}

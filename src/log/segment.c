/*-------------------------------------------------------------------------
 *
 * segment.c
 *	  The chain of segment tables of a partition, and how it grows.
 *
 * A segment holds a fixed range [base, end) of one partition's offsets,
 * chosen when it is created: segment.messages offsets, or fewer when the
 * partition's recent messages are large, so that a segment holds about
 * segment.bytes.  Bounds never change once set, so growing the chain never
 * locks a segment that producers are writing to.
 *
 * A producer must never create a segment in its own transaction: until it
 * commits, every other producer that reaches the same offsets would wait
 * for it.  So the next segment is created by the database's segment maker
 * (segment_maker.c), which producers ask early, without waiting, when they
 * pass the middle of the last segment, and wait for only when they find no
 * segment for their offset; this file is the maker's work
 * (segment_extend).  It attaches the new table with ATTACH PARTITION,
 * which takes only SHARE UPDATE EXCLUSIVE on the parent and so never waits
 * for producers or readers.  Segments after a partition's first go into
 * groups of SEGMENTS_PER_GROUP (segment_add).
 *
 * A partition created by the producer's own transaction (with its topic,
 * or by add_partitions) is the exception: no other transaction can see
 * it, so its segments are created in that transaction
 * (segment_extend_here), where the maker could not see the partition.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/table.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/partition.h"
#include "catalog/pg_class.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "storage/bufmgr.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lmgr.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "guc.h"
#include "log/segment.h"
#include "log/topic.h"
#include "log/topic_tables.h"

/*
 * Segments of a partition after its first are attached to groups, tables
 * partitioned by offset range under the partition's table, each holding
 * this many segments: attaching a table costs PostgreSQL time in
 * proportion to the tables its parent holds (and a worker starts with cold
 * caches), so that adding a segment costs the same at ten segments as at
 * ten thousand.
 */
#define SEGMENTS_PER_GROUP	64

/* Segments the maker adds in one transaction, at most (segment_extend). */
#define SEGMENTS_PER_TRANSACTION	SEGMENTS_PER_GROUP


/*
 * create_offset_index creates the unique index on msg_offset of table name
 * (see topic_index_name).
 */
static void
create_offset_index(const char *name)
{
	topic_tables_exec(psprintf("CREATE UNIQUE INDEX %s ON %s (msg_offset)",
							   quote_identifier(topic_index_name(name)),
							   quote_qualified_identifier(TOPICS_DATA_SCHEMA, name)));
}

/*
 * create_child creates table name of a partition's chain, shaped as parent
 * and with its own unique index on msg_offset (partitioned by msg_offset
 * itself when partitioned), and attaches it to parent for [base, end).
 */
static void
create_child(const char *name, const char *parent, int64 base, int64 end,
			 bool partitioned)
{
	const char *qname = quote_qualified_identifier(TOPICS_DATA_SCHEMA, name);
	const char *qparent = quote_qualified_identifier(TOPICS_DATA_SCHEMA, parent);

	topic_tables_exec(psprintf("CREATE TABLE %s (LIKE %s INCLUDING DEFAULTS)%s",
							   qname, qparent,
							   partitioned ? " PARTITION BY RANGE (msg_offset)" : ""));
	create_offset_index(name);
	topic_tables_exec(psprintf("ALTER TABLE %s ATTACH PARTITION %s "
							   "FOR VALUES FROM (" INT64_FORMAT ") TO (" INT64_FORMAT ")",
							   qparent, qname, base, end));
}

/*
 * record_segment records the segment [base, end) of a partition in
 * topics.segment.  Caller is connected to SPI.
 */
static void
record_segment(const char *topic, int partition, int64 base, int64 end)
{
	/* planned once per backend: the makers record thousands in a row */
	static SPIPlanPtr plan = NULL;
	Datum		args[4];
	int			rc;

	if (plan == NULL)
	{
		Oid			argtypes[4] = {TEXTOID, INT4OID, INT8OID, INT8OID};
		SPIPlanPtr	p = SPI_prepare("INSERT INTO topics.segment "
									"(topic, partition, base_offset, end_offset) "
									"VALUES ($1, $2, $3, $4)", 4, argtypes);

		if (p == NULL || SPI_keepplan(p) != 0)
			elog(ERROR, "could not plan the insert into topics.segment: %s",
				 SPI_result_code_string(SPI_result));
		plan = p;
	}
	args[0] = CStringGetTextDatum(topic);
	args[1] = Int32GetDatum(partition);
	args[2] = Int64GetDatum(base);
	args[3] = Int64GetDatum(end);
	rc = SPI_execute_plan(plan, args, NULL, false, 0);
	if (rc != SPI_OK_INSERT)
		elog(ERROR, "could not record segment " INT64_FORMAT " of partition %d of topic \"%s\"",
			 base, partition, topic);
}

/*
 * segment_create creates the first segment [base, end) of a partition whose
 * table the current transaction created, straight under it, and records
 * it.  It is made CREATE TABLE ... PARTITION OF, one statement where
 * creating the table and attaching it took two and a scan to check its
 * bounds; the ACCESS EXCLUSIVE lock that takes on the partition's table is
 * held already.  Its index is created by name (topic_index_name).  The
 * partition's table gets no index of its own (those made before 0.3 have
 * one): every read goes to a segment through the segment's index, and
 * offsets are unique in the partition because each is in one segment's
 * range, so building it (some 6% of the time to make a partition) bought
 * nothing.
 * Caller is connected to SPI and runs as the owner of schema topics_data.
 */
void
segment_create(const char *topic, int partition, int64 base, int64 end)
{
	char	   *name = topic_table_name(topic, partition, base);
	char	   *parent = topic_table_name(topic, partition, -1);
	const char *qname = quote_qualified_identifier(TOPICS_DATA_SCHEMA, name);
	const char *qparent = quote_qualified_identifier(TOPICS_DATA_SCHEMA, parent);

	topic_tables_exec(psprintf("CREATE TABLE %s PARTITION OF %s "
							   "FOR VALUES FROM (" INT64_FORMAT ") TO (" INT64_FORMAT ")",
							   qname, qparent, base, end));
	create_offset_index(name);
	record_segment(topic, partition, base, end);
}

/*
 * group_bounds sets *lo and *hi to the range [lo, hi) that the group of
 * segments group holds (see extend_chain), and returns false unless group
 * is a range partition of offsets.
 */
static bool
group_bounds(Oid group, int64 *lo, int64 *hi)
{
	HeapTuple	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(group));
	PartitionBoundSpec *spec;
	PartitionRangeDatum *lower;
	PartitionRangeDatum *upper;
	Datum		datum;
	bool		isnull;

	if (!HeapTupleIsValid(tup))
		return false;
	datum = SysCacheGetAttr(RELOID, tup, Anum_pg_class_relpartbound, &isnull);
	spec = isnull ? NULL : (PartitionBoundSpec *) stringToNode(TextDatumGetCString(datum));
	ReleaseSysCache(tup);
	if (spec == NULL || !IsA(spec, PartitionBoundSpec) ||
		spec->strategy != PARTITION_STRATEGY_RANGE ||
		list_length(spec->lowerdatums) != 1 || list_length(spec->upperdatums) != 1)
		return false;
	lower = linitial_node(PartitionRangeDatum, spec->lowerdatums);
	upper = linitial_node(PartitionRangeDatum, spec->upperdatums);
	if (lower->kind != PARTITION_RANGE_DATUM_VALUE ||
		upper->kind != PARTITION_RANGE_DATUM_VALUE ||
		!IsA(lower->value, Const) || !IsA(upper->value, Const))
		return false;
	*lo = DatumGetInt64(castNode(Const, lower->value)->constvalue);
	*hi = DatumGetInt64(castNode(Const, upper->value)->constvalue);
	return true;
}

/*
 * segment_add adds the segment of a partition that starts at base, after
 * the segment last, into the group of segments of last when that group
 * has room for base, else into a new group: see extend_chain.  Returns the
 * segment's end.  Caller is connected to SPI and runs as the owner of
 * schema topics_data.
 */
static int64
segment_add(const char *topic, int partition, const LogSegment *last,
			int64 base, int64 span)
{
	Oid			parent = get_rel_relispartition(last->relid) ?
	get_partition_parent(last->relid, true) : InvalidOid;
	int64		group_base;
	int64		group_end;
	int64		end;
	char	   *group;

	/* the last segment's parent is a group, unless it is the partition's */
	if (OidIsValid(parent) &&
		parent != topic_table_relid(topic, partition, -1) &&
		group_bounds(parent, &group_base, &group_end) &&
		base >= group_base && base < group_end)
	{
		group = get_rel_name(parent);
		end = Min(base + (group_end - group_base) / SEGMENTS_PER_GROUP,
				  group_end);
	}
	else
	{
		group = topic_group_name(topic, partition, base);
		create_child(group, topic_table_name(topic, partition, -1), base,
					 base + span * SEGMENTS_PER_GROUP, true);
		end = base + span;
	}
	create_child(topic_table_name(topic, partition, base), group, base, end,
				 false);
	record_segment(topic, partition, base, end);
	return end;
}

/*
 * segment_span returns how many offsets the next segment of a partition
 * should cover: segment.messages, or fewer when the average message of the
 * partition's last segment (whose table is relid) says that many would
 * exceed segment.bytes.  log_end is the partition's log end, or -1 when
 * unknown.
 */
static int64
segment_span(int64 segment_messages, int64 segment_bytes,
			 const LogSegment *last, Oid relid, int64 log_end)
{
	int64		messages = segment_messages > 0 ?
	segment_messages : DEFAULT_SEGMENT_MESSAGES;
	int64		bytes = segment_bytes > 0 ? segment_bytes : DEFAULT_SEGMENT_BYTES;
	int64		used;
	int64		size;
	Relation	rel;

	if (log_end < 0)
		return messages;
	used = Min(log_end, last->end) - last->base;
	if (used <= 0)
		return messages;
	rel = table_open(relid, AccessShareLock);
	size = (int64) RelationGetNumberOfBlocks(rel) * BLCKSZ;
	table_close(rel, AccessShareLock);
	if (size <= 0)
		return messages;
	return Max(1, Min(messages, bytes / Max(1, size / used)));
}

/*
 * extend_chain adds segments to a partition until its chain covers offset
 * target, or until it added max of them (0: no limit); returns false in
 * the latter case.  A new segment starts at the end of the last one, or at
 * resume when that is higher: offsets between them were handed out before
 * the server restarted, or never, and no row will be written there.
 * Caller is connected to SPI, runs as the owner of schema topics_data, and
 * holds ShareUpdateExclusiveLock on the partition's table, which
 * serializes the extenders of a partition.
 */
static bool
extend_chain(const char *topic, int partition, int64 target,
			 int64 segment_messages, int64 segment_bytes, int64 log_end,
			 int64 resume, int max)
{
	Oid			argtypes[2] = {TEXTOID, INT4OID};
	Datum		args[2];
	int			added;

	args[0] = CStringGetTextDatum(topic);
	args[1] = Int32GetDatum(partition);
	for (added = 0; max == 0 || added < max; added++)
	{
		LogSegment	last;
		int64		base;
		bool		isnull;
		int			rc;

		rc = SPI_execute_with_args("SELECT base_offset, end_offset "
								   "FROM topics.segment "
								   "WHERE topic OPERATOR(pg_catalog.=) $1 "
								   "AND partition OPERATOR(pg_catalog.=) $2 "
								   "ORDER BY base_offset DESC LIMIT 1",
								   2, argtypes, args, NULL, false, 1);
		if (rc != SPI_OK_SELECT || SPI_processed == 0)
			return true;
		last.base = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
												SPI_tuptable->tupdesc, 1, &isnull));
		last.end = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
											   SPI_tuptable->tupdesc, 2, &isnull));
		if (last.end > target)
			return true;
		last.relid = topic_table_relid(topic, partition, last.base);
		if (!OidIsValid(last.relid))
			return true;
		base = Max(last.end, resume);
		(void) segment_add(topic, partition, &last, base,
						   segment_span(segment_messages, segment_bytes,
										&last, last.relid, log_end));

		/*
		 * Attaching the segment to its group invalidates the group, not the
		 * partition's table, which the backends' topic caches watch.
		 */
		CacheInvalidateRelcacheByRelid(topic_table_relid(topic, partition, -1));
		CommandCounterIncrement();
	}
	return false;
}

/*
 * segment_extend serves a request of a producer, inside a transaction of
 * the segment maker, as the owner of schema topics_data.  It adds at most
 * SEGMENTS_PER_TRANSACTION segments, and returns false when it stopped
 * there: the maker then commits and calls it again, so that a producer
 * that takes many offsets at once does not lock more tables in one
 * transaction than the lock table holds.
 */
bool
segment_extend(SegmentRequest *req)
{
	bool		done;
	Oid			argtypes[2] = {TEXTOID, INT4OID};
	Datum		args[2];
	Oid			root;
	Oid			parent;
	bool		isnull;
	int64		segment_messages;
	int64		segment_bytes;
	int			rc;
	AsOwner		admin;

	as_owner_begin(&admin);
	args[0] = CStringGetTextDatum(req->topic);
	args[1] = Int32GetDatum(req->partition);
	rc = SPI_execute_with_args("SELECT COALESCE((t.config OPERATOR(pg_catalog.->>) 'segment.messages')::pg_catalog.int8, 0), "
							   "COALESCE((t.config OPERATOR(pg_catalog.->>) 'segment.bytes')::pg_catalog.int8, 0) "
							   "FROM topics.topic t, topics.partition p "
							   "WHERE t.name OPERATOR(pg_catalog.=) $1 "
							   "AND p.topic OPERATOR(pg_catalog.=) t.name "
							   "AND p.partition OPERATOR(pg_catalog.=) $2",
							   2, argtypes, args, NULL, true, 1);
	root = topic_table_relid(req->topic, -1, -1);
	parent = topic_table_relid(req->topic, req->partition, -1);
	if (rc != SPI_OK_SELECT || SPI_processed == 0 ||
		!OidIsValid(root) || !OidIsValid(parent))
	{
		/* the topic was dropped meanwhile */
		as_owner_end(&admin);
		return true;
	}
	segment_messages = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
												   SPI_tuptable->tupdesc, 1, &isnull));
	segment_bytes = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
												SPI_tuptable->tupdesc, 2, &isnull));

	/*
	 * Lock the root before the partition table, as ATTACH PARTITION will and
	 * as drop_topic does, so that a concurrent drop cannot deadlock with us.
	 * Then serialize with other workers of this partition and look again.
	 */
	LockRelationOid(root, AccessShareLock);
	LockRelationOid(parent, ShareUpdateExclusiveLock);
	if (!SearchSysCacheExists1(RELOID, ObjectIdGetDatum(parent)))
	{
		as_owner_end(&admin);
		return true;
	}
	done = extend_chain(req->topic, req->partition, req->target,
						segment_messages, segment_bytes, req->log_end,
						req->resume, SEGMENTS_PER_TRANSACTION);
	as_owner_end(&admin);
	return done;
}

/*
 * segment_extend_here adds the segments of a partition that the current
 * transaction created, in the transaction itself: no maker could see it.
 */
void
segment_extend_here(Topic *topic, int partition, int64 target)
{
	AsOwner		admin;

	as_owner_begin(&admin);
	(void) extend_chain(topic->name, partition, target,
						topic->cfg.segment_messages, topic->cfg.segment_bytes, -1, -1,
						0);
	as_owner_end(&admin);
}

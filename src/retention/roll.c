/*-------------------------------------------------------------------------
 *
 * roll.c
 *	  Rolling over the segment a partition writes to once its first
 *	  message is older than segment.ms, as Kafka rolls its active segment,
 *	  so that a quiet partition's messages still expire on time.
 *
 * A segment's offsets are fixed when it is made, and producers write
 * where their offsets fall (segment.c), so a segment cannot end early.
 * Rolling over skips the rest of its offsets instead: the partition's log
 * end moves to the segment's end (partition_skip_to), the skipped offsets
 * are a gap, as a rolled-back producer leaves, and the next message starts
 * the next segment, which is asked for at once.  Once the producers that hold offsets in it end, the
 * segment is sealed and retention or compaction can take it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xlog.h"
#include "executor/tuptable.h"
#include "utils/fmgroids.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "log/segment_maker.h"
#include "log/topic_tables.h"
#include "pg_topics.h"
#include "retention/retention.h"
#include "retention/roll.h"

/*
 * segment_first_timestamp returns the timestamp of the first committed
 * message of a segment at or above offset from, or false when it has none
 * (or its table is gone, dropped below the log start).
 */
bool
segment_first_timestamp(Topic *topic, int partition, const LogSegment *seg,
						int64 from, TimestampTz *ts)
{
	Oid			relid = topic_table_relid(topic->name, partition, seg->base);
	Relation	rel = OidIsValid(relid) ? try_table_open(relid, AccessShareLock) : NULL;
	Relation	index;
	Snapshot	snapshot;
	TupleTableSlot *slot;
	IndexScanDesc scan;
	ScanKeyData key;
	bool		found;

	if (rel == NULL)
		return false;
	index = index_open(segment_offset_index(rel), AccessShareLock);
	snapshot = RegisterSnapshot(GetLatestSnapshot());
	slot = table_slot_create(rel, NULL);
	ScanKeyInit(&key, 1, BTGreaterEqualStrategyNumber, F_INT8GE,
				Int64GetDatum(from));
	scan = index_beginscan(rel, index, snapshot, 1, 0);
	index_rescan(scan, &key, 1, NULL, 0);
	found = index_getnext_slot(scan, ForwardScanDirection, slot);
	if (found)
	{
		bool		isnull;

		*ts = DatumGetTimestampTz(slot_getattr(slot, Anum_message_timestamp, &isnull));
	}
	index_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);
	UnregisterSnapshot(snapshot);
	index_close(index, AccessShareLock);
	table_close(rel, AccessShareLock);
	return found;
}

/*
 * roll_segment rolls the segment a partition writes to over when its first
 * message is older than the topic's segment.ms at now; returns whether it
 * did.
 */
bool
roll_segment(Topic *topic, int partition, TimestampTz now)
{
	PartitionState *state;
	PartitionBounds bounds;
	const LogSegment *seg;
	TimestampTz first;

	/* a queue's gap would lie across its delivery window (topic_config.c) */
	if (topic->mode == TOPIC_MODE_QUEUE ||
		topic_partition_pending(topic, partition) || RecoveryInProgress())
		return false;
	state = topic_partition_state(topic, partition);
	partition_bounds(state, &bounds);
	if (bounds.log_end == 0)
		return false;
	seg = topic_find_segment(topic, partition, bounds.log_end - 1);
	if (seg == NULL || bounds.log_end >= seg->end ||
		!segment_first_timestamp(topic, partition, seg, seg->base, &first) ||
		first >= time_before(now, topic->cfg.segment_ms) ||
		!partition_skip_to(state, seg->end))
		return false;

	/*
	 * The next segment is asked for now, without waiting: a partition's last
	 * segment is never let go, and a quiet partition's messages must expire.
	 */
	if (partition_segment_wanted(state, seg->end) &&
		segment_request(topic, partition, seg->end, 0) != MAKER_ASKED)
		partition_segment_unwanted(state);
	return true;
}

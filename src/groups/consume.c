/*-------------------------------------------------------------------------
 *
 * consume.c
 *	  Polling a consumer group: reading the member's partitions from the
 *	  group's positions, and moving the positions inside the caller's
 *	  transaction.
 *
 * topics.poll() is an SQL function that the planner inlines into the
 * caller's query:
 *
 *		SELECT ... FROM topics._poll(...) r
 *		 WHERE topics._take(group, topic, r.partition, r.msg_offset)
 *
 * _poll reads the messages (it locks the position of each partition it
 * reads from, so that a new owner after a rebalance waits for this
 * transaction), and _take, a filter evaluated for each row as the scan
 * hands it to the rest of the caller's query, moves the position past that
 * row.  So a cursor over topics.poll() advances the group only past the
 * rows it FETCHed, and a plain SELECT past every row it read, including
 * those its own WHERE conditions then dropped (they run after _take, the
 * cheapest condition).
 *
 * The positions a transaction moves are kept by its ledger (positions.c)
 * and written when it commits.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/latch.h"
#include "tcop/utility.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "args.h"
#include "groups/group.h"
#include "groups/heartbeat.h"
#include "groups/positions.h"
#include "log/fetch.h"
#include "log/topic_tables.h"

PG_FUNCTION_INFO_V1(pg_topics__poll);
PG_FUNCTION_INFO_V1(pg_topics__take);

/*
 * A waiting poll counts as the member's heartbeat, and looks for a
 * rebalance of its group, this often.
 */
#define POLL_RECHECK_MS		1000

/*
 * Locks that reading a partition takes until the transaction ends: its
 * segment, the segment's index, and a next segment now and then.
 */
#define LOCKS_PER_PARTITION_READ	3

/* Polls rotate the partition they read first, for fairness. */
static uint32 poll_rotation = 0;


/*
 * A poll's claim of a partition's position (see poll_claim_decide).
 */
typedef struct PollClaim
{
	Topic	   *topic;
	GroupMember *gm;
	int			partition;
	int			budget;			/* rows the poll may still return */
	bool		lock_only;		/* write nothing but a reset position */
	int64		start;			/* set: where the read starts */
	int64		lso;			/* set: where it stops */
} PollClaim;

/*
 * poll_claim_decide returns the value a poll writes into the position row
 * of a partition it claims, given the committed position: where the read
 * ends if the caller takes every row, the LSO or budget rows on.  Rows
 * the caller leaves untaken, and rolled-back offsets that let the read go
 * further, make the commit write the difference.  When only locking, the
 * position where the read starts, which differs from the committed one
 * only where auto_offset_reset applies.
 */
static int64
poll_claim_decide(int64 committed, void *arg)
{
	PollClaim  *c = arg;
	PartitionBounds bounds;

	c->start = group_resolve_position(c->topic, c->gm, c->partition,
									  committed);
	topic_bounds(c->topic, c->partition, &bounds);
	c->lso = bounds.lso;
	if (c->lock_only || c->lso <= c->start)
		return c->start;
	return c->lso - c->start <= c->budget ? c->lso : c->start + c->budget;
}

/*
 * poll_claim locks the position of the member's k-th partition for this
 * transaction, writing it as poll_claim_decide says, and registers the
 * position.  Returns where the read starts and sets *lso to the LSO it
 * stops at.
 */
static int64
poll_claim(Topic *topic, GroupMember *gm, LedgerGroup *lg, int k,
		   int budget, bool lock_only, int64 *lso)
{
	int			partition = gm->assigned[k];
	PollClaim	claim = {topic, gm, partition, budget, lock_only, 0, 0};
	ItemPointerData tid;
	int64		written;

	(void) group_claim_position(topic->name, gm->group, partition,
								&gm->rows[k], poll_claim_decide, &claim,
								&written, &tid);
	position_register(lg, partition, written, claim.start, &tid);
	*lso = claim.lso;
	return claim.start;
}

/*
 * poll_still_member keeps a waiting member alive, and at most once every
 * POLL_RECHECK_MS returns false when its group was rebalanced since the
 * poll began (or the member left): then the poll ends, and returns what it
 * read, so that the member learns of the rebalance and a new owner of its
 * partitions does not wait out the rest of its max_wait.
 */
static bool
poll_still_member(Topic *topic, GroupMember *gm, const char *member,
				  TimestampTz *checked)
{
	GroupMember now;

	member_touch(member_key(topic->name, gm->group, member));
	if (!TimestampDifferenceExceeds(*checked, GetCurrentTimestamp(),
									POLL_RECHECK_MS))
		return true;
	*checked = GetCurrentTimestamp();
	if (!group_lookup(topic, gm->group, member, &now))
		return false;
	return now.is_member && now.generation == gm->generation;
}

/*
 * poll_sleep_ms returns how long a poll sleeps before it looks again:
 * until the deadline, but no longer than POLL_RECHECK_MS.
 */
static long
poll_sleep_ms(TimestampTz deadline)
{
	return Min(TimestampDifferenceMilliseconds(GetCurrentTimestamp(), deadline),
			   POLL_RECHECK_MS);
}

/*
 * topics._poll(group, topic, member, max_messages, max_wait) returns the
 * next committed messages of the member's partitions, as stored.  It moves
 * no position itself, except past a gap of rolled-back offsets that holds
 * no message to take; topics._take moves them as rows are handed out.
 */
Datum
pg_topics__poll(PG_FUNCTION_ARGS)
{
	Tuplestorestate *store;
	char	   *group;
	char	   *member;
	Topic	   *topic;
	int32		max;
	int64		wait_ms;
	TimestampTz deadline;
	GroupMember gm;
	LedgerGroup *lg;
	int64	   *pos;
	int64	   *lso;
	PartitionState *topic_state;
	TimestampTz checked;
	ReturnSetInfo *rsinfo;
	int			i;
	int			found = 0;
	int32		min;
	bool		waiting = false;
	uint32		rebalances;

	for (i = 0; i < PG_NARGS(); i++)
		if (PG_ARGISNULL(i))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("arguments of topics.poll() must not be null")));
	group = text_to_cstring(PG_GETARG_TEXT_PP(0));
	topic = topic_open(topic_name_from_text(PG_GETARG_TEXT_PP(1)),
					   AccessShareLock);
	topic_check_privilege(topic, ACL_SELECT);
	group_check_topic(topic);
	member = text_to_cstring(PG_GETARG_TEXT_PP(2));
	max = PG_GETARG_INT32(3);
	wait_ms = pg_topics_wait_ms(PG_GETARG_INTERVAL_P(4));
	pg_topics_check_max_messages(max, "poll");
	/* (the 0.2 SQL objects call this without min_messages) */
	min = PG_NARGS() > 5 ? PG_GETARG_INT32(5) : 1;
	if (min < 1 || min > max)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid min_messages %d", min),
				 errdetail("A poll returns once at least min_messages messages are there, or max_wait passed; min_messages is from 1 to max_messages (%d).",
						   max)));
	PreventCommandIfReadOnly("topics.poll()");

	group_check_member(topic, group, member, &gm);
	lg = positions_group(topic->name, group);
	store = fetch_store_begin(fcinfo);
	/* the query's row filter knows this read by the query's memory */
	rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	positions_mark_polled(lg, rsinfo->econtext->ecxt_per_query_memory);
	deadline = pg_topics_deadline(wait_ms);
	checked = GetCurrentTimestamp();
	topic_state = topic_partition_state(topic, 0);
	rebalances = partition_rebalances(topic_state);
	if (gm.nassigned == 0)
	{
		/*
		 * More members than partitions: this one waits out its turn, or a
		 * rebalance, which wakes the polls of partition 0 too.
		 */
		partition_wait_for(topic_state);
		while (GetCurrentTimestamp() < deadline &&
			   poll_still_member(topic, &gm, member, &checked))
		{
			partition_wait_arm(PG_INT32_MAX);
			partition_wait_sleep(0, poll_sleep_ms(deadline));
			if (partition_rebalances(topic_state) != rebalances)
				checked = 0;
		}
		partition_wait_done();
		return (Datum) 0;
	}

	pos = palloc(sizeof(int64) * gm.nassigned);
	lso = palloc(sizeof(int64) * gm.nassigned);
	for (;;)
	{
		int64		ready = 0;
		TimestampTz now;

		/* commits from now on count off what the poll waits for */
		if (waiting)
			partition_wait_arm(min);

		/* where each partition is read from: this transaction's, or committed */
		for (i = 0; i < gm.nassigned; i++)
		{
			int			p = gm.assigned[i];
			bool		claimed = false;

			if (!position_pending(lg, p, &pos[i]))
			{
				pos[i] = group_resolve_position(topic, &gm, p,
												gm.committed[i]);

				/*
				 * A position to reset is written now, so that the messages
				 * that come while the poll waits are read.  No other
				 * position is locked before there is something to read: a
				 * new owner after a rebalance must not wait for a poll that
				 * waits.  A claim looks at the LSO itself.
				 */
				if (pos[i] != gm.committed[i])
				{
					pos[i] = poll_claim(topic, &gm, lg, i, 0, true, &lso[i]);
					claimed = true;
				}
			}
			if (!claimed)
			{
				PartitionBounds bounds;

				topic_bounds(topic, p, &bounds);
				lso[i] = bounds.lso;
			}
			if (lso[i] > pos[i])
				ready += lso[i] - pos[i];
		}

		/*
		 * Kafka's fetch.min.bytes and fetch.max.wait.ms, in messages: wait
		 * for min of them (or rolled-back offsets) up to max_wait, then take
		 * what there is, so that a busy topic wakes a group once per batch.
		 */
		now = GetCurrentTimestamp();
		if (ready >= min || (ready > 0 && now >= deadline))
		{
			uint32		first = poll_rotation++;

			/*
			 * Reading a partition locks its tables until the transaction
			 * ends: a member of thousands of partitions reads a lock table's
			 * share of them, from another one each time.
			 */
			int			read = 0;
			int			max_read = (int) Max(1, topic_tables_lock_share() /
											 LOCKS_PER_PARTITION_READ);

			for (i = 0; i < gm.nassigned && found < max && read < max_read; i++)
			{
				int			k = (first + i) % gm.nassigned;
				int			p = gm.assigned[k];
				int			n;

				if (lso[k] <= pos[k])
					continue;

				/*
				 * claim, then look again: the previous owner may have moved
				 * it
				 */
				if (!position_pending(lg, p, &pos[k]))
				{
					pos[k] = poll_claim(topic, &gm, lg, k, max - found, false,
										&lso[k]);
					if (lso[k] <= pos[k])
						continue;
				}
				n = fetch_partition_rows(topic, p, pos[k], lso[k], max - found,
										 store);
				read++;

				/*
				 * The rows stored may move the position up to the LSO;
				 * finding none, only rolled-back offsets, skips the gap.
				 */
				position_read(lg, p, lso[k], n == 0);
				if (n == 0)
					pos[k] = lso[k];
				found += n;
			}
			if (found > 0)
				break;
			/* only rolled-back offsets, now skipped: look again */
			continue;
		}
		if (now >= deadline)
			break;

		/* wait for the member's partitions, then look once more */
		if (!waiting)
		{
			for (i = 0; i < gm.nassigned; i++)
				if (!topic_partition_pending(topic, gm.assigned[i]))
					partition_wait_for(topic_partition_state(topic,
															 gm.assigned[i]));
			waiting = true;
			continue;
		}
		if (!poll_still_member(topic, &gm, member, &checked))
			break;
		partition_wait_sleep(ready, poll_sleep_ms(deadline));

		/* a rebalance of the topic's groups: is this one still a member? */
		if (partition_rebalances(topic_state) != rebalances)
		{
			rebalances = partition_rebalances(topic_state);
			checked = 0;
		}
	}
	partition_wait_done();
	return (Datum) 0;
}

/*
 * topics._take(group, topic, partition, msg_offset) moves this
 * transaction's position in a partition past msg_offset and returns true:
 * topics.poll() calls it as a row filter that lets every row through.
 * Only positions this transaction's poll locked can move.
 */
Datum
pg_topics__take(PG_FUNCTION_ARGS)
{
	QueryRead  *qr = fcinfo->flinfo->fn_extra;
	int32		partition;
	int64		offset;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2) || PG_ARGISNULL(3))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("arguments of topics._take() must not be null")));
	partition = PG_GETARG_INT32(2);
	offset = PG_GETARG_INT64(3);

	if (qr == NULL)
	{
		text	   *group = PG_GETARG_TEXT_PP(0);
		text	   *topic = PG_GETARG_TEXT_PP(1);
		LedgerGroup *lg = positions_polled_group(group, topic);

		/* the query that calls us ran the poll: we share its memory */
		if (lg != NULL)
			qr = positions_query_read(lg, fcinfo->flinfo->fn_mcxt);
		if (qr == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("consumer group \"%s\" of topic \"%s\" was not polled by this query",
							text_to_cstring(group), text_to_cstring(topic)),
					 errhint("Read a group's messages with topics.poll().")));

		/*
		 * topics.poll() passes its group and topic as constants: then the
		 * query's read found holds for every row (the query cannot outlive
		 * the transaction, whose memory holds the read).
		 */
		if (get_fn_expr_arg_stable(fcinfo->flinfo, 0) &&
			get_fn_expr_arg_stable(fcinfo->flinfo, 1))
			fcinfo->flinfo->fn_extra = qr;
	}

	positions_take(qr, partition, offset);
	PG_RETURN_BOOL(true);
}

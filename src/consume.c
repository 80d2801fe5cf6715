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
 * Positions moved in a transaction are kept in backend memory and written
 * to topics.committed_offset in the transaction, so the new positions
 * commit together with whatever else it wrote and vanish with it on
 * rollback.  A poll writes a partition's row once, when it claims it, with
 * where its read ends if the caller takes every row; just before commit
 * (or prepare) the rows whose position differs from what was written are
 * written again.  ROLLBACK TO SAVEPOINT puts back the positions of before
 * the savepoint.
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

#include "fetch.h"
#include "group.h"
#include "topic_admin.h"

PG_FUNCTION_INFO_V1(pg_topics__poll);
PG_FUNCTION_INFO_V1(pg_topics__take);

/* The value a position had before a subtransaction changed it. */
typedef struct SavedValue
{
	int			level;
	int64		value;
} SavedValue;

/*
 * A partition position this transaction holds locked.  committed is what
 * the position row holds as this transaction sees it (-1: NULL), value
 * where the group reads next once this transaction commits; tid is the
 * row version the transaction holds (invalid: the row is missing).
 */
typedef struct Position
{
	int32		group_id;
	int32		partition;
	int64		committed;
	int64		value;
	ItemPointerData tid;
	int			created_level;	/* nesting level that locked it */
	int			level;			/* nesting level of the last change */
	int			nsaved;
	SavedValue *saved;			/* values of outer levels, innermost last */
} Position;

/*
 * The positions of the current transaction, in TopTransactionContext: they
 * live exactly as long as the transaction and its position locks.
 */
static Position *positions = NULL;
static int	npositions = 0;
static int	maxpositions = 0;

/*
 * The groups polled in the current transaction, by name, so that _take can
 * find the group of a row from the names the caller's query passes.
 */
typedef struct PolledGroup
{
	char	   *group;
	int			group_len;
	char		topic[NAMEDATALEN];
	int			topic_len;
	int32		group_id;
} PolledGroup;

/* index in positions of the one _take moved last, or -1 */
static int	last_taken = -1;

static List *polled_groups = NIL;	/* in TopTransactionContext */

/* Polls rotate the partition they read first, for fairness. */
static uint32 poll_rotation = 0;


static void position_move(Position *pos, int64 value);

static Position *
position_find(int32 group_id, int partition)
{
	int			i;

	for (i = 0; i < npositions; i++)
		if (positions[i].group_id == group_id &&
			positions[i].partition == partition)
			return &positions[i];
	return NULL;
}

/*
 * position_register records a partition whose position row this
 * transaction has just locked, unless it is known already.
 */
void
position_register(int32 group_id, int partition, int64 committed, int64 value,
				  ItemPointer tid)
{
	Position   *pos;

	if (position_find(group_id, partition) != NULL)
		return;
	if (npositions == maxpositions)
	{
		int			newmax = Max(8, maxpositions * 2);

		if (positions == NULL)
			positions = MemoryContextAlloc(TopTransactionContext,
										   newmax * sizeof(Position));
		else
			positions = repalloc(positions, newmax * sizeof(Position));
		maxpositions = newmax;
	}
	pos = &positions[npositions++];
	pos->group_id = group_id;
	pos->partition = partition;
	pos->committed = committed;
	pos->value = value;
	pos->tid = *tid;
	pos->created_level = GetCurrentTransactionNestLevel();
	pos->level = pos->created_level;
	pos->nsaved = 0;
	pos->saved = NULL;
}

/*
 * position_pending returns whether this transaction holds a position for a
 * partition, and sets *value to it.
 */
bool
position_pending(int32 group_id, int partition, int64 *value)
{
	Position   *pos = position_find(group_id, partition);

	if (pos == NULL)
		return false;
	*value = pos->value;
	return true;
}

/*
 * position_set moves a registered position, remembering the value of
 * before for a rollback to savepoint.
 */
void
position_set(int32 group_id, int partition, int64 value)
{
	Position   *pos = position_find(group_id, partition);

	if (pos == NULL)
		elog(ERROR, "position of partition %d is not locked", partition);
	position_move(pos, value);
}

/*
 * position_move is position_set for a position already found.
 */
static void
position_move(Position *pos, int64 value)
{
	int			level = GetCurrentTransactionNestLevel();

	if (pos->level < level)
	{
		pos->saved = pos->saved == NULL ?
			MemoryContextAlloc(TopTransactionContext, sizeof(SavedValue)) :
			repalloc(pos->saved, (pos->nsaved + 1) * sizeof(SavedValue));
		pos->saved[pos->nsaved].level = pos->level;
		pos->saved[pos->nsaved].value = pos->value;
		pos->nsaved++;
		pos->level = level;
	}
	pos->value = value;
}

/*
 * position_insert writes the position of a partition that has no position
 * row yet: one added to the topic since the group's last rebalance.
 */
static void
position_insert(Position *pos)
{
	Oid			argtypes[3] = {INT4OID, INT4OID, INT8OID};
	Datum		args[3];
	TopicAdmin	admin;

	args[0] = Int32GetDatum(pos->group_id);
	args[1] = Int32GetDatum(pos->partition);
	args[2] = Int64GetDatum(pos->value);
	PushActiveSnapshot(GetTransactionSnapshot());
	topic_admin_begin(&admin);
	if (SPI_execute_with_args("INSERT INTO topics.committed_offset "
							  "(group_id, partition, committed, committed_at) "
							  "VALUES ($1, $2, $3, pg_catalog.now()) "
							  "ON CONFLICT (group_id, partition) DO UPDATE "
							  "SET committed = EXCLUDED.committed, "
							  "committed_at = EXCLUDED.committed_at",
							  3, argtypes, args, NULL, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not write the position of partition %d",
			 pos->partition);
	topic_admin_end(&admin);
	PopActiveSnapshot();
}

/*
 * positions_flush writes the moved positions of this transaction.  Called
 * just before commit or prepare.
 */
static void
positions_flush(void)
{
	bool		incremented = false;
	int			i;

	for (i = 0; i < npositions; i++)
	{
		Position   *pos = &positions[i];

		if (pos->value == pos->committed)
			continue;
		if (!ItemPointerIsValid(&pos->tid))
		{
			position_insert(pos);
			continue;
		}
		/* a row version this statement wrote can only be updated by a later command */
		if (!incremented)
		{
			CommandCounterIncrement();
			incremented = true;
		}
		group_write_position(&pos->tid, pos->value);
	}
}

static void
consume_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_PRE_COMMIT:
		case XACT_EVENT_PRE_PREPARE:
			if (npositions > 0)
				positions_flush();
			break;
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PREPARE:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_PARALLEL_ABORT:
			positions = NULL;
			npositions = maxpositions = 0;
			polled_groups = NIL;
			last_taken = -1;
			break;
		default:
			break;
	}
}

/*
 * consume_subxact_callback merges a committed subtransaction's changes into
 * its parent, and undoes an aborted one's: its position locks are gone, so
 * are the positions it registered.
 */
static void
consume_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
						 SubTransactionId parentSubid, void *arg)
{
	int			level = GetCurrentTransactionNestLevel();
	int			i;
	int			kept = 0;

	if (event != SUBXACT_EVENT_COMMIT_SUB && event != SUBXACT_EVENT_ABORT_SUB)
		return;
	for (i = 0; i < npositions; i++)
	{
		Position   *pos = &positions[i];

		if (event == SUBXACT_EVENT_ABORT_SUB)
		{
			if (pos->created_level >= level)
				continue;		/* dropped */
			if (pos->level >= level)
			{
				pos->nsaved--;
				pos->value = pos->saved[pos->nsaved].value;
				pos->level = pos->saved[pos->nsaved].level;
			}
		}
		else
		{
			if (pos->created_level >= level)
				pos->created_level = level - 1;
			if (pos->level >= level)
			{
				/* the parent's saved value, if any, is now the parent's own */
				if (pos->nsaved > 0 && pos->saved[pos->nsaved - 1].level == level - 1)
					pos->nsaved--;
				pos->level = level - 1;
			}
		}
		positions[kept++] = *pos;
	}
	npositions = kept;
}

/*
 * pg_topics_register_consume_callbacks installs the callbacks once per
 * backend.
 */
void
pg_topics_register_consume_callbacks(void)
{
	static bool registered = false;

	if (!registered)
	{
		RegisterXactCallback(consume_xact_callback, NULL);
		RegisterSubXactCallback(consume_subxact_callback, NULL);
		registered = true;
	}
}

/*
 * remember_group notes that this transaction polled a group.
 */
static void
remember_group(const char *group, const char *topic, int32 group_id)
{
	MemoryContext old;
	PolledGroup *pg;
	ListCell   *lc;

	foreach(lc, polled_groups)
	{
		pg = lfirst(lc);
		if (pg->group_id == group_id)
			return;
	}
	old = MemoryContextSwitchTo(TopTransactionContext);
	pg = palloc(sizeof(PolledGroup));
	pg->group = pstrdup(group);
	pg->group_len = strlen(group);
	strlcpy(pg->topic, topic, NAMEDATALEN);
	pg->topic_len = strlen(pg->topic);
	pg->group_id = group_id;
	polled_groups = lappend(polled_groups, pg);
	MemoryContextSwitchTo(old);
}

/*
 * A poll's claim of a partition's position (see poll_claim_decide).
 */
typedef struct PollClaim
{
	Topic	   *topic;
	const char *group;
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
	PartitionSnapshot look;

	c->start = group_resolve_position(c->topic, c->group, c->gm, c->partition,
									  committed);
	partition_look(topic_partition_state(c->topic, c->partition), &look);
	c->lso = look.lso;
	if (c->lock_only || c->lso <= c->start)
		return c->start;
	return c->lso - c->start <= c->budget ? c->lso : c->start + c->budget;
}

/*
 * poll_claim locks the position of a partition for this transaction,
 * writing it as poll_claim_decide says, and registers the position.
 * Returns where the read starts and sets *lso to the LSO it stops at.
 */
static int64
poll_claim(Topic *topic, const char *group, GroupMember *gm, int partition,
		   int budget, bool lock_only, int64 *lso)
{
	PollClaim	claim = {topic, group, gm, partition, budget, lock_only, 0, 0};
	ItemPointerData tid;
	int64		written;

	(void) group_claim_position(gm->group_id, partition, poll_claim_decide,
								&claim, &written, &tid);
	position_register(gm->group_id, partition, written, claim.start, &tid);
	*lso = claim.lso;
	return claim.start;
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
	int64	   *pos;
	int64	   *lso;
	PartitionState *topic_state;
	int			i;
	int			found = 0;
	bool		prelock = false;

	for (i = 0; i < 5; i++)
		if (PG_ARGISNULL(i))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("arguments of topics.poll() must not be null")));
	group = text_to_cstring(PG_GETARG_TEXT_PP(0));
	topic = topic_open(topic_name_from_text(PG_GETARG_TEXT_PP(1)),
					   AccessShareLock);
	topic_check_privilege(topic, ACL_SELECT);
	member = text_to_cstring(PG_GETARG_TEXT_PP(2));
	max = PG_GETARG_INT32(3);
	wait_ms = pg_topics_wait_ms(PG_GETARG_INTERVAL_P(4));
	pg_topics_check_max_messages(max, "poll");
	PreventCommandIfReadOnly("topics.poll()");
	pg_topics_register_consume_callbacks();

	group_check_member(topic, group, member, &gm);
	remember_group(group, topic->name, gm.group_id);
	store = fetch_store_begin(fcinfo);
	deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), wait_ms);
	if (gm.nassigned == 0)
	{
		/* more members than partitions: this one waits out its turn */
		while (GetCurrentTimestamp() < deadline)
		{
			(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
							 TimestampDifferenceMilliseconds(GetCurrentTimestamp(),
															 deadline),
							 PG_WAIT_EXTENSION);
			ResetLatch(MyLatch);
			CHECK_FOR_INTERRUPTS();
		}
		return (Datum) 0;
	}

	pos = palloc(sizeof(int64) * gm.nassigned);
	lso = palloc(sizeof(int64) * gm.nassigned);
	topic_state = topic_partition_state(topic, 0);
	for (;;)
	{
		bool		any = false;
		TimestampTz now;

		/* where each partition is read from: this transaction's, or committed */
		for (i = 0; i < gm.nassigned; i++)
		{
			int			p = gm.assigned[i];
			bool		claimed = false;

			if (!position_pending(gm.group_id, p, &pos[i]))
			{
				pos[i] = group_resolve_position(topic, group, &gm, p,
												gm.committed[i]);

				/*
				 * A position to reset is written now.  Before the first
				 * sleep every position is locked: the commit that wakes us
				 * should find nothing left to do but read.  A claim looks
				 * at the LSO itself.
				 */
				if (pos[i] != gm.committed[i] || prelock)
				{
					pos[i] = poll_claim(topic, group, &gm, p, 0, true, &lso[i]);
					claimed = true;
				}
			}
			if (!claimed)
			{
				PartitionSnapshot look;

				partition_look(topic_partition_state(topic, p), &look);
				lso[i] = look.lso;
			}
			any |= (lso[i] > pos[i]);
		}

		if (any)
		{
			uint32		first = poll_rotation++;

			for (i = 0; i < gm.nassigned && found < max; i++)
			{
				int			k = (first + i) % gm.nassigned;
				int			p = gm.assigned[k];
				int			n;

				if (lso[k] <= pos[k])
					continue;
				/* claim, then look again: the previous owner may have moved it */
				if (!position_pending(gm.group_id, p, &pos[k]))
				{
					pos[k] = poll_claim(topic, group, &gm, p, max - found, false,
										&lso[k]);
					if (lso[k] <= pos[k])
						continue;
				}
				n = fetch_partition_rows(topic, p, pos[k], lso[k], max - found,
										 store);
				if (n == 0)
				{
					/* only rolled-back offsets below the LSO: skip the gap */
					position_set(gm.group_id, p, lso[k]);
					pos[k] = lso[k];
				}
				found += n;
			}
			if (found > 0)
				break;
		}

		now = GetCurrentTimestamp();
		if (now >= deadline)
			break;

		if (!prelock)
		{
			prelock = true;
			continue;
		}
		ConditionVariableTimedSleep(&topic_state->topic_cv,
									TimestampDifferenceMilliseconds(now, deadline),
									PG_WAIT_EXTENSION);
	}
	ConditionVariableCancelSleep();
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
	PolledGroup *pg = fcinfo->flinfo->fn_extra;
	int32		partition;
	int64		offset;
	Position   *pos;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2) || PG_ARGISNULL(3))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("arguments of topics._take() must not be null")));
	partition = PG_GETARG_INT32(2);
	offset = PG_GETARG_INT64(3);

	if (pg == NULL)
	{
		text	   *group = PG_GETARG_TEXT_PP(0);
		text	   *topic = PG_GETARG_TEXT_PP(1);
		int			glen = VARSIZE_ANY_EXHDR(group);
		int			tlen = VARSIZE_ANY_EXHDR(topic);
		ListCell   *lc;

		foreach(lc, polled_groups)
		{
			PolledGroup *candidate = lfirst(lc);

			if (candidate->group_len == glen && candidate->topic_len == tlen &&
				memcmp(candidate->group, VARDATA_ANY(group), glen) == 0 &&
				memcmp(candidate->topic, VARDATA_ANY(topic), tlen) == 0)
				pg = candidate;
		}
		if (pg == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("consumer group \"%s\" of topic \"%s\" was not polled in this transaction",
							text_to_cstring(group), text_to_cstring(topic)),
					 errhint("Read a group's messages with topics.poll().")));

		/*
		 * topics.poll() passes its group and topic as constants: then the
		 * group found holds for every row of the query (which cannot
		 * outlive the transaction, whose memory holds the group).
		 */
		if (get_fn_expr_arg_stable(fcinfo->flinfo, 0) &&
			get_fn_expr_arg_stable(fcinfo->flinfo, 1))
			fcinfo->flinfo->fn_extra = pg;
	}

	/* rows come partition by partition: the last one found is likely */
	pos = (last_taken >= 0 && last_taken < npositions &&
		   positions[last_taken].group_id == pg->group_id &&
		   positions[last_taken].partition == partition) ?
		&positions[last_taken] : position_find(pg->group_id, partition);
	if (pos == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("partition %d of consumer group \"%s\" was not polled in this transaction",
						partition, pg->group),
				 errhint("Read a group's messages with topics.poll().")));
	last_taken = pos - positions;
	if (offset + 1 > pos->value)
		position_move(pos, offset + 1);
	PG_RETURN_BOOL(true);
}

/*-------------------------------------------------------------------------
 *
 * positions.c
 *	  The position ledger of a transaction: the consumer group positions it
 *	  holds locked, where each will be once the transaction commits, and
 *	  the groups it polled.
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
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"

#include "groups/group.h"
#include "groups/positions.h"
#include "log/topic_admin.h"

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



/* index in positions of the one _take moved last, or -1 */
static int	last_taken = -1;

static List *polled_groups = NIL;	/* in TopTransactionContext */

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
positions_xact_callback(XactEvent event, void *arg)
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
 * positions_subxact_callback merges a committed subtransaction's changes into
 * its parent, and undoes an aborted one's: its position locks are gone, so
 * are the positions it registered.
 */
static void
positions_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
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
 * positions_init installs the transaction callbacks; called from _PG_init
 * while the library is preloaded, so that every backend inherits them.
 */
void
positions_init(void)
{
	RegisterXactCallback(positions_xact_callback, NULL);
	RegisterSubXactCallback(positions_subxact_callback, NULL);
}

/*
 * positions_remember_group notes that this transaction polled a group.
 */
void
positions_remember_group(const char *group, const char *topic, int32 group_id)
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
 * positions_find_group returns the group of a topic that this transaction
 * polled, by name, or NULL.
 */
PolledGroup *
positions_find_group(text *group, text *topic)
{
	int			glen = VARSIZE_ANY_EXHDR(group);
	int			tlen = VARSIZE_ANY_EXHDR(topic);
	ListCell   *lc;

	foreach(lc, polled_groups)
	{
		PolledGroup *candidate = lfirst(lc);

		if (candidate->group_len == glen && candidate->topic_len == tlen &&
			memcmp(candidate->group, VARDATA_ANY(group), glen) == 0 &&
			memcmp(candidate->topic, VARDATA_ANY(topic), tlen) == 0)
			return candidate;
	}
	return NULL;
}

/*
 * positions_take moves this transaction's position of a polled group in a
 * partition past offset.
 */
void
positions_take(PolledGroup *pg, int partition, int64 offset)
{
	Position   *pos;

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
}

/*-------------------------------------------------------------------------
 *
 * positions.c
 *	  The position ledger of a transaction: the consumer group positions it
 *	  holds locked, where each will be once the transaction commits, and
 *	  what its polls read.
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
 * Rows a poll handed out never come back to the query that reads them: a
 * cursor goes on past them.  So a row taken (topics._take) must follow the
 * position exactly as the poll's read left it.  When a rollback to a
 * savepoint has put a position back behind rows already handed out, or has
 * released the lock of a poll whose rows are still being handed out, the
 * next row taken raises an error instead of skipping the rows rolled back:
 * they come again from a new poll, after the transaction or the savepoint
 * of before the poll rolls back.  A row taken must also lie where the
 * poll read, below the LSO the read saw: no position moves past it.
 *
 * Each poll of a group is a read, numbered, and known by the query that
 * ran it (its executor's memory context, which the query's row filter
 * shares): a row comes from the latest read of its query.  A partition's
 * position knows the read that last read it, and a row of an older read (a
 * cursor whose partition a later poll read again) is refused: after a
 * rollback to a savepoint, the later poll may have handed out rows the
 * older cursor's next row would pass.  A row that was handed out and taken
 * before (a scrollable cursor read backwards, or rewound to be kept WITH
 * HOLD) moves nothing.  And rows taken by the loop of a procedure that
 * commits inside it are refused at that commit: PL/pgSQL fetches ahead,
 * and keeps the loop's cursor by reading it to its end, so the position
 * would pass rows the loop has not processed yet.
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
#include "log/partition.h"
#include "log/topic_tables.h"
#include "position_commit.h"
#include "relids.h"
#include "taking_loop.h"

/*
 * A group whose positions the current transaction holds, by name, so that
 * _take can find the group of a row from the names the caller's query
 * passes.
 */
struct LedgerGroup
{
	char		topic[NAMEDATALEN];
	int			topic_len;
	char	   *group;
	int			group_len;
	bool		polled;			/* did a poll of this transaction read it? */
	uint64		read;			/* number of its latest poll */
};

/* The latest read of a group by the polls of one query. */
typedef struct QueryRead
{
	MemoryContext query;		/* the query's executor memory */
	LedgerGroup *group;
	uint64		read;
} QueryRead;

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
 * row version the transaction holds (invalid: the row is missing) in
 * relid.
 * read is the poll that read it last, from read_start; read_next is the
 * offset after the last row a poll of this transaction handed out (or
 * where its read started), read_below the LSO below which its polls read;
 * none goes back with a rollback to a savepoint.
 */
typedef struct Position
{
	LedgerGroup *group;
	int32		partition;
	Oid			relid;			/* topics.committed_offset then */
	int64		committed;
	int64		value;
	ItemPointerData tid;
	uint64		read;
	int64		read_start;
	int64		read_next;
	int64		read_below;
	int			created_level;	/* nesting level that locked it */
	int			level;			/* nesting level of the last change */
	int			nsaved;
	SavedValue *saved;			/* values of outer levels, innermost last */
} Position;

/* A position whose lock a rollback to a savepoint released. */
typedef struct ReleasedPosition
{
	LedgerGroup *group;
	int32		partition;
} ReleasedPosition;

/*
 * The groups and positions of the current transaction, in
 * TopTransactionContext: they live exactly as long as the transaction and
 * its position locks.
 */
static List *ledger_groups = NIL;
static Position *positions = NULL;
static int	npositions = 0;
static int	maxpositions = 0;
static List *released = NIL;

/* index in positions of the one _take moved last, or -1 */
static int	last_taken = -1;


/* polls numbered over the backend's life: a read is never numbered again */
static uint64 last_read = 0;

/* the QueryReads of this transaction's queries */
static List *query_reads = NIL;

static Position *
position_find(LedgerGroup *group, int partition)
{
	int			i;

	for (i = 0; i < npositions; i++)
		if (positions[i].group == group && positions[i].partition == partition)
			return &positions[i];
	return NULL;
}

/*
 * positions_group returns this transaction's entry for a group of a topic,
 * adding it when there is none.
 */
LedgerGroup *
positions_group(const char *topic, const char *group)
{
	MemoryContext old;
	LedgerGroup *lg;
	ListCell   *lc;

	foreach(lc, ledger_groups)
	{
		lg = lfirst(lc);
		if (strcmp(lg->topic, topic) == 0 && strcmp(lg->group, group) == 0)
			return lg;
	}
	old = MemoryContextSwitchTo(TopTransactionContext);
	lg = palloc0(sizeof(LedgerGroup));
	strlcpy(lg->topic, topic, NAMEDATALEN);
	lg->topic_len = strlen(lg->topic);
	lg->group = pstrdup(group);
	lg->group_len = strlen(group);
	ledger_groups = lappend(ledger_groups, lg);
	MemoryContextSwitchTo(old);
	return lg;
}

/*
 * positions_mark_polled notes that a poll run by the query whose executor
 * memory is query reads a group: a new read.
 */
void
positions_mark_polled(LedgerGroup *group, MemoryContext query)
{
	QueryRead  *qr = positions_query_read(group, query);

	group->polled = true;
	group->read = ++last_read;
	if (qr == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(TopTransactionContext);

		qr = palloc(sizeof(QueryRead));
		qr->query = query;
		qr->group = group;
		query_reads = lappend(query_reads, qr);
		MemoryContextSwitchTo(old);
	}
	qr->read = group->read;
}

/*
 * positions_query_read returns the latest read of a group by the query
 * whose executor memory is query, or NULL when that query polled none.
 * The entry stays the query's for the rest of the transaction; a later
 * poll of the query (a rescan) updates it.
 */
QueryRead *
positions_query_read(LedgerGroup *group, MemoryContext query)
{
	ListCell   *lc;

	foreach(lc, query_reads)
	{
		QueryRead  *qr = lfirst(lc);

		if (qr->query == query && qr->group == group)
			return qr;
	}
	return NULL;
}

/*
 * positions_polled_group returns the group of a topic that a poll of this
 * transaction read, by name, or NULL.
 */
LedgerGroup *
positions_polled_group(text *group, text *topic)
{
	int			glen = VARSIZE_ANY_EXHDR(group);
	int			tlen = VARSIZE_ANY_EXHDR(topic);
	ListCell   *lc;

	foreach(lc, ledger_groups)
	{
		LedgerGroup *candidate = lfirst(lc);

		if (candidate->polled &&
			candidate->group_len == glen && candidate->topic_len == tlen &&
			memcmp(candidate->group, VARDATA_ANY(group), glen) == 0 &&
			memcmp(candidate->topic, VARDATA_ANY(topic), tlen) == 0)
			return candidate;
	}
	return NULL;
}

/*
 * position_register records a partition whose position row this
 * transaction has just locked, unless it is known already.
 */
void
position_register(LedgerGroup *group, int partition, int64 committed,
				  int64 value, ItemPointer tid)
{
	Oid			relid = pgt_relid(PGT_OFFSET);
	Position   *pos = position_find(group, partition);

	/*
	 * Known already, unless this transaction dropped the position row the
	 * ledger holds (with its topic, or the extension) and made a new one:
	 * then the new one replaces it.
	 */
	if (pos != NULL)
	{
		if (pos->relid == relid && ItemPointerEquals(&pos->tid, tid))
			return;
		if (pos->relid == relid && ItemPointerIsValid(&pos->tid) &&
			group_position_row_alive(&pos->tid))
			return;
	}
	else if (npositions == maxpositions)
	{
		int			newmax = Max(8, maxpositions * 2);

		if (positions == NULL)
			positions = MemoryContextAlloc(TopTransactionContext,
										   newmax * sizeof(Position));
		else
			positions = repalloc(positions, newmax * sizeof(Position));
		maxpositions = newmax;
	}
	if (pos == NULL)
		pos = &positions[npositions++];
	pos->group = group;
	pos->partition = partition;
	pos->relid = relid;
	pos->committed = committed;
	pos->value = value;
	pos->tid = *tid;
	pos->read = 0;
	pos->read_start = value;
	pos->read_next = value;
	pos->read_below = value;
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
position_pending(LedgerGroup *group, int partition, int64 *value)
{
	Position   *pos = position_find(group, partition);

	if (pos == NULL)
		return false;
	*value = pos->value;
	return true;
}

/*
 * position_move sets a position, remembering the value of before for a
 * rollback to savepoint.
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
 * position_set moves a registered position (commit, seek).
 */
void
position_set(LedgerGroup *group, int partition, int64 value)
{
	Position   *pos = position_find(group, partition);

	if (pos == NULL)
		elog(ERROR, "position of partition %d is not locked", partition);
	position_move(pos, value);
}

/*
 * position_read records that a poll of this transaction reads a partition
 * from its position, below offset below: the rows it hands out from there
 * on may move the position.  A read that finds only rolled-back offsets
 * (a gap) moves the position to below at once.
 */
void
position_read(LedgerGroup *group, int partition, int64 below, bool gap)
{
	Position   *pos = position_find(group, partition);

	if (pos == NULL)
		elog(ERROR, "position of partition %d is not locked", partition);
	if (gap)
		position_move(pos, below);
	pos->read = group->read;
	pos->read_start = pos->value;
	pos->read_next = pos->value;
	pos->read_below = Max(pos->read_below, below);
}

/*
 * positions_take moves this transaction's position of a polled group in a
 * partition past offset, the offset of a row its poll handed out.
 */
void
positions_take(QueryRead *qr, int partition, int64 offset)
{
	LedgerGroup *group = qr->group;
	uint64		read = qr->read;
	Position   *pos;

	/* rows come partition by partition: the last one found is likely */
	pos = (last_taken >= 0 && last_taken < npositions &&
		   positions[last_taken].group == group &&
		   positions[last_taken].partition == partition) ?
		&positions[last_taken] : position_find(group, partition);
	if (pos == NULL)
	{
		ListCell   *lc;

		foreach(lc, released)
		{
			ReleasedPosition *rp = lfirst(lc);

			if (rp->group == group && rp->partition == partition)
				ereport(ERROR,
						(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
						 errmsg("the poll of partition %d of consumer group \"%s\" was rolled back",
								partition, group->group),
						 errdetail("ROLLBACK TO SAVEPOINT undid the poll that read this row; handing out its rows now would skip those handed out before."),
						 errhint("Close the cursor and poll again.")));
		}
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("partition %d of consumer group \"%s\" was not polled in this transaction",
						partition, group->group),
				 errhint("Read a group's messages with topics.poll().")));
	}
	if (read != pos->read)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("a later poll of consumer group \"%s\" read partition %d again",
						group->group, partition),
				 errdetail("This row comes from an earlier poll of the transaction, whose rows may have been rolled back to a savepoint and handed out again since."),
				 errhint("Close the cursor and poll again.")));
	if (offset >= pos->read_start && offset < pos->value &&
		offset < pos->read_next)
		return;					/* handed out and taken before: nothing moves */
	if (pos->value != pos->read_next)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the position of consumer group \"%s\" in partition %d moved while a poll handed out its rows",
						group->group, partition),
				 errdetail("The position is at %lld, and the poll's next row follows offset %lld: a rollback to a savepoint (or a seek or commit) put it back behind rows already handed out.",
						   (long long) pos->value, (long long) pos->read_next - 1),
				 errhint("Close the cursor and poll again.")));
	if (offset < pos->read_next || offset >= pos->read_below)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("offset %lld of partition %d was not read by a poll of consumer group \"%s\" in this transaction",
						(long long) offset, partition, group->group),
				 errdetail("The rows the poll has left to hand out lie from offset %lld up to the last stable offset %lld.",
						   (long long) pos->read_next, (long long) pos->read_below),
				 errhint("Read a group's messages with topics.poll(); set a position with topics.seek() or topics.commit().")));
	last_taken = pos - positions;
	pos->read_next = offset + 1;
	position_move(pos, offset + 1);
	taking_loop_note(TAKING_POLL);
}

/*
 * position_insert writes the position of a partition that has no position
 * row yet: one added to the topic since the group's last rebalance.  Not
 * when the transaction dropped the group (with its topic) meanwhile.
 */
static void
position_insert(Position *pos)
{
	Oid			argtypes[4] = {TEXTOID, TEXTOID, INT4OID, INT8OID};
	Datum		args[4];
	AsOwner		admin;

	args[0] = CStringGetTextDatum(pos->group->topic);
	args[1] = CStringGetTextDatum(pos->group->group);
	args[2] = Int32GetDatum(pos->partition);
	args[3] = Int64GetDatum(pos->value);
	PushActiveSnapshot(GetTransactionSnapshot());
	as_owner_begin(&admin);
	/* a first position: its commit waits (and its INSERT may fire triggers) */
	position_commit_moved(-1, pos->value);
	if (SPI_execute_with_args("INSERT INTO topics.committed_offset "
							  "(topic, group_name, partition, committed, committed_at) "
							  "SELECT $1, $2, $3, $4, pg_catalog.now() "
							  "FROM topics.consumer_group g "
							  "WHERE g.topic OPERATOR(pg_catalog.=) $1 "
							  "AND g.name OPERATOR(pg_catalog.=) $2 "
							  "ON CONFLICT (topic, group_name, partition) DO UPDATE "
							  "SET committed = EXCLUDED.committed, "
							  "committed_at = EXCLUDED.committed_at",
							  4, argtypes, args, NULL, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not write the position of partition %d",
			 pos->partition);
	as_owner_end(&admin);
	PopActiveSnapshot();
}

/*
 * positions_flush writes the moved positions of this transaction.  Called
 * just before commit or prepare.
 */
static void
positions_flush(void)
{
	Oid			relid;
	int			i;

	/*
	 * A row version this statement wrote can only be updated by a later
	 * command; and the transaction may have dropped the extension, or a topic
	 * with its positions, since it moved them.
	 */
	CommandCounterIncrement();
	if (partition_extension_dropped_here() && !pgt_catalog_is_current())
		return;
	relid = pgt_relid(PGT_OFFSET);
	for (i = 0; i < npositions; i++)
	{
		Position   *pos = &positions[i];

		/* the extension was dropped since, and maybe made again */
		if (pos->value == pos->committed || pos->relid != relid)
			continue;
		if (!ItemPointerIsValid(&pos->tid))
			position_insert(pos);
		else
			(void) group_write_position(&pos->tid, pos->value);
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
		case XACT_EVENT_ABORT:
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PREPARE:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_PARALLEL_ABORT:
			positions = NULL;
			npositions = maxpositions = 0;
			ledger_groups = NIL;
			released = NIL;
			query_reads = NIL;
			last_taken = -1;
			break;
		default:
			break;
	}
}

/*
 * positions_subxact_callback merges a committed subtransaction's changes
 * into its parent, and undoes an aborted one's: its position locks are
 * gone, so are the positions it registered (they are remembered as
 * released, for a clear error if their rows are still taken).
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
			{
				MemoryContext old = MemoryContextSwitchTo(TopTransactionContext);
				ReleasedPosition *rp = palloc(sizeof(ReleasedPosition));

				rp->group = pos->group;
				rp->partition = pos->partition;
				released = lappend(released, rp);
				MemoryContextSwitchTo(old);
				continue;		/* dropped */
			}
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
	last_taken = -1;
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

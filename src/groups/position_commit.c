/*-------------------------------------------------------------------------
 *
 * position_commit.c
 *	  Transactions that only move consumer group positions commit without
 *	  waiting for their WAL to be flushed, unless
 *	  pg_topics.synchronous_positions is on.
 *
 * A poll's transaction writes a position row for each partition it reads
 * and nothing else.  Waiting at its commit for the WAL flush gains little:
 * should the server crash before the flush, the group reads those
 * messages again from the position of before, which a consumer must
 * handle anyway (at-least-once, as after a consumer that dies before it
 * commits); it never skips one, since WAL is flushed in order and so
 * nothing written after the position moved can survive it.  Kafka does
 * not flush consumer offsets to disk either.  Waiting costs a lot: a
 * poll woken by a producer's commit commits right after it, and joins the
 * queue for the next flush; with 50 groups polling a topic the producers'
 * commits share their flushes with a thousand polls a second.
 *
 * So the writes of positions are bracketed (position_writes_begin/end),
 * and when every WAL record the transaction wrote came from inside the
 * brackets, and it had no transaction id before the first, its commit
 * sets synchronous_commit to off for itself, as SET LOCAL would.  Any
 * other write, before, between or after (a consumer's own table, a
 * produce), keeps the commit as the caller's settings make it: a
 * transaction that consumes and records what it did stays durable.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "executor/instrument.h"
#include "utils/guc.h"

#include "groups/position_commit.h"
#include "guc.h"

/* the transaction's position writes, if any */
static bool writing = false;	/* did it begin any? */
static bool alone = false;		/* no transaction id before the first */
static int64 first_record;		/* WAL records written before the first */
static int64 own_records;		/* WAL records written inside the brackets */
static int64 begun_at;			/* WAL records at the latest begin */

/*
 * position_writes_begin marks the start of a write of position rows.
 */
void
position_writes_begin(void)
{
	if (!writing)
	{
		writing = true;
		alone = !TransactionIdIsValid(GetTopTransactionIdIfAny());
		first_record = pgWalUsage.wal_records;
		own_records = 0;
	}
	begun_at = pgWalUsage.wal_records;
}

/*
 * position_writes_end marks the end of the write position_writes_begin
 * began.  An error between the two ends the transaction, or the
 * subtransaction, whose rows then matter no more.
 */
void
position_writes_end(void)
{
	own_records += pgWalUsage.wal_records - begun_at;
}

static void
position_commit_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_PRE_COMMIT:
			if (writing && alone && !pg_topics_synchronous_positions &&
				synchronous_commit > SYNCHRONOUS_COMMIT_OFF &&
				pgWalUsage.wal_records - first_record == own_records)
				(void) set_config_option("synchronous_commit", "off",
										 PGC_USERSET, PGC_S_SESSION,
										 GUC_ACTION_LOCAL, true, 0, false);
			break;
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PREPARE:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_PARALLEL_ABORT:
			writing = false;
			break;
		default:
			break;
	}
}

/*
 * position_commit_init installs the transaction callback; called from
 * _PG_init before the other parts register theirs, so that it runs after
 * them at commit (the latest registered runs first) and sees what their
 * callbacks wrote.
 */
void
position_commit_init(void)
{
	RegisterXactCallback(position_commit_xact_callback, NULL);
}

/*-------------------------------------------------------------------------
 *
 * position_commit.c
 *	  Transactions that only move consumer group positions, or take and
 *	  settle queue messages, commit without waiting for their WAL to be
 *	  flushed, unless pg_topics.synchronous_positions is on.
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
 * Only moves forward from a committed position qualify: losing one of
 * those re-reads messages.  Losing a move back (a seek or commit to an
 * earlier offset) would skip the messages between, and losing a first
 * position (a new group's, or a partition's first) would let
 * auto_offset_reset skip ahead; so either one keeps the commit synchronous
 * (position_commit_moved).  A first position row is made by an INSERT,
 * which may fire a superuser's trigger: it stays outside the brackets.
 *
 * A library loaded before pg_topics registers its transaction callbacks
 * before ours, so they run after ours at commit: one that writes there
 * writes after the decision.  The commit then flushes its WAL itself, at
 * XACT_EVENT_COMMIT, before the client hears of the commit.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "access/xlog.h"
#include "executor/instrument.h"
#include "utils/guc.h"

#include "guc.h"
#include "position_commit.h"

/* the transaction's position writes, if any */
static bool writing = false;	/* did it begin any? */
static bool alone = false;		/* no transaction id before the first */
static int64 first_record;		/* WAL records written before the first */
static int64 own_records;		/* WAL records written inside the brackets */
static int64 begun_at;			/* WAL records at the latest begin */
static bool backward = false;	/* did a write move a position back, or
								 * make a first one? */
static bool made_async = false; /* did the decision turn the commit async? */
static int64 decided_at;		/* WAL records at the decision */

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

/*
 * position_commit_moved records that a position write of this transaction
 * replaces from, the committed position (-1: none), with to.
 */
void
position_commit_moved(int64 from, int64 to)
{
	if (from < 0 || to < from)
		backward = true;
}

static void
position_commit_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_PRE_COMMIT:
			if (writing && alone && !backward &&
				!pg_topics_synchronous_positions &&
				synchronous_commit > SYNCHRONOUS_COMMIT_OFF &&
				pgWalUsage.wal_records - first_record == own_records)
			{
				(void) set_config_option("synchronous_commit", "off",
										 PGC_USERSET, PGC_S_SESSION,
										 GUC_ACTION_LOCAL, true, 0, false);
				made_async = true;
				decided_at = pgWalUsage.wal_records;
			}
			break;
		case XACT_EVENT_COMMIT:
			/* more than the commit record came after the decision */
			if (made_async && pgWalUsage.wal_records - decided_at > 1)
				XLogFlush(XactLastCommitEnd);
			writing = made_async = backward = false;
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PREPARE:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_PARALLEL_ABORT:
			writing = made_async = backward = false;
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

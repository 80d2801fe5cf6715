/*-------------------------------------------------------------------------
 *
 * taking_loop.c
 *	  A procedure's loop over rows that a query takes as it hands them out
 *	  (topics.poll, topics.consume, topics.receive) must not commit or roll
 *	  back inside it.
 *
 * Such a query takes each row as it hands it on: a poll moves its group's
 * position past it, a consume or receive takes the message.  In a
 * procedure, FOR r IN SELECT ... FROM topics.poll(...) LOOP ... COMMIT;
 * keeps the loop's cursor across the COMMIT by reading it to its end
 * (HoldPinnedPortals): every row is taken by the transaction that commits,
 * before the loop has processed them, and a crash or an error later in the
 * loop would lose them.  A ROLLBACK inside the loop does the same, and the
 * rows the loop goes on with were taken by the transaction that rolled
 * back: they come again, processed twice.  So a commit that follows either
 * is refused.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "tcop/pquery.h"
#include "utils/memutils.h"
#include "utils/portal.h"

#include "taking_loop.h"

/* A pinned portal (a procedure's loop) that took rows, and what took them. */
typedef struct TakingPortal
{
	char	   *name;
	TakingCall	call;
} TakingPortal;

/* the pinned portals that took rows in this transaction */
static List *taking_portals = NIL;

/*
 * The start of the statement (a CALL) in which a ROLLBACK inside such a
 * loop kept its cursor, or 0, and what the loop took: the rows the loop
 * goes on with, for the rest of the CALL, were taken by the transaction
 * that rolled back.
 */
static TimestampTz rolled_back_loop = 0;
static TakingCall rolled_back_call;

/* What a loop's errors say, by what took its rows. */
typedef struct TakingCallText
{
	const char *name;
	const char *held_detail;	/* a COMMIT inside the loop */
	const char *held_hint;
	const char *rolled_back_detail; /* a commit after a ROLLBACK inside it */
	const char *rolled_back_hint;
} TakingCallText;

static const TakingCallText call_texts[] = {
	[TAKING_POLL] = {
		"topics.poll()",
		"The loop reads its rows ahead of the one being processed; committing would move the group past rows not processed yet.",
		"Commit after the loop, or poll in each transaction: a loop of topics.poll(..., max_messages => 1) with COMMIT after it.",
		"The rows the loop went on with were read by the transaction that rolled back: the group's position did not move past them, and they would come again.",
		"Poll one message per transaction when the loop may roll back: a loop of topics.poll(..., max_messages => 1)."
	},
	[TAKING_CONSUME] = {
		"topics.consume()",
		"The loop reads its rows ahead of the one being processed; committing would take messages not processed yet.",
		"Commit after the loop, or take in each transaction: a loop of topics.consume() of 1 with COMMIT after it.",
		"The rows the loop went on with were taken by the transaction that rolled back, which gave them back: they would come again.",
		"Take one message per transaction when the loop may roll back: a loop of topics.consume() of 1."
	},
	[TAKING_RECEIVE] = {
		"topics.receive()",
		"The loop reads its rows ahead of the one being processed; committing would take messages not processed yet.",
		"Commit after the loop, or take in each transaction: a loop of topics.receive() of 1 with COMMIT after it.",
		"The rows the loop went on with were taken by the transaction that rolled back, which gave them back: they would come again.",
		"Take one message per transaction when the loop may roll back: a loop of topics.receive() of 1."
	}
};

/*
 * taking_loop_note remembers the portal that hands out rows as call takes
 * them, when it is the pinned cursor of a procedure's loop.
 */
void
taking_loop_note(TakingCall call)
{
	MemoryContext old;
	TakingPortal *tp;
	ListCell   *lc;

	if (ActivePortal == NULL || !ActivePortal->portalPinned)
		return;
	foreach(lc, taking_portals)
	{
		if (strcmp(((TakingPortal *) lfirst(lc))->name, ActivePortal->name) == 0)
			return;
	}
	old = MemoryContextSwitchTo(TopTransactionContext);
	tp = palloc(sizeof(TakingPortal));
	tp->name = pstrdup(ActivePortal->name);
	tp->call = call;
	taking_portals = lappend(taking_portals, tp);
	MemoryContextSwitchTo(old);
}

/*
 * loop_held returns the portal of a procedure's loop that took rows and
 * was kept across a COMMIT or ROLLBACK inside it (read to its end and
 * held), or NULL.
 */
static TakingPortal *
loop_held(void)
{
	ListCell   *lc;

	foreach(lc, taking_portals)
	{
		TakingPortal *tp = lfirst(lc);
		Portal		portal = GetPortalByName(tp->name);

		if (portal != NULL && portal->autoHeld)
			return tp;
	}
	return NULL;
}

/*
 * check_loops refuses to commit what a procedure's loop took ahead of the
 * row it processes, and anything after a rollback inside such a loop.
 */
static void
check_loops(void)
{
	TakingPortal *tp;

	if (rolled_back_loop != 0)
	{
		bool		same_call = rolled_back_loop == GetCurrentStatementStartTimestamp();
		const TakingCallText *text = &call_texts[rolled_back_call];

		rolled_back_loop = 0;
		if (same_call)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TRANSACTION_TERMINATION),
					 errmsg("cannot commit after a rollback inside a loop over %s",
							text->name),
					 errdetail("%s", text->rolled_back_detail),
					 errhint("%s", text->rolled_back_hint)));
	}
	tp = loop_held();
	if (tp != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TRANSACTION_TERMINATION),
				 errmsg("cannot commit inside a loop over %s",
						call_texts[tp->call].name),
				 errdetail("%s", call_texts[tp->call].held_detail),
				 errhint("%s", call_texts[tp->call].held_hint)));
}

static void
taking_loop_xact_callback(XactEvent event, void *arg)
{
	TakingPortal *tp;

	switch (event)
	{
		case XACT_EVENT_PRE_COMMIT:
		case XACT_EVENT_PRE_PREPARE:
			check_loops();
			break;
		case XACT_EVENT_ABORT:
			/* a CALL is one statement: an abort that ends it marks no other */
			tp = loop_held();
			if (tp != NULL)
			{
				rolled_back_loop = GetCurrentStatementStartTimestamp();
				rolled_back_call = tp->call;
			}
			taking_portals = NIL;
			break;
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PREPARE:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_PARALLEL_ABORT:
			taking_portals = NIL;
			break;
		default:
			break;
	}
}

/*
 * taking_loop_init installs the transaction callback; called from
 * _PG_init after the callbacks that write at commit, so that it runs
 * before them.
 */
void
taking_loop_init(void)
{
	RegisterXactCallback(taking_loop_xact_callback, NULL);
}

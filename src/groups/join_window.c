/*-------------------------------------------------------------------------
 *
 * join_window.c
 *	  The join barrier of consumer groups, as Kafka's group coordinator
 *	  waits group.initial.rebalance.delay.ms for more members: members that
 *	  join a group within pg_topics.rebalance_delay of each other are added
 *	  together, in one rebalance.
 *
 * Every join of a new member rebalanced its group at once, and bumped its
 * generation: 64 members joining within a second made 64 rebalances, and
 * every member already polling joined again after each.  Now the first new
 * member of a group opens a window in shared memory; each one that joins
 * while it is open is written in it and moves its end on by the delay (up
 * to WINDOW_MAX_DELAYS delays after it opened); all wait until it closes.
 * Then the first of them to claim the window adds every member of it to
 * the group, in one statement that rebalances once
 * (topics_internal._join_members); the others wait for its transaction
 * to end (they hold no lock it needs), find themselves members of the new
 * generation, and re-sync side by side.  If the adder's transaction rolls
 * back, the next one claims the window and adds them.  A member that finds no free window, or a full one, joins alone,
 * as before.
 *
 * A window holds the joiners of one role: one role's join adds no member
 * for another (and _join_members checks the group's owner, which another
 * role's window may have made meanwhile).  Windows are few and short: a
 * window is free again WINDOW_KEEP_MS after it closed, long after its
 * members have read it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "common/hashfn.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/latch.h"
#include "storage/lmgr.h"
#include "storage/procarray.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/timestamp.h"

#include "groups/join_window.h"
#include "guc.h"

/* Windows open at once, for every database. */
#define JOIN_WINDOWS		64

/* Members one window holds; the next ones wait for a window of their own. */
#define WINDOW_MEMBERS		64

/* A window closes at most this many delays after it opened. */
#define WINDOW_MAX_DELAYS	10

/* A closed window is kept this long, for its members to read it. */
#define WINDOW_KEEP_MS		2000

/* A joiner looks whether its window closed at least this often. */
#define WINDOW_CHECK_MS		50

typedef struct WindowMember
{
	char		name[NAMEDATALEN];
	int64		timeout_ms;
} WindowMember;

typedef struct JoinWindow
{
	Oid			dbid;			/* InvalidOid: never used */
	Oid			role;			/* members join as this role alone */
	uint32		options;		/* and with these options (join_options) */
	char		topic[NAMEDATALEN];
	char		group[NAMEDATALEN];
	TimestampTz opened;
	TimestampTz closes;
	TransactionId adder;		/* the transaction adding the members */
	int			nmembers;
	WindowMember members[WINDOW_MEMBERS];
} JoinWindow;

typedef struct JoinWindows
{
	slock_t		mutex;
	JoinWindow	windows[JOIN_WINDOWS];
} JoinWindows;

static JoinWindows *Windows = NULL;

Size
join_window_shmem_size(void)
{
	return sizeof(JoinWindows);
}

void
join_window_shmem_startup(void)
{
	bool		found;

	Windows = ShmemInitStruct("pg_topics join windows", sizeof(JoinWindows),
							  &found);
	if (!found)
	{
		memset(Windows, 0, sizeof(JoinWindows));
		SpinLockInit(&Windows->mutex);
	}
}

/*
 * join_window_options returns the key of a join's options, the strategy
 * and auto_offset_reset it asked for (each maybe NULL): the member that
 * adds a window's members creates the group with its own options, so a
 * window holds the members that asked for the same.
 */
uint32
join_window_options(const char *strategy, const char *reset)
{
	StringInfoData buf;
	uint32		key;

	initStringInfo(&buf);
	appendStringInfo(&buf, "%c%s", strategy ? 's' : '-', strategy ? strategy : "");
	appendStringInfoChar(&buf, '\0');
	appendStringInfo(&buf, "%c%s", reset ? 'r' : '-', reset ? reset : "");
	key = DatumGetUInt32(hash_any((unsigned char *) buf.data, buf.len + 1));
	pfree(buf.data);
	return key;
}

/*
 * join_window_enter writes a new member of a group into the group's open
 * window for its role and options, opening one if there is none, and sets
 * *seat; returns false when the member is to join alone: no delay is set,
 * or no window had room.
 */
bool
join_window_enter(const char *topic, const char *group, const char *member,
				  int64 timeout_ms, uint32 options, JoinSeat *seat)
{
	TimestampTz now = GetCurrentTimestamp();
	JoinWindow *w = NULL;
	int			free_slot = -1;
	int			i;

	/* a name longer than the window holds joins alone */
	if (pg_topics_rebalance_delay <= 0 || strlen(group) >= NAMEDATALEN ||
		strlen(member) >= NAMEDATALEN)
		return false;

	SpinLockAcquire(&Windows->mutex);
	for (i = 0; i < JOIN_WINDOWS; i++)
	{
		JoinWindow *c = &Windows->windows[i];

		if (c->dbid == MyDatabaseId && c->role == GetUserId() &&
			c->options == options && c->closes > now &&
			c->nmembers < WINDOW_MEMBERS &&
			strcmp(c->topic, topic) == 0 && strcmp(c->group, group) == 0)
		{
			w = c;
			break;
		}
		if (free_slot < 0 &&
			(!OidIsValid(c->dbid) ||
			 TimestampDifferenceExceeds(c->closes, now, WINDOW_KEEP_MS)))
			free_slot = i;
	}
	if (w == NULL && free_slot >= 0)
	{
		w = &Windows->windows[free_slot];
		w->dbid = MyDatabaseId;
		w->role = GetUserId();
		w->options = options;
		strlcpy(w->topic, topic, NAMEDATALEN);
		strlcpy(w->group, group, NAMEDATALEN);
		w->opened = now;
		w->closes = now;
		w->adder = InvalidTransactionId;
		w->nmembers = 0;
	}
	if (w != NULL)
	{
		for (i = 0; i < w->nmembers; i++)
			if (strcmp(w->members[i].name, member) == 0)
				break;
		if (i == w->nmembers)
		{
			strlcpy(w->members[i].name, member, NAMEDATALEN);
			w->members[i].timeout_ms = timeout_ms;
			w->nmembers++;
		}
		w->closes = Min(Max(w->closes,
							TimestampTzPlusMilliseconds(now, pg_topics_rebalance_delay)),
						TimestampTzPlusMilliseconds(w->opened,
													(int64) pg_topics_rebalance_delay * WINDOW_MAX_DELAYS));
		seat->slot = w - Windows->windows;
		seat->opened = w->opened;
	}
	SpinLockRelease(&Windows->mutex);
	return w != NULL;
}

/*
 * join_window_wait waits until the window of seat closes.
 */
void
join_window_wait(JoinSeat *seat)
{
	for (;;)
	{
		JoinWindow *w = &Windows->windows[seat->slot];
		TimestampTz closes;
		TimestampTz now = GetCurrentTimestamp();

		SpinLockAcquire(&Windows->mutex);
		closes = w->opened == seat->opened ? w->closes : 0;
		SpinLockRelease(&Windows->mutex);
		if (now >= closes)
			return;
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 Min(TimestampDifferenceMilliseconds(now, closes) + 1,
							 WINDOW_CHECK_MS),
						 PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
}

/*
 * join_window_members copies the members of the window of seat and their
 * session timeouts (in the caller's memory), and returns how many; 0 when
 * the window was reused meanwhile.
 */
int
join_window_members(JoinSeat *seat, char ***members, int64 **timeouts_ms)
{
	JoinWindow *w = &Windows->windows[seat->slot];
	char	  **names = palloc(sizeof(char *) * WINDOW_MEMBERS);
	int64	   *timeouts = palloc(sizeof(int64) * WINDOW_MEMBERS);
	char		buf[WINDOW_MEMBERS][NAMEDATALEN];
	int			n = 0;
	int			i;

	SpinLockAcquire(&Windows->mutex);
	if (w->opened == seat->opened)
	{
		n = w->nmembers;
		for (i = 0; i < n; i++)
		{
			memcpy(buf[i], w->members[i].name, NAMEDATALEN);
			timeouts[i] = w->members[i].timeout_ms;
		}
	}
	SpinLockRelease(&Windows->mutex);
	for (i = 0; i < n; i++)
		names[i] = pstrdup(buf[i]);
	*members = names;
	*timeouts_ms = timeouts;
	return n;
}

/*
 * join_window_adder returns the transaction adding the members of the
 * window of seat, or InvalidTransactionId when none does (yet), or the
 * window was reused.
 */
TransactionId
join_window_adder(const JoinSeat *seat)
{
	JoinWindow *w = &Windows->windows[seat->slot];
	TransactionId adder = InvalidTransactionId;

	SpinLockAcquire(&Windows->mutex);
	if (w->opened == seat->opened)
		adder = w->adder;
	SpinLockRelease(&Windows->mutex);
	return adder;
}

/*
 * join_window_may_add tells whether the window of seat may still add its
 * members: it is open, or closed so lately that they are still claiming
 * it, or its adder (or adder, the one seen before) still runs.
 */
bool
join_window_may_add(const JoinSeat *seat, TransactionId adder)
{
	JoinWindow *w = &Windows->windows[seat->slot];
	bool		may = false;

	SpinLockAcquire(&Windows->mutex);
	if (w->opened == seat->opened)
	{
		if (TransactionIdIsValid(w->adder))
			adder = w->adder;
		else if (!TimestampDifferenceExceeds(w->closes, GetCurrentTimestamp(),
											 WINDOW_KEEP_MS))
			may = true;
	}
	SpinLockRelease(&Windows->mutex);
	return may || (TransactionIdIsValid(adder) &&
				   TransactionIdIsInProgress(adder));
}

/*
 * join_window_claim makes the current transaction the one that adds the
 * members of the window of seat, and returns true; or, when another
 * transaction does, waits until it ends and returns false (the caller then
 * looks whether it is a member: if that transaction rolled back, it claims
 * the window in turn).
 */
bool
join_window_claim(JoinSeat *seat)
{
	JoinWindow *w = &Windows->windows[seat->slot];
	/* a savepoint's: its rollback frees the window at once */
	TransactionId mine = GetCurrentTransactionId();
	TransactionId adder;

	SpinLockAcquire(&Windows->mutex);
	adder = w->opened == seat->opened ? w->adder : mine;
	if (!TransactionIdIsValid(adder))
		adder = w->adder = mine;
	SpinLockRelease(&Windows->mutex);
	if (TransactionIdEquals(adder, mine))
		return true;

	XactLockTableWait(adder, NULL, NULL, XLTW_None);
	SpinLockAcquire(&Windows->mutex);
	if (w->opened == seat->opened && TransactionIdEquals(w->adder, adder))
		w->adder = InvalidTransactionId;
	SpinLockRelease(&Windows->mutex);
	return false;
}

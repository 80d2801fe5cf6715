/*-------------------------------------------------------------------------
 *
 * delivery.c
 *	  The delivery state of queue partitions: windows in shared memory,
 *	  the changes transactions make to them, and what becomes of those
 *	  changes when the transactions end.
 *
 * A queue partition's messages stay in its log, untouched by reads.  What
 * is done and what is in flight is its window (window.h): a start offset
 * below which every message is done, and a slot per offset above it, up to
 * the window's size.  Consumers on different partitions never meet; on the
 * same partition they meet only under the window's lock, for as long as it
 * takes to mark a few slots, never for another's transaction.
 *
 * A consume or receive first reserves the slots of the messages it reads,
 * for the query that called it (reserver), then takes each one as the
 * query hands its row on (delivery_take): a cursor takes only what it
 * FETCHed.  Reservations end with their query, but for those taken, which
 * hold their slots until the transaction writes them.  A take, and an
 * ack, nack or extend, is a change pending on the caller's transaction:
 * the slot names the top-level transaction id, which keeps every other
 * backend off it, and the change counts once the transaction commits:
 *
 *	- before the commit (XACT_EVENT_PRE_COMMIT, or PRE_PREPARE), the takes
 *	  enter their slots, and the slots are written to
 *	  topics.queue_delivery in place, naming the
 *	  transaction (delivery_store.c); a crash after that leaves rows whose
 *	  fate the commit log decides, as it decides a heap tuple's;
 *	- after it, the backend turns the pending state into the slot's state
 *	  and lets the start move past what is done;
 *	- a rollback, of the transaction or of the savepoint the change was
 *	  made under, gives the slot back at once and wakes a waiting consumer;
 *	- a prepared transaction's slots stay named by it; any backend that
 *	  meets them later asks the commit log once it has ended.
 *
 * A transaction that wrote nothing but such changes commits without
 * waiting for the WAL flush, as one that only moves consumer group
 * positions does (position_commit.c, pg_topics.synchronous_positions):
 * lost in a crash, a take, a lease or an acknowledgement makes the message
 * come again, never go missing.  One that writes anything else, a
 * consumer's own table or a dead letter, waits as usual.
 *
 * Locking: the hash of windows is protected by QueueShared->hash_lock;
 * each window by its own locks (see window.h).  A backend holds one
 * window lock at a time.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/transam.h"
#include "access/twophase.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/proc.h"
#include "storage/procarray.h"
#include "storage/shmem.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"

#include "guc.h"
#include "log/topic_tables.h"
#include "position_commit.h"
#include "queue/delivery.h"
#include "queue/delivery_store.h"
#include "queue/queue_config.h"

typedef struct QueueSharedState
{
	LWLock	   *hash_lock;
	int			tranche;
} QueueSharedState;

static QueueSharedState *QueueShared = NULL;
static HTAB *WindowHash = NULL;

/*
 * A change this transaction made to a slot, and what to give back if the
 * (sub)transaction it was made in rolls back.
 *
 * A take stays in this backend while the transaction runs: the query's
 * reservation keeps others off the slot, and the change enters the slot
 * only as the transaction writes its rows (ops_write), under the same lock.
 * Many consumers of a partition would otherwise meet under its lock once
 * per message.
 */
struct DeliveryOp
{
	QueueWindow *w;
	int64		offset;
	int			level;			/* transaction nesting level it was made at */
	bool		reserved;		/* a take not in the slot yet: the slot is
								 * ours by reservation, and these become its
								 * pending change */
	uint8		take_pending;
	TimestampTz take_at;
	int64		take_receipt;	/* a lease's */
	bool		take_dead_letter;
	bool		take_delivers;	/* a delivery: counts in deliveries */
	bool		had_change;		/* a change of ours was pending before */
	int64		prev_receipt;
	uint8		prev_pending;
	bool		prev_dead_letter;
	TimestampTz prev_pending_at;
};

static List *my_ops = NIL;		/* of DeliveryOp, in TopTransactionContext */

/*
 * delivery_shmem_size returns the shared memory of the windows.
 */
Size
delivery_shmem_size(void)
{
	return add_size(MAXALIGN(sizeof(QueueSharedState)),
					hash_estimate_size(pg_topics_max_queue_partitions,
									   sizeof(QueueWindow)));
}

/*
 * delivery_shmem_startup attaches to (and in the postmaster, creates) the
 * windows.  Caller holds AddinShmemInitLock.
 */
void
delivery_shmem_startup(void)
{
	bool		found;
	HASHCTL		info;

	QueueShared = ShmemInitStruct("pg_topics queues",
								  sizeof(QueueSharedState), &found);
	if (!found)
	{
		QueueShared->hash_lock = &(GetNamedLWLockTranche("pg_topics"))[2].lock;
		QueueShared->tranche = LWLockNewTrancheId();
	}
	memset(&info, 0, sizeof(info));
	info.keysize = sizeof(QueueWindowKey);
	info.entrysize = sizeof(QueueWindow);
	WindowHash = ShmemInitHash("pg_topics queue windows",
							   pg_topics_max_queue_partitions,
							   pg_topics_max_queue_partitions,
							   &info, HASH_ELEM | HASH_BLOBS | HASH_FIXED_SIZE);
	LWLockRegisterTranche(QueueShared->tranche, "pg_topics queue");
}

/*
 * window_find returns the window of a partition table of this database,
 * adding an unloaded one; NULL if there is no room and missing_ok.
 * Entries never move.
 */
static QueueWindow *
window_find(Oid relid, bool missing_ok)
{
	QueueWindowKey key;
	QueueWindow *w;
	bool		found;

	memset(&key, 0, sizeof(key));
	key.dbid = MyDatabaseId;
	key.relid = relid;
	LWLockAcquire(QueueShared->hash_lock, LW_SHARED);
	w = hash_search(WindowHash, &key, HASH_FIND, NULL);
	LWLockRelease(QueueShared->hash_lock);
	if (w != NULL)
		return w;

	LWLockAcquire(QueueShared->hash_lock, LW_EXCLUSIVE);
	w = hash_search(WindowHash, &key, HASH_ENTER_NULL, &found);
	if (w != NULL && !found)
	{
		LWLockInitialize(&w->lock, QueueShared->tranche);
		LWLockInitialize(&w->write_lock, QueueShared->tranche);
		pg_atomic_init_u32(&w->reads, 0);
		w->loaded = false;
	}
	LWLockRelease(QueueShared->hash_lock);
	if (w == NULL && !missing_ok)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
				 errmsg("too many queue partitions in use"),
				 errdetail("The shared state holds the delivery windows of at most %d queue partitions.",
						   pg_topics_max_queue_partitions),
				 errhint("Increase \"pg_topics.max_queue_partitions\" and restart the server.")));
	return w;
}

/*
 * delivery_window returns the loaded window of a queue topic's partition.
 * Caller holds a lock on the topic.
 */
QueueWindow *
delivery_window(Topic *topic, int partition)
{
	return delivery_window_if_room(topic, partition, false);
}

/*
 * delivery_window_if_room is delivery_window, but returns NULL when shared
 * memory has no room for the window and missing_ok.
 */
QueueWindow *
delivery_window_if_room(Topic *topic, int partition, bool missing_ok)
{
	PartitionState *log = topic_partition_state(topic, partition);
	QueueWindow *w;
	QueueConfig cfg;

	if (RecoveryInProgress())
		ereport(ERROR,
				(errcode(ERRCODE_READ_ONLY_SQL_TRANSACTION),
				 errmsg("a queue cannot be read during recovery"),
				 errdetail("Queue reads change the delivery state, which only the primary writes.")));
	w = window_find(topic->partitions[partition].relid, missing_ok);
	if (w == NULL || w->loaded)
		return w;

	queue_config_read(topic, &cfg);
	partition_share_waits(log);
	/* the same for every backend, and read only once the window is loaded */
	w->log = log;
	delivery_store_load(w, topic->name, partition, cfg.window);
	return w;
}

/*
 * delivery_forget removes the window of a dropped partition table.  Called
 * by the log when it forgets the partition.
 */
void
delivery_forget(Oid dbid, Oid relid)
{
	QueueWindowKey key;

	memset(&key, 0, sizeof(key));
	key.dbid = dbid;
	key.relid = relid;
	LWLockAcquire(QueueShared->hash_lock, LW_EXCLUSIVE);
	(void) hash_search(WindowHash, &key, HASH_REMOVE, NULL);
	LWLockRelease(QueueShared->hash_lock);
}

/*
 * delivery_loaded_windows returns the keys of the loaded windows of this
 * database, palloc'd: a caller that locks a window's topic finds it again
 * with delivery_window_lookup.
 */
List *
delivery_loaded_windows(void)
{
	HASH_SEQ_STATUS status;
	QueueWindow *w;
	List	   *keys = NIL;

	LWLockAcquire(QueueShared->hash_lock, LW_SHARED);
	hash_seq_init(&status, WindowHash);
	while ((w = hash_seq_search(&status)) != NULL)
		if (w->key.dbid == MyDatabaseId && w->loaded)
		{
			QueueWindowKey *key = palloc(sizeof(QueueWindowKey));

			*key = w->key;
			keys = lappend(keys, key);
		}
	LWLockRelease(QueueShared->hash_lock);
	return keys;
}

/*
 * delivery_window_lookup returns the loaded window of a key, or NULL.
 */
QueueWindow *
delivery_window_lookup(const QueueWindowKey *key)
{
	QueueWindow *w;

	LWLockAcquire(QueueShared->hash_lock, LW_SHARED);
	w = hash_search(WindowHash, key, HASH_FIND, NULL);
	LWLockRelease(QueueShared->hash_lock);
	return w != NULL && w->loaded ? w : NULL;
}

/*
 * delivery_window_hold returns the loaded window of a key with its topic
 * locked (see topic_lock_unless_busy), which keeps a drop from freeing it,
 * or NULL: when there is none, or, setting *busy, when locking the topic
 * would have waited for another transaction.
 */
QueueWindow *
delivery_window_hold(const QueueWindowKey *key, bool *busy)
{
	QueueWindow *w = delivery_window_lookup(key);
	char		topic[NAMEDATALEN];

	*busy = false;
	if (w == NULL)
		return NULL;
	strlcpy(topic, w->topic, NAMEDATALEN);
	if (!topic_lock_unless_busy(topic))
	{
		*busy = true;
		return NULL;
	}
	/* the lock holds the topic: the window is the one looked up now */
	return delivery_window_lookup(key);
}

/*
 * delivery_wake wakes up to n consumers waiting for the window's partition.
 */
void
delivery_wake(QueueWindow *w, int n)
{
	if (n > 0 && w->log != NULL)
		partition_wake_some(w->log, n);
}

/*
 * delivery_my_xid returns this transaction's top-level id, assigning one:
 * call it before taking a window lock.
 */
FullTransactionId
delivery_my_xid(void)
{
	FullTransactionId xid;

	/* the id is the queue's doing: it does not make the commit wait */
	position_writes_begin();
	xid = GetTopFullTransactionId();
	position_writes_end();
	return xid;
}

/*
 * slot_resolve turns the pending change of a slot into its state if the
 * transaction that made it committed, or drops it if it rolled back; a
 * change of a transaction in progress stays.  Only prepared transactions'
 * slots are asked about: every other backend resolves its own at the end
 * of its transaction.  Caller holds the window lock exclusively.
 */
static void
slot_resolve(QueueWindow *w, DeliverySlot *slot)
{
	TransactionId xid = XidFromFullTransactionId(slot->xid);

	Assert(LWLockHeldByMeInMode(&w->lock, LW_EXCLUSIVE));
	if (!slot->prepared || TransactionIdIsInProgress(xid))
		return;
	if (TransactionIdDidCommit(xid))
	{
		slot->state = slot->pending;
		slot->at = slot->pending_at;
		slot->made_by = slot->xid;
		if (slot->pending == DELIVERY_DONE)
		{
			w->done_total++;
			if (slot->dead_letter)
				w->dead_lettered++;
		}
	}
	else if (slot->receipt_pending)
	{
		/* the lease's id is void: no ack of it may settle the message */
		slot->receipt = slot->prev_receipt;
		slot->row_stale = true;
	}
	slot->receipt_pending = false;
	window_freed(w, slot->offset);
	slot->xid = InvalidFullTransactionId;
	slot->prepared = false;
	slot->dead_letter = false;
}

/*
 * delivery_settle brings a slot up to now: a prepared transaction's change
 * that ended is resolved, and a lease that ran out makes the message
 * available again.  Caller holds the window lock exclusively.
 */
void
delivery_settle(QueueWindow *w, DeliverySlot *slot, TimestampTz now)
{
	if (FullTransactionIdIsValid(slot->xid))
		slot_resolve(w, slot);
	if (slot->state == DELIVERY_LEASED && slot->at <= now &&
		!FullTransactionIdIsValid(slot->xid))
		slot->state = DELIVERY_AVAILABLE;
}

/*
 * delivery_prepared_ended resolves the slots of the prepared transactions
 * that ended, in every window of this database, and wakes a consumer for
 * each message they gave back.  Called after COMMIT PREPARED and ROLLBACK
 * PREPARED (which run in the database of the transaction they end): no
 * backend of that transaction is there to do it.  A window whose topic
 * another transaction locks is passed over: reads resolve its slots as
 * they meet them, and a waiting read wakes at its deadline.
 */
void
delivery_prepared_ended(void)
{
	List	   *keys = delivery_loaded_windows();
	ListCell   *lc;

	foreach(lc, keys)
	{
		bool		busy;
		QueueWindow *w = delivery_window_hold(lfirst(lc), &busy);
		int			wake = 0;
		int64		o;

		if (w == NULL)
			continue;
		LWLockAcquire(&w->lock, LW_EXCLUSIVE);
		for (o = w->start; o < w->frontier && o < w->start + w->size; o++)
		{
			DeliverySlot *slot = window_slot(w, o);

			if (!FullTransactionIdIsValid(slot->xid) || !slot->prepared)
				continue;
			slot_resolve(w, slot);
			/*
			 * given back, or done with a later message of its key behind, or
			 * room past a full window
			 */
			if (!FullTransactionIdIsValid(slot->xid) &&
				(slot->state == DELIVERY_NEW ||
				 slot->state == DELIVERY_AVAILABLE ||
				 (slot->state == DELIVERY_DONE &&
				  (slot->has_key || w->frontier - w->start >= w->size))))
				wake++;
		}
		delivery_advance_start(w);
		LWLockRelease(&w->lock);
		delivery_wake(w, wake);
	}
	list_free_deep(keys);
}

/*
 * delivery_advance_start moves the window's start past the offsets that
 * are done, resolving the prepared transactions it meets.  Caller holds the
 * window lock exclusively.
 */
void
delivery_advance_start(QueueWindow *w)
{
	while (w->start < w->frontier)
	{
		DeliverySlot *slot = window_slot(w, w->start);

		if (FullTransactionIdIsValid(slot->xid))
			slot_resolve(w, slot);
		if (slot->state != DELIVERY_DONE ||
			FullTransactionIdIsValid(slot->xid) || slot->reserver != 0)
			break;
		w->start++;
	}
	w->scan_from = Max(w->scan_from, w->start);
}

/*
 * op_begin records in op what a rollback gives back of a slot, and makes
 * the slot's change pending on xid.
 */
static void
op_begin(DeliveryOp *op, DeliverySlot *slot, FullTransactionId xid)
{
	op->had_change = FullTransactionIdIsValid(slot->xid);
	op->prev_pending = slot->pending;
	op->prev_receipt = slot->receipt;
	op->prev_pending_at = slot->pending_at;
	op->prev_dead_letter = slot->dead_letter;
	slot->xid = xid;
}

/*
 * take_enter makes a recorded take the pending change of its slot, which
 * our reservation held.  Caller holds the window lock exclusively.
 */
static void
take_enter(DeliveryOp *op, FullTransactionId xid)
{
	DeliverySlot *slot = window_slot(op->w, op->offset);

	Assert(LWLockHeldByMeInMode(&op->w->lock, LW_EXCLUSIVE));
	if (slot->offset != op->offset || slot->reserver != MyProc->pgprocno + 1)
		elog(ERROR, "reservation of message %lld of a queue was lost",
			 (long long) op->offset);
	slot->reserver = 0;
	op->reserved = false;
	op_begin(op, slot, xid);
	slot->pending = op->take_pending;
	slot->pending_at = op->take_at;
	slot->dead_letter = op->take_dead_letter;
	if (op->take_pending == DELIVERY_LEASED)
	{
		slot->prev_receipt = slot->receipt;
		slot->receipt_pending = true;
		slot->receipt = op->take_receipt;
	}
	if (op->take_delivers)
		slot->deliveries++;
}

/*
 * takes_enter makes the recorded takes of window w their slots' pending
 * changes.  Caller holds w's lock exclusively.
 */
static void
takes_enter(QueueWindow *w)
{
	ListCell   *lc;

	foreach(lc, my_ops)
	{
		DeliveryOp *op = lfirst(lc);

		/* (the id was assigned at the take) */
		if (op->reserved && op->w == w)
			take_enter(op, GetTopFullTransactionId());
	}
}

/*
 * delivery_enter_takes makes this transaction's recorded takes the
 * pending changes of their slots now, for a call that looks at the slots
 * as changed (an ack of a message received in the same transaction).
 */
void
delivery_enter_takes(void)
{
	ListCell   *lc;

	foreach(lc, my_ops)
	{
		DeliveryOp *op = lfirst(lc);

		if (!op->reserved)
			continue;
		LWLockAcquire(&op->w->lock, LW_EXCLUSIVE);
		takes_enter(op->w);
		LWLockRelease(&op->w->lock);
	}
}

/*
 * delivery_begin_change makes a slot's change pending on this transaction
 * and records what a rollback gives back; the caller then sets the slot's
 * pending, pending_at, dead_letter (and receipt, deliveries).  xid is
 * delivery_my_xid().  Caller holds the window lock exclusively.
 */
void
delivery_begin_change(QueueWindow *w, DeliverySlot *slot,
					  FullTransactionId xid)
{
	MemoryContext old = MemoryContextSwitchTo(TopTransactionContext);
	DeliveryOp *op = palloc0(sizeof(DeliveryOp));

	Assert(LWLockHeldByMeInMode(&w->lock, LW_EXCLUSIVE));
	op->w = w;
	op->offset = slot->offset;
	op->level = GetCurrentTransactionNestLevel();
	my_ops = lappend(my_ops, op);
	MemoryContextSwitchTo(old);
	op_begin(op, slot, xid);
}

/*
 * delivery_record_take records the take of a slot that a query of this
 * transaction reserved: pending becomes its state, at pending_at, when the
 * transaction commits; a lease's receipt, whether the slot's pending done
 * dead-letters it, and whether it is a delivery.  The slot is
 * not touched: it stays reserved until the transaction writes it.
 */
DeliveryOp *
delivery_record_take(QueueWindow *w, int64 offset, uint8 pending,
					 TimestampTz pending_at, int64 receipt, bool dead_letter,
					 bool delivers)
{
	MemoryContext old = MemoryContextSwitchTo(TopTransactionContext);
	DeliveryOp *op = palloc0(sizeof(DeliveryOp));

	op->w = w;
	op->offset = offset;
	op->level = GetCurrentTransactionNestLevel();
	op->reserved = true;
	op->take_pending = pending;
	op->take_at = pending_at;
	op->take_receipt = receipt;
	op->take_dead_letter = dead_letter;
	op->take_delivers = delivers;
	my_ops = lappend(my_ops, op);
	MemoryContextSwitchTo(old);
	return op;
}

/*
 * delivery_take_held returns whether a take this transaction recorded
 * still holds its message: a rollback to a savepoint gives it back.
 */
bool
delivery_take_held(DeliveryOp *op)
{
	return list_member_ptr(my_ops, op);
}

/*
 * op_slot returns the slot an op changed, or NULL if the window moved on
 * (it cannot while the change is pending: a safety net).  Caller holds the
 * window lock.
 */
static DeliverySlot *
op_slot(DeliveryOp *op)
{
	DeliverySlot *slot = window_slot(op->w, op->offset);

	return slot->offset == op->offset ? slot : NULL;
}

/*
 * ops_undo gives back the changes made at nesting level from on, newest
 * first, and wakes a consumer for each message that is free again.
 */
static void
ops_undo(int from)
{
	int			i;

	for (i = list_length(my_ops) - 1; i >= 0; i--)
	{
		DeliveryOp *op = list_nth(my_ops, i);
		DeliverySlot *slot;
		bool		freed = false;

		if (op->level < from)
			continue;
		LWLockAcquire(&op->w->lock, LW_EXCLUSIVE);
		slot = op_slot(op);
		if (op->reserved)
		{
			/*
			 * the reservation, all the take held; a delivery counts even so,
			 * so that a message whose consumers keep failing ends as a dead
			 * letter
			 */
			if (slot != NULL && slot->reserver == MyProc->pgprocno + 1)
			{
				if (op->take_delivers)
				{
					slot->deliveries++;
					slot->row_stale = true; /* the worker writes the count */
				}
				slot->reserver = 0;
				window_freed(op->w, op->offset);
				freed = true;
			}
		}
		else if (slot != NULL)
		{
			/* the lease's id goes with it: a rolled-back receive's id is void */
			slot->receipt = op->prev_receipt;
			slot->receipt_pending = false;
			if (op->had_change)
			{
				slot->pending = op->prev_pending;
				slot->pending_at = op->prev_pending_at;
				slot->dead_letter = op->prev_dead_letter;
			}
			else
			{
				slot->xid = InvalidFullTransactionId;
				slot->dead_letter = false;
				/* (a PREPARE that failed marked it) */
				slot->prepared = false;
				window_freed(op->w, op->offset);
				freed = true;
			}
		}
		LWLockRelease(&op->w->lock);
		if (freed)
			delivery_wake(op->w, 1);
		my_ops = list_delete_nth_cell(my_ops, i);
	}
}

/*
 * ops_apply makes the changes of this transaction, which committed, the
 * slots' states, lets the starts move, and wakes the consumers that a
 * message given back, or a key or window room freed, lets go on.
 */
static void
ops_apply(void)
{
	ListCell   *lc;
	TimestampTz now = GetCurrentTimestamp();
	QueueWindow *locked = NULL;
	int			wake = 0;

	/* the ops of a window lie together: one lock for them all */
	foreach(lc, my_ops)
	{
		DeliveryOp *op = lfirst(lc);
		QueueWindow *w = op->w;
		DeliverySlot *slot;

		if (w != locked)
		{
			if (locked != NULL)
			{
				delivery_advance_start(locked);
				LWLockRelease(&locked->lock);
				delivery_wake(locked, wake);
			}
			LWLockAcquire(&w->lock, LW_EXCLUSIVE);
			locked = w;
			wake = 0;
		}
		slot = op_slot(op);
		if (slot == NULL || !FullTransactionIdIsValid(slot->xid))
			continue;
		slot->state = slot->pending;
		slot->at = slot->pending_at;
		slot->made_by = slot->xid;
		slot->xid = InvalidFullTransactionId;
		slot->prepared = false;
		slot->receipt_pending = false;
		if (slot->state == DELIVERY_DONE)
		{
			w->done_total++;
			if (slot->dead_letter)
				w->dead_lettered++;
			/* a later message of its key, or room past the window */
			if (slot->has_key || w->frontier - w->start >= w->size)
				wake++;
		}
		else if (slot->state == DELIVERY_AVAILABLE)
		{
			window_freed(w, slot->offset);
			if (slot->at <= now)
				wake++;
		}
		else if (slot->state == DELIVERY_LEASED)
			window_freed(w, slot->offset);	/* its lease will run out */
		slot->dead_letter = false;
	}
	if (locked != NULL)
	{
		delivery_advance_start(locked);
		LWLockRelease(&locked->lock);
		delivery_wake(locked, wake);
	}
}

/* What ops_write does to a window's slots as it writes them. */
typedef struct WriteReady
{
	const int64 *offsets;
	int			n;
	bool		prepared;
} WriteReady;

/*
 * write_ready brings a window's slots to what this transaction writes to
 * their rows: its takes enter them, and those of a prepared transaction
 * are marked so, for the backends that meet them later.  Called by
 * delivery_store_write with the window locked exclusively.
 */
static void
write_ready(QueueWindow *w, void *arg)
{
	WriteReady *ready = (WriteReady *) arg;
	int			i;

	takes_enter(w);
	if (!ready->prepared)
		return;
	for (i = 0; i < ready->n; i++)
	{
		DeliverySlot *slot = window_slot(w, ready->offsets[i]);

		if (slot->offset == ready->offsets[i])
			slot->prepared = true;
	}
}

/*
 * ops_write writes the slots this transaction changed to their rows, each
 * once, naming the transaction; prepared marks them as a prepared
 * transaction's.
 */
static void
ops_write(bool prepared)
{
	int			n = list_length(my_ops);
	int			i;
	int			j;
	DeliveryOp **ops;
	int64	   *offsets;

	if (n == 0)
		return;
	ops = palloc(sizeof(DeliveryOp *) * n);
	offsets = palloc(sizeof(int64) * n);
	for (i = 0; i < n; i++)
		ops[i] = list_nth(my_ops, i);

	/* by window, each window's offsets once */
	for (i = 0; i < n; i++)
	{
		QueueWindow *w;
		WriteReady	ready;
		int			k = 0;

		if (ops[i] == NULL)
			continue;
		w = ops[i]->w;
		for (j = i; j < n; j++)
		{
			int			m;
			bool		seen = false;

			if (ops[j] == NULL || ops[j]->w != w)
				continue;
			for (m = 0; m < k && !seen; m++)
				seen = offsets[m] == ops[j]->offset;
			if (!seen)
				offsets[k++] = ops[j]->offset;
			if (j > i)
				ops[j] = NULL;
		}
		ready.offsets = offsets;
		ready.n = k;
		ready.prepared = prepared;
		position_writes_begin();
		delivery_store_write(w, offsets, k, write_ready, &ready);
		position_writes_end();
	}
	pfree(ops);
	pfree(offsets);
}

static void
delivery_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_PRE_COMMIT:
		case XACT_EVENT_PARALLEL_PRE_COMMIT:
			ops_write(false);
			break;
		case XACT_EVENT_PRE_PREPARE:
			ops_write(true);
			break;
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
			ops_apply();
			my_ops = NIL;
			break;
		case XACT_EVENT_PREPARE:
			/* the slots stay the prepared transaction's */
			my_ops = NIL;
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
			ops_undo(0);
			my_ops = NIL;
			break;
	}
}

static void
delivery_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
						  SubTransactionId parentSubid, void *arg)
{
	int			level = GetCurrentTransactionNestLevel();
	ListCell   *lc;

	if (my_ops == NIL)
		return;
	if (event == SUBXACT_EVENT_ABORT_SUB)
		ops_undo(level);
	else if (event == SUBXACT_EVENT_COMMIT_SUB)
		foreach(lc, my_ops)
		{
			DeliveryOp *op = lfirst(lc);

			if (op->level >= level)
				op->level = level - 1;
		}
}

/*
 * delivery_init installs the transaction callbacks; called from _PG_init.
 */
void
delivery_init(void)
{
	RegisterXactCallback(delivery_xact_callback, NULL);
	RegisterSubXactCallback(delivery_subxact_callback, NULL);
	partition_set_forget_hook(delivery_forget);
}

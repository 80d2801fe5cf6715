/*-------------------------------------------------------------------------
 *
 * window.h
 *	  The delivery window of a queue partition, as shared memory holds it:
 *	  its in-flight and done offsets, backed by topics.queue_delivery.
 *
 *-------------------------------------------------------------------------
 */
#ifndef QUEUE_WINDOW_H
#define QUEUE_WINDOW_H

#include "access/transam.h"
#include "port/atomics.h"
#include "storage/itemptr.h"
#include "storage/lwlock.h"
#include "storage/relfilenode.h"
#include "utils/timestamp.h"

#include "log/partition.h"

/* The widest delivery window: the slots each queue partition keeps. */
#define QUEUE_WINDOW_MAX		1024

/* A delivery id is the partition above these bits and a receipt below. */
#define DELIVERY_RECEIPT_BITS	40
#define DELIVERY_RECEIPT_MASK	((INT64CONST(1) << DELIVERY_RECEIPT_BITS) - 1)

/*
 * The state of an offset as of the last commit that changed it.  The
 * values are stored in topics.queue_delivery.state and .pending.
 */
typedef enum DeliveryState
{
	DELIVERY_NEW = 0,			/* never delivered; visible from at */
	DELIVERY_AVAILABLE = 1,		/* delivered before and back; visible from at */
	DELIVERY_LEASED = 2,		/* received, held until at */
	DELIVERY_DONE = 3			/* consumed, acked, dead-lettered, or an
								 * offset that holds no message */
} DeliveryState;

/*
 * One offset of the window.  A change that a transaction makes (a take, an
 * ack, a nack, an extend) is pending: xid names the transaction, and
 * pending and pending_at replace state and at when it commits.  While xid
 * is set, no one else may deliver or change the offset.
 */
typedef struct DeliverySlot
{
	int64		offset;			/* -1: the slot holds no offset */
	int64		receipt;		/* of its last lease */
	int64		prev_receipt;	/* receipt before the pending lease, which
								 * a rollback brings back */
	TimestampTz at;
	TimestampTz pending_at;
	FullTransactionId xid;		/* of the pending change, or invalid */
	FullTransactionId made_by;	/* the transaction that made state, or
								 * invalid */
	ItemPointerData tid;		/* its message row, when known */
	uint8		state;			/* DeliveryState */
	uint8		pending;		/* DeliveryState, while xid is set */
	bool		known;			/* tid, keyhash and has_key are set */
	bool		has_key;
	bool		prepared;		/* xid is a prepared transaction's */
	bool		receipt_pending;	/* receipt is the pending lease's */
	bool		dead_letter;	/* its pending done is a dead-lettering */
	bool		row_stale;		/* its row is behind: it names a transaction
								 * that ended, or misses a delivery */
	int32		deliveries;
	int32		reserver;		/* pgprocno + 1 of a query holding it, or
								 * of a transaction that took it and has not
								 * written it yet */
	uint32		keyhash;
} DeliverySlot;

typedef struct QueueWindowKey
{
	Oid			dbid;
	Oid			relid;			/* the partition's table */
} QueueWindowKey;

/*
 * The delivery window of a queue partition: the offsets [start, start +
 * size), offset o in slots[o % size].  Below frontier, every offset's
 * message is known (read once from the log); an offset below the LSO
 * without a message (a producer rolled back) is done.
 *
 * Locking: lock protects every field but reads (atomic), and rows_file and
 * rows, which write_lock protects.  write_lock serializes the in-place writes of the
 * partition's rows, and is taken before lock, never while holding it.
 */
typedef struct QueueWindow
{
	QueueWindowKey key;			/* hash key: must be first */
	LWLock		lock;
	LWLock		write_lock;
	bool		loaded;
	char		topic[NAMEDATALEN];
	int32		partition;
	int32		size;
	PartitionState *log;		/* the partition's log, for its waiters */
	int64		start;
	int64		start_written;	/* as topics.queue_partition holds it */
	int64		frontier;
	int64		scan_from;		/* below it, every offset is done, or held
								 * by a transaction or a reservation */
	pg_atomic_uint32 reads;		/* of the topic, on partition 0's window:
								 * where the next read starts */
	int64		next_receipt;	/* the last receipt handed out */
	int64		receipt_mark;	/* as flushed: above every receipt handed out */
	int64		dead_lettered;
	int64		dead_lettered_written;
	uint64		done_total;		/* offsets done since the window loaded */
	TimestampTz rate_at;		/* the consume rate, as of rate_at */
	double		rate;
	uint64		rate_done;		/* done_total at rate_at */
	RelFileNode rows_file;		/* topics.queue_delivery's file as loaded */
	ItemPointerData rows[QUEUE_WINDOW_MAX]; /* where each slot's row lies */
	DeliverySlot slots[QUEUE_WINDOW_MAX];
} QueueWindow;

static inline DeliverySlot *
window_slot(QueueWindow *w, int64 offset)
{
	return &w->slots[offset % w->size];
}

/*
 * window_freed notes that the slot of offset may be free now: reads look
 * from there again.  Caller holds the window lock exclusively.
 */
static inline void
window_freed(QueueWindow *w, int64 offset)
{
	if (offset < w->scan_from)
		w->scan_from = offset;
}

#endif							/* QUEUE_WINDOW_H */

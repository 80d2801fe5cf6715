/*-------------------------------------------------------------------------
 *
 * delivery.h
 *	  The delivery windows of queue partitions: finding and loading them,
 *	  and the changes transactions make to them.
 *
 *-------------------------------------------------------------------------
 */
#ifndef QUEUE_DELIVERY_H
#define QUEUE_DELIVERY_H

#include "nodes/pg_list.h"

#include "log/topic.h"
#include "queue/window.h"

extern Size delivery_shmem_size(void);
extern void delivery_shmem_startup(void);
extern void delivery_init(void);
extern QueueWindow *delivery_window(Topic *topic, int partition);
extern QueueWindow *delivery_window_if_room(Topic *topic, int partition,
											bool missing_ok);
extern void delivery_settle(QueueWindow *w, DeliverySlot *slot,
							TimestampTz now);
extern void delivery_advance_start(QueueWindow *w);
extern void delivery_prepared_ended(void);
typedef struct DeliveryOp DeliveryOp;

extern DeliveryOp *delivery_record_take(QueueWindow *w, int64 offset,
										uint8 pending, TimestampTz pending_at,
										int64 receipt, bool dead_letter,
										bool delivers);
extern bool delivery_take_held(DeliveryOp *op);
extern void delivery_enter_takes(void);
extern void delivery_begin_change(QueueWindow *w, DeliverySlot *slot,
								  FullTransactionId xid);
extern void delivery_forget(Oid dbid, Oid relid);
extern List *delivery_loaded_windows(void);
extern QueueWindow *delivery_window_lookup(const QueueWindowKey *key);
extern QueueWindow *delivery_window_hold(const QueueWindowKey *key,
										bool *busy);
extern void delivery_wake(QueueWindow *w, int n);
extern FullTransactionId delivery_my_xid(void);

#endif							/* QUEUE_DELIVERY_H */

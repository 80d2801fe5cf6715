/*-------------------------------------------------------------------------
 *
 * queue_read.h
 *	  Reading a queue: reserving free messages for a query.
 *
 *-------------------------------------------------------------------------
 */
#ifndef QUEUE_READ_H
#define QUEUE_READ_H

#include "utils/tuplestore.h"

#include "queue/delivery_query.h"

extern int	queue_read(Topic *topic, DeliveryQuery *q, int qty,
					   TimestampTz deadline, Tuplestorestate *store,
					   TupleDesc desc);
extern void queue_window_meet(Topic *topic, QueueWindow *w, int partition);
extern int	queue_defer_waiting(Topic *topic, QueueWindow *w, int partition);

#endif							/* QUEUE_READ_H */

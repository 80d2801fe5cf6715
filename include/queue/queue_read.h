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

#endif							/* QUEUE_READ_H */

/*-------------------------------------------------------------------------
 *
 * delivery_query.h
 *	  The messages a query's consume or receive reserved, and their takes.
 *
 *-------------------------------------------------------------------------
 */
#ifndef QUEUE_DELIVERY_QUERY_H
#define QUEUE_DELIVERY_QUERY_H

#include "lib/ilist.h"

#include "queue/delivery.h"

/* What a read does with a message it reserved. */
typedef enum DeliveryUse
{
	USE_HAND_OUT,				/* hand it out to the query */
	USE_DEAD_LETTER,			/* move it to the dead-letter topic */
	USE_DEFER					/* move it to the log's end, where it waits
								 * for its time without holding the window */
} DeliveryUse;

typedef struct DeliveryReservation
{
	QueueWindow *w;
	int32		partition;
	int64		offset;
	int64		receipt;
	TimestampTz lease_until;
	DeliveryOp *op;				/* its take, once taken */
	bool		taken;
	DeliveryUse use;
} DeliveryReservation;

typedef struct DeliveryQuery
{
	dlist_node	node;
	MemoryContext query_cxt;	/* the query's memory: its key */
	char		topic[NAMEDATALEN];
	bool		lease;			/* a receive: takes lease for lease_ms */
	int64		lease_ms;
	TimestampTz lease_until;	/* of the messages reserved last */
	bool		ended;			/* its reservations were given back */
	int			n;
	int			max;
	int			next;			/* where the next take likely is */
	DeliveryReservation *rows;
	MemoryContextCallback callback;
} DeliveryQuery;

extern DeliveryQuery *delivery_query_begin(MemoryContext query_cxt,
										   const char *topic, bool lease,
										   int64 lease_ms);
extern DeliveryQuery *delivery_query_find(MemoryContext query_cxt,
										  const char *topic, int partition,
										  int64 offset);
extern bool delivery_query_holds(DeliveryQuery *q, int partition, int64 offset);
extern void delivery_query_room(DeliveryQuery *q, int n);
extern DeliveryReservation *delivery_reserve(DeliveryQuery *q, QueueWindow *w,
											 int partition,
											 DeliverySlot *slot);
extern void delivery_take(DeliveryQuery *q, int partition, int64 offset);
extern void delivery_query_init(void);

#endif							/* QUEUE_DELIVERY_QUERY_H */

/*-------------------------------------------------------------------------
 *
 * delivery_store.h
 *	  The delivery state of queue partitions on disk.
 *
 *-------------------------------------------------------------------------
 */
#ifndef QUEUE_DELIVERY_STORE_H
#define QUEUE_DELIVERY_STORE_H

#include "queue/window.h"

extern void delivery_store_load(QueueWindow *w, const char *topic,
								int partition, int size);
/* The last changes to a window's slots before they are written. */
typedef void (*DeliveryStoreReady) (QueueWindow *w, void *arg);

extern void delivery_store_write(QueueWindow *w, const int64 *offsets, int n,
								 DeliveryStoreReady ready, void *arg);
extern void delivery_store_add_partitions(const char *topic, int from, int to);
extern int64 delivery_store_settle(QueueWindow *w);
extern void delivery_store_mark_receipts(QueueWindow *w, int need);

#endif							/* QUEUE_DELIVERY_STORE_H */

/*-------------------------------------------------------------------------
 *
 * positions.h
 *	  The position ledger of a transaction.
 *
 *-------------------------------------------------------------------------
 */
#ifndef POSITIONS_H
#define POSITIONS_H

#include "storage/itemptr.h"

/* A group whose positions the current transaction holds. */
typedef struct LedgerGroup LedgerGroup;

/* The latest read of a group by the polls of one query. */
typedef struct QueryRead QueryRead;

extern void positions_init(void);
extern LedgerGroup *positions_group(const char *topic, const char *group);
extern void positions_mark_polled(LedgerGroup *group, MemoryContext query);
extern QueryRead *positions_query_read(LedgerGroup *group,
									   MemoryContext query);
extern LedgerGroup *positions_polled_group(text *group, text *topic);
extern void position_register(LedgerGroup *group, int partition,
							  int64 committed, int64 value, ItemPointer tid);
extern bool position_pending(LedgerGroup *group, int partition, int64 *value);
extern void position_set(LedgerGroup *group, int partition, int64 value);
extern void position_read(LedgerGroup *group, int partition, int64 below,
						  bool gap);
extern void positions_take(QueryRead *qr, int partition, int64 offset);

#endif							/* POSITIONS_H */

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

#include "pg_topics.h"

/*
 * A group polled in the current transaction, by name, so that _take can
 * find the group of a row from the names the caller's query passes.
 */
typedef struct PolledGroup
{
	char	   *group;
	int			group_len;
	char		topic[NAMEDATALEN];
	int			topic_len;
	int32		group_id;
} PolledGroup;

extern void positions_init(void);
extern void position_register(int32 group_id, int partition, int64 committed,
							  int64 value, ItemPointer tid);
extern bool position_pending(int32 group_id, int partition, int64 *value);
extern void position_set(int32 group_id, int partition, int64 value);
extern void positions_remember_group(const char *group, const char *topic,
									 int32 group_id);
extern PolledGroup *positions_find_group(text *group, text *topic);
extern void positions_take(PolledGroup *pg, int partition, int64 offset);

#endif							/* POSITIONS_H */

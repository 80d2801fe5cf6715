/*-------------------------------------------------------------------------
 *
 * group.h
 *	  Consumer groups: membership, and their rows in the catalog.
 *
 *-------------------------------------------------------------------------
 */
#ifndef GROUP_H
#define GROUP_H

#include "storage/itemptr.h"

#include "log/topic.h"

/* A member of a group, as one poll or commit sees it. */
typedef struct GroupMember
{
	int32		group_id;
	int32		generation;		/* the group's */
	char		reset;			/* auto_offset_reset: 'e', 'l' or 'n' */
	int32		member_id;		/* 0: no such member */
	int32		member_generation;
	int			nassigned;
	int		   *assigned;		/* partitions, ascending */
	int64	   *committed;		/* their committed positions, -1: none */
} GroupMember;

/* group.c */
extern void group_check_member(Topic *topic, const char *group,
							   const char *member, GroupMember *gm);
extern int64 group_resolve_position(Topic *topic, const char *group,
									GroupMember *gm, int partition,
									int64 committed);

/* group_catalog.c */
extern bool group_lookup(Topic *topic, const char *group, const char *member,
						 GroupMember *gm);
/* the value a claimed position row is written with, given its committed one */
typedef int64 (*GroupClaimDecide) (int64 committed, void *arg);

extern int64 group_claim_position(int32 group_id, int partition,
								  GroupClaimDecide decide, void *arg,
								  int64 *written, ItemPointer tid);
extern void group_write_position(ItemPointer tid, int64 value);

#endif							/* GROUP_H */

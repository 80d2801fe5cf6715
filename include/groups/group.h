/*-------------------------------------------------------------------------
 *
 * group.h
 *	  Consumer groups: membership and access, and their rows in the
 *	  catalog.
 *
 *-------------------------------------------------------------------------
 */
#ifndef GROUP_H
#define GROUP_H

#include "storage/itemptr.h"

#include "log/topic.h"

/* A group of a topic, and one of its members, as a call sees them. */
typedef struct GroupMember
{
	const char *topic;
	const char *group;
	Oid			owner;			/* InvalidOid: made before 0.2, unclaimed */
	int32		generation;		/* the group's */
	char		reset;			/* auto_offset_reset: 'e', 'l' or 'n' */
	const char *strategy;		/* range, roundrobin or sticky */
	bool		is_member;		/* the member was found */
	int32		member_generation;
	int			nassigned;
	int		   *assigned;		/* partitions, ascending */
	int64	   *committed;		/* their committed positions, -1: none */
	ItemPointerData *rows;		/* the versions of their position rows
								 * read (invalid: none) */
} GroupMember;

/* group.c */
extern void group_find(Topic *topic, const char *group, const char *member,
					   bool member_optional, GroupMember *gm);
extern void group_check_topic(Topic *topic);
extern void group_check_member(Topic *topic, const char *group,
							   const char *member, GroupMember *gm);
extern int64 group_resolve_position(Topic *topic, GroupMember *gm,
									int partition, int64 committed);
extern void group_remove_members(const char *topic, const char *group,
								 List *members);

/* group_catalog.c */
extern bool group_lookup(Topic *topic, const char *group, const char *member,
						 GroupMember *gm);

/* the value a claimed position row is written with, given its committed one */
typedef int64 (*GroupClaimDecide) (int64 committed, void *arg);

extern int64 group_claim_position(const char *topic, const char *group,
								  int partition, ItemPointer seen,
								  GroupClaimDecide decide, void *arg,
								  int64 *written, ItemPointer tid);
extern bool group_position_row_alive(ItemPointer tid);
extern bool group_write_position(ItemPointer tid, int64 value);

#endif							/* GROUP_H */

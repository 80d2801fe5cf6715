/*-------------------------------------------------------------------------
 *
 * group.c
 *	  Consumer groups: finding a group and its member, who may use it,
 *	  where a member reads from, and removing members.
 *
 * Access.  Reading a topic (SELECT on its root table) is not enough to use
 * one of its groups, as in Kafka, where a consumer needs READ on the group
 * too: a group belongs to the role that created it, and only roles with
 * that role's privileges (pg_has_role(owner, 'USAGE')) may join it, poll,
 * commit, seek, heartbeat or leave.  Applications that share a group share
 * a role.  A group made before 0.2 has no owner until the next join claims
 * it.
 *
 * Membership changes are rare, so they run in PL/pgSQL
 * (topics_internal._join, _leave and _rebalance) through SPI, as the
 * owner of schema topics_data, which alone may write the group tables.
 *
 * Fencing: a rebalance bumps the group's generation, and a member whose
 * generation is older may neither poll nor commit until it joins again.
 * A poll also locks the position of each partition it reads from until
 * its transaction ends (group_catalog.c), so a member that gets the
 * partition in a rebalance waits for the old owner's transaction and then
 * reads on from the position that transaction committed: two members
 * never consume the same messages of a partition.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"

#include "groups/group.h"
#include "groups/heartbeat.h"

/*
 * group_check_access raises 42501 unless the current role may use a group.
 */
static void
group_check_access(GroupMember *gm)
{
	if (OidIsValid(gm->owner) && !has_privs_of_role(GetUserId(), gm->owner))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for consumer group \"%s\" of topic \"%s\"",
						gm->group, gm->topic),
				 errdetail("The group belongs to role \"%s\"; only roles with its privileges may use it.",
						   GetUserNameFromId(gm->owner, true) ?
						   GetUserNameFromId(gm->owner, true) : "(dropped)"),
				 errhint("Use a role that is a member of the group's owner, or another group name.")));
}

/*
 * group_find fills gm like group_lookup, raising 42704 when the group does
 * not exist, and also when the member does not unless member_optional, and
 * 42501 when the current role may not use the group.
 */
void
group_find(Topic *topic, const char *group, const char *member,
		   bool member_optional, GroupMember *gm)
{
	if (!group_lookup(topic, group, member, gm))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("consumer group \"%s\" of topic \"%s\" does not exist",
						group, topic->name),
				 errhint("Members create the group with topics.join().")));
	group_check_access(gm);
	if (member != NULL && !gm->is_member && !member_optional)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("member \"%s\" is not in consumer group \"%s\"",
						member, group),
				 errdetail("It never joined, it left, or it was expired after its session timeout."),
				 errhint("Join the group again with topics.join().")));
}

/*
 * group_check_topic raises 42809 when topic is a queue: its messages go to
 * one consumer each, which consumer groups, each reading every message,
 * cannot respect.
 */
void
group_check_topic(Topic *topic)
{
	if (topic->mode == TOPIC_MODE_QUEUE)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("topic \"%s\" is a queue", topic->name),
				 errdetail("Consumer groups read streams and stores; each message of a queue goes to one consumer."),
				 errhint("Take a queue's messages with topics.consume() or topics.receive().")));
}

/*
 * group_check_member fills gm like group_find and raises 55000 when the
 * member's generation is older than the group's: it missed a rebalance and
 * must join again.  The call counts as the member's heartbeat.
 */
void
group_check_member(Topic *topic, const char *group, const char *member,
				   GroupMember *gm)
{
	group_find(topic, group, member, false, gm);
	if (gm->member_generation != gm->generation)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("member \"%s\" of consumer group \"%s\" has generation %d, the group is at %d",
						member, group, gm->member_generation, gm->generation),
				 errdetail("The group was rebalanced since the member joined."),
				 errhint("Call topics.join() again to get the new assignment.")));
	member_touch(member_key(topic->name, group, member));
}

/*
 * group_resolve_position returns where a member reads a partition from,
 * given the committed position (-1: none).  With none, or one outside the
 * log (below the oldest segment, removed since), auto_offset_reset
 * decides, as in Kafka: earliest, latest (the LSO), or an error.
 */
int64
group_resolve_position(Topic *topic, GroupMember *gm, int partition,
					   int64 committed)
{
	PartitionBounds bounds;
	int64		log_start = topic_partition_pending(topic, partition) ? 0 :
	Max(topic_log_start(topic, partition),
		topic->partitions[partition].segments[0].base);

	topic_bounds(topic, partition, &bounds);
	if (committed >= log_start && committed <= bounds.log_end)
		return committed;
	if (gm->reset == 'e')
		return Min(log_start, bounds.lso);
	if (gm->reset == 'l')
		return bounds.lso;
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("consumer group \"%s\" has no valid position in partition %d of topic \"%s\"",
					gm->group, partition, topic->name),
			 committed < 0 ?
			 errdetail("Nothing was committed, and auto_offset_reset is \"none\".") :
			 errdetail("The committed offset %lld is outside the log, and auto_offset_reset is \"none\".",
					   (long long) committed),
			 errhint("Set a position with topics.seek().")));
	return -1;					/* keep the compiler quiet */
}

/*
 * group_remove_members removes members (a list of C strings) from a group,
 * rebalancing it, and forgets their heartbeats.  Caller is connected to
 * SPI as the owner of schema topics_data.
 */
void
group_remove_members(const char *topic, const char *group, List *members)
{
	Oid			argtypes[3] = {TEXTOID, TEXTOID, TEXTARRAYOID};
	Datum		args[3];
	Datum	   *names = palloc(sizeof(Datum) * Max(list_length(members), 1));
	ListCell   *lc;
	int			n = 0;

	foreach(lc, members)
		names[n++] = CStringGetTextDatum(lfirst(lc));
	args[0] = CStringGetTextDatum(topic);
	args[1] = CStringGetTextDatum(group);
	args[2] = PointerGetDatum(construct_array(names, n, TEXTOID, -1, false,
											  TYPALIGN_INT));
	if (SPI_execute_with_args("SELECT topics_internal._leave($1, $2, $3)",
							  3, argtypes, args, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not remove members of consumer group \"%s\"", group);
	foreach(lc, members)
		member_forget(member_key(topic, group, lfirst(lc)));
	partition_rebalanced_at_commit(topic);
}

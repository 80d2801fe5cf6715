/*-------------------------------------------------------------------------
 *
 * group.c
 *	  Consumer groups: looking up members and positions, and the SQL entry
 *	  points to join, leave, heartbeat, commit and seek.
 *
 * Membership changes are rare, so they run in PL/pgSQL (topics._join,
 * topics._leave, topics._rebalance) through SPI.  The C entry points check
 * the caller's privilege first (SELECT on the topic's root table, as for
 * fetch), then run that SQL as the owner of the extension's schema, which
 * alone may write the group tables.
 *
 * Fencing: a rebalance bumps the group's generation, and a member whose
 * generation is older may neither poll nor commit until it joins again.
 * A poll also locks the position of each partition it reads from until
 * its transaction ends (group_catalog.c), so a member that gets
 * the partition in a rebalance waits for the old owner's transaction and
 * then reads on from the position that transaction committed: two members
 * never consume the same messages of a partition.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "tcop/utility.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "log/fetch.h"
#include "args.h"
#include "groups/group.h"
#include "groups/heartbeat.h"
#include "groups/positions.h"
#include "log/topic_admin.h"
#include "preload.h"

PG_FUNCTION_INFO_V1(pg_topics_join);
PG_FUNCTION_INFO_V1(pg_topics_leave);
PG_FUNCTION_INFO_V1(pg_topics_heartbeat);
PG_FUNCTION_INFO_V1(pg_topics_commit);
PG_FUNCTION_INFO_V1(pg_topics_seek);
PG_FUNCTION_INFO_V1(pg_topics_seek_time);
PG_FUNCTION_INFO_V1(pg_topics__expire_members);
PG_FUNCTION_INFO_V1(pg_topics__last_seen);

/* Longest member name, and session timeouts allowed (as Kafka's broker). */
#define MEMBER_NAME_MAXLEN		255
#define SESSION_TIMEOUT_MIN_MS	100
#define SESSION_TIMEOUT_MAX_MS	(3600 * 1000)

/*
 * group_find fills gm like group_lookup, raising 42704 when the group does
 * not exist, and also when the member does not unless member_optional.
 */
static void
group_find(Topic *topic, const char *group, const char *member,
		   bool member_optional, GroupMember *gm)
{
	if (!group_lookup(topic, group, member, gm))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("consumer group \"%s\" of topic \"%s\" does not exist",
						group, topic->name),
				 errhint("Members create the group with topics.join().")));
	if (member != NULL && gm->member_id == 0 && !member_optional)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("member \"%s\" is not in consumer group \"%s\"",
						member, group),
				 errdetail("It never joined, it left, or it was expired after its session timeout."),
				 errhint("Join the group again with topics.join().")));
}

/*
 * group_check_member fills gm like group_lookup and raises 42704 when the
 * group or member does not exist, 55000 when the member's generation is
 * older than the group's: it missed a rebalance and must join again.
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
	member_touch(gm->member_id);
}

/*
 * group_resolve_position returns where a member reads a partition from,
 * given the committed position (-1: none).  With none, or one below the
 * oldest segment (removed since), auto_offset_reset decides, as in Kafka:
 * earliest, latest (the LSO), or an error.
 */
int64
group_resolve_position(Topic *topic, const char *group, GroupMember *gm,
					   int partition, int64 committed)
{
	PartitionSnapshot look;
	int64		log_start = topic->partitions[partition].segments[0].base;

	partition_look(topic_partition_state(topic, partition), &look);
	if (committed >= log_start && committed <= look.log_end)
		return committed;
	if (gm->reset == 'e')
		return Min(log_start, look.lso);
	if (gm->reset == 'l')
		return look.lso;
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("consumer group \"%s\" has no valid position in partition %d of topic \"%s\"",
					group, partition, topic->name),
			 committed < 0 ?
			 errdetail("Nothing was committed, and auto_offset_reset is \"none\".") :
			 errdetail("The committed offset %lld is outside the log, and auto_offset_reset is \"none\".",
					   (long long) committed),
			 errhint("Set a position with topics.seek().")));
	return -1;					/* keep the compiler quiet */
}

static char *
text_arg(FunctionCallInfo fcinfo, int n, const char *what)
{
	if (PG_ARGISNULL(n))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be null", what)));
	return text_to_cstring(PG_GETARG_TEXT_PP(n));
}

/*
 * open_for_group opens a topic for a group call and checks that the
 * caller may read it.
 */
static Topic *
open_for_group(FunctionCallInfo fcinfo)
{
	Topic	   *topic;

	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("topic name must not be null")));
	topic = topic_open(topic_name_from_text(PG_GETARG_TEXT_PP(1)),
					   AccessShareLock);
	topic_check_privilege(topic, ACL_SELECT);
	return topic;
}

/*
 * topics.join(group, topic, member, session_timeout, strategy,
 * auto_offset_reset) adds a member to a group, creating the group, or
 * re-syncs a known member after a rebalance.  Returns the member's name,
 * the generation and the member's partitions.
 */
Datum
pg_topics_join(PG_FUNCTION_ARGS)
{
	char	   *group = text_arg(fcinfo, 0, "group name");
	Topic	   *topic = open_for_group(fcinfo);
	char	   *member;
	Interval   *timeout;
	int64		timeout_ms;
	char	   *strategy = PG_ARGISNULL(4) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(4));
	char	   *reset = PG_ARGISNULL(5) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(5));
	TopicAdmin	admin;
	Oid			argtypes[6] = {INT4OID, TEXTOID, TEXTOID, INTERVALOID, TEXTOID, TEXTOID};
	Datum		args[6];
	char		nulls[6] = {' ', ' ', ' ', ' ', ' ', ' '};
	TupleDesc	desc;
	HeapTuple	tup;
	Datum		values[3];
	bool		rnulls[3] = {false, false, false};
	bool		isnull;
	int32		member_id;

	PreventCommandIfReadOnly("topics.join()");
	if (*group == '\0' || strlen(group) > MEMBER_NAME_MAXLEN)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_NAME),
				 errmsg("invalid consumer group name \"%s\"", group),
				 errdetail("A group name has from 1 to %d bytes.", MEMBER_NAME_MAXLEN)));
	if (PG_ARGISNULL(2))
	{
		char		buf[64];

		snprintf(buf, sizeof(buf), "member-%d-" INT64_FORMAT, MyProcPid,
				 (int64) GetCurrentTimestamp());
		member = pstrdup(buf);
	}
	else
		member = text_to_cstring(PG_GETARG_TEXT_PP(2));
	if (*member == '\0' || strlen(member) > MEMBER_NAME_MAXLEN)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_NAME),
				 errmsg("invalid member name \"%s\"", member),
				 errdetail("A member name has from 1 to %d bytes.", MEMBER_NAME_MAXLEN)));
	if (PG_ARGISNULL(3))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("session_timeout must not be null")));
	timeout = PG_GETARG_INTERVAL_P(3);
	timeout_ms = pg_topics_interval_ms(timeout);
	if (timeout_ms < SESSION_TIMEOUT_MIN_MS || timeout_ms > SESSION_TIMEOUT_MAX_MS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid session_timeout of %lld ms", (long long) timeout_ms),
				 errdetail("A session timeout lies between %d ms and %d ms.",
						   SESSION_TIMEOUT_MIN_MS, SESSION_TIMEOUT_MAX_MS)));
	if (strategy && strcmp(strategy, "range") != 0 &&
		strcmp(strategy, "roundrobin") != 0 && strcmp(strategy, "sticky") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid assignment strategy \"%s\"", strategy),
				 errhint("Valid strategies are \"range\", \"roundrobin\" and \"sticky\".")));
	if (reset && strcmp(reset, "earliest") != 0 &&
		strcmp(reset, "latest") != 0 && strcmp(reset, "none") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid auto_offset_reset \"%s\"", reset),
				 errhint("Valid values are \"earliest\", \"latest\" and \"none\".")));

	args[0] = Int32GetDatum(topic->topic_id);
	args[1] = CStringGetTextDatum(group);
	args[2] = CStringGetTextDatum(member);
	args[3] = IntervalPGetDatum(timeout);
	args[4] = strategy ? CStringGetTextDatum(strategy) : (Datum) 0;
	nulls[4] = strategy ? ' ' : 'n';
	args[5] = reset ? CStringGetTextDatum(reset) : (Datum) 0;
	nulls[5] = reset ? ' ' : 'n';

	topic_admin_begin(&admin);
	if (SPI_execute_with_args("SELECT member_id, member, generation, partitions "
							  "FROM topics._join($1, $2, $3, $4, $5, $6)",
							  6, argtypes, args, nulls, false, 1) != SPI_OK_SELECT ||
		SPI_processed != 1)
		elog(ERROR, "could not join consumer group \"%s\"", group);
	tup = SPI_tuptable->vals[0];
	member_id = DatumGetInt32(SPI_getbinval(tup, SPI_tuptable->tupdesc, 1, &isnull));
	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	values[0] = SPI_getbinval(tup, SPI_tuptable->tupdesc, 2, &isnull);
	values[1] = SPI_getbinval(tup, SPI_tuptable->tupdesc, 3, &isnull);
	values[2] = SPI_getbinval(tup, SPI_tuptable->tupdesc, 4, &isnull);
	tup = heap_form_tuple(BlessTupleDesc(desc), values, rnulls);
	topic_admin_end(&admin);

	member_touch(member_id);
	PG_RETURN_DATUM(HeapTupleGetDatum(tup));
}

/*
 * remove_members removes members (by id, int4 datums) from their groups,
 * rebalancing each group, and forgets their heartbeats.  Caller is
 * connected to SPI.
 */
static void
remove_members(Datum *member_ids, int n)
{
	Oid			argtypes[1] = {INT4ARRAYOID};
	Datum		args[1];
	int			i;

	args[0] = PointerGetDatum(construct_array(member_ids, n, INT4OID, 4, true,
											  TYPALIGN_INT));
	if (SPI_execute_with_args("SELECT topics._leave($1)", 1, argtypes, args,
							  NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not remove consumer group members");
	for (i = 0; i < n; i++)
		member_forget(DatumGetInt32(member_ids[i]));
}

/*
 * topics.leave(group, topic, member) removes a member and rebalances its
 * group.  Returns false when it was not a member.
 */
Datum
pg_topics_leave(PG_FUNCTION_ARGS)
{
	char	   *group = text_arg(fcinfo, 0, "group name");
	Topic	   *topic = open_for_group(fcinfo);
	char	   *member = text_arg(fcinfo, 2, "member name");
	GroupMember gm;
	TopicAdmin	admin;
	Datum		member_id;

	PreventCommandIfReadOnly("topics.leave()");
	group_find(topic, group, member, true, &gm);
	if (gm.member_id == 0)
		PG_RETURN_BOOL(false);

	member_id = Int32GetDatum(gm.member_id);
	topic_admin_begin(&admin);
	remove_members(&member_id, 1);
	topic_admin_end(&admin);
	PG_RETURN_BOOL(true);
}

/*
 * topics.heartbeat(group, topic, member) keeps a member alive and returns
 * the group's generation and whether the member must join again.
 */
Datum
pg_topics_heartbeat(PG_FUNCTION_ARGS)
{
	char	   *group = text_arg(fcinfo, 0, "group name");
	Topic	   *topic = open_for_group(fcinfo);
	char	   *member = text_arg(fcinfo, 2, "member name");
	GroupMember gm;
	TupleDesc	desc;
	Datum		values[2];
	bool		nulls[2] = {false, false};

	group_find(topic, group, member, false, &gm);
	member_touch(gm.member_id);

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	values[0] = Int32GetDatum(gm.generation);
	values[1] = BoolGetDatum(gm.member_generation != gm.generation);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(desc),
													  values, nulls)));
}

/*
 * check_offset raises 22023 unless offset lies in a partition's log.
 */
static void
check_offset(Topic *topic, int partition, int64 offset)
{
	PartitionSnapshot look;

	partition_look(topic_partition_state(topic, partition), &look);
	if (offset < 0 || offset > look.log_end)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("offset %lld is outside partition %d of topic \"%s\"",
						(long long) offset, partition, topic->name),
				 errdetail("The partition's offsets end at %lld.",
						   (long long) look.log_end)));
}

/*
 * set_position locks a partition's position row and makes offset the
 * group's position there once the caller's transaction commits.
 */
static void
set_position(GroupMember *gm, int partition, int64 offset)
{
	ItemPointerData tid;
	int64		written;
	int64		committed = group_claim_position(gm->group_id, partition,
												 NULL, NULL, &written, &tid);

	position_register(gm->group_id, partition, committed, committed, &tid);
	position_set(gm->group_id, partition, offset);
}

/*
 * topics.commit(group, topic, partition, offset, member) sets the group's
 * position in a partition (the next offset to read), in the caller's
 * transaction.  With a member, it must be current and own the partition.
 */
Datum
pg_topics_commit(PG_FUNCTION_ARGS)
{
	char	   *group = text_arg(fcinfo, 0, "group name");
	Topic	   *topic = open_for_group(fcinfo);
	int32		partition;
	int64		offset;
	GroupMember gm;

	PreventCommandIfReadOnly("topics.commit()");
	if (PG_ARGISNULL(2) || PG_ARGISNULL(3))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("partition and offset must not be null")));
	partition = PG_GETARG_INT32(2);
	offset = PG_GETARG_INT64(3);
	topic_check_partition(topic, partition);

	if (!PG_ARGISNULL(4))
	{
		char	   *member = text_to_cstring(PG_GETARG_TEXT_PP(4));
		int			i;
		bool		owns = false;

		group_check_member(topic, group, member, &gm);
		for (i = 0; i < gm.nassigned; i++)
			owns |= (gm.assigned[i] == partition);
		if (!owns)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("member \"%s\" does not own partition %d of topic \"%s\"",
							member, partition, topic->name),
					 errhint("Commit only the partitions topics.join() assigned to the member.")));
	}
	else
		group_find(topic, group, NULL, false, &gm);
	check_offset(topic, partition, offset);
	set_position(&gm, partition, offset);
	PG_RETURN_VOID();
}

/*
 * seek_common moves a group's position in a partition to offset.
 */
static int64
seek_common(FunctionCallInfo fcinfo, Topic *topic, const char *group,
			int32 partition, int64 offset)
{
	GroupMember gm;

	group_find(topic, group, NULL, false, &gm);
	check_offset(topic, partition, offset);
	set_position(&gm, partition, offset);
	return offset;
}

/*
 * topics.seek(group, topic, partition, offset) moves the group's position.
 */
Datum
pg_topics_seek(PG_FUNCTION_ARGS)
{
	char	   *group = text_arg(fcinfo, 0, "group name");
	Topic	   *topic = open_for_group(fcinfo);

	PreventCommandIfReadOnly("topics.seek()");
	if (PG_ARGISNULL(2) || PG_ARGISNULL(3))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("partition and offset must not be null")));
	topic_check_partition(topic, PG_GETARG_INT32(2));
	PG_RETURN_INT64(seek_common(fcinfo, topic, group, PG_GETARG_INT32(2),
								PG_GETARG_INT64(3)));
}

/*
 * topics.seek(group, topic, partition, ts) moves the group's position to the
 * earliest message at or after ts, or to the log end when there is none.
 */
Datum
pg_topics_seek_time(PG_FUNCTION_ARGS)
{
	char	   *group = text_arg(fcinfo, 0, "group name");
	Topic	   *topic = open_for_group(fcinfo);
	int32		partition;
	int64		offset;

	PreventCommandIfReadOnly("topics.seek()");
	if (PG_ARGISNULL(2) || PG_ARGISNULL(3))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("partition and timestamp must not be null")));
	partition = PG_GETARG_INT32(2);
	topic_check_partition(topic, partition);
	if (!fetch_offset_for_time(topic, partition, PG_GETARG_TIMESTAMPTZ(3),
							   &offset))
	{
		PartitionSnapshot look;

		partition_look(topic_partition_state(topic, partition), &look);
		offset = look.lso;
	}
	PG_RETURN_INT64(seek_common(fcinfo, topic, group, partition, offset));
}

/*
 * topics._expire_members() removes the members of this database's groups
 * that were silent for longer than their session timeout, rebalancing
 * their groups, and returns how many it removed.  Run by the worker.
 */
Datum
pg_topics__expire_members(PG_FUNCTION_ARGS)
{
	TimestampTz now = GetCurrentTimestamp();
	Datum	   *expired;
	int			nexpired = 0;
	uint64		i;

	pg_topics_check_loaded();
	SPI_connect();
	if (SPI_execute("SELECT member_id, (pg_catalog.date_part('epoch', session_timeout) "
					"OPERATOR(pg_catalog.*) 1000)::pg_catalog.int8 "
					"FROM topics.group_member", true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not list consumer group members");
	expired = palloc(sizeof(Datum) * Max(SPI_processed, 1));
	for (i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		int32		member_id = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[i],
															SPI_tuptable->tupdesc,
															1, &isnull));
		int64		timeout_ms = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i],
															 SPI_tuptable->tupdesc,
															 2, &isnull));

		if (TimestampDifferenceExceeds(member_last_seen(member_id), now,
									   (int) Min(timeout_ms, INT_MAX)))
			expired[nexpired++] = Int32GetDatum(member_id);
	}
	if (nexpired > 0)
	{
		remove_members(expired, nexpired);
		for (i = 0; i < nexpired; i++)
			ereport(LOG,
					(errmsg("expired consumer group member %d after its session timeout",
							DatumGetInt32(expired[i]))));
	}
	SPI_finish();
	PG_RETURN_INT32(nexpired);
}

/*
 * topics._last_seen(member_id) returns when a member was last seen by this
 * server, or NULL when not since it started.
 */
Datum
pg_topics__last_seen(PG_FUNCTION_ARGS)
{
	TimestampTz ts;

	pg_topics_check_loaded();
	ts = member_seen_at(PG_GETARG_INT32(0));
	if (ts == 0)
		PG_RETURN_NULL();
	PG_RETURN_TIMESTAMPTZ(ts);
}

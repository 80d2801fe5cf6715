/*-------------------------------------------------------------------------
 *
 * group_funcs.c
 *	  SQL-callable functions of consumer groups: join, leave, heartbeat,
 *	  commit and seek, and the worker's expiry of silent members.
 *
 * Every call needs SELECT on the topic's root table and the privileges of
 * the group's owner (group.c); join creates a group owned by the caller.
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
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "args.h"
#include "groups/group.h"
#include "groups/heartbeat.h"
#include "groups/join_window.h"
#include "groups/positions.h"
#include "log/fetch.h"
#include "log/topic_tables.h"
#include "position_commit.h"
#include "preload.h"

PG_FUNCTION_INFO_V1(pg_topics_join);
PG_FUNCTION_INFO_V1(pg_topics_leave);
PG_FUNCTION_INFO_V1(pg_topics_heartbeat);
PG_FUNCTION_INFO_V1(pg_topics_commit);
PG_FUNCTION_INFO_V1(pg_topics_seek);
PG_FUNCTION_INFO_V1(pg_topics_seek_time);
PG_FUNCTION_INFO_V1(pg_topics__expire_members);
PG_FUNCTION_INFO_V1(pg_topics__last_seen);
PG_FUNCTION_INFO_V1(pg_topics__last_seen_0_2);

/* Longest member name, and session timeouts allowed (as Kafka's broker). */
#define MEMBER_NAME_MAXLEN		255
#define SESSION_TIMEOUT_MIN_MS	100
#define SESSION_TIMEOUT_MAX_MS	(3600 * 1000)

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
	group_check_topic(topic);
	return topic;
}

/*
 * check_name raises 42602 for an empty group or member name, and 42622 for
 * one longer than MEMBER_NAME_MAXLEN bytes.
 */
static void
check_name(const char *name, const char *what)
{
	if (*name == '\0' || strlen(name) > MEMBER_NAME_MAXLEN)
		ereport(ERROR,
				(errcode(*name == '\0' ? ERRCODE_INVALID_NAME :
						 ERRCODE_NAME_TOO_LONG),
				 errmsg("invalid %s name \"%s\"", what, name),
				 errdetail("A %s name has from 1 to %d bytes.", what,
						   MEMBER_NAME_MAXLEN)));
}

/*
 * rethrow_without_context rethrows the error being handled without its
 * context, which would only tell the caller about pg_topics's insides (the
 * SQL functions it calls); cxt is the caller's memory context.
 */
static void rethrow_without_context(MemoryContext cxt) pg_attribute_noreturn();

static void
rethrow_without_context(MemoryContext cxt)
{
	ErrorData  *edata;

	MemoryContextSwitchTo(cxt);
	edata = CopyErrorData();
	FlushErrorState();
	edata->context = NULL;
	ReThrowError(edata);
}

/*
 * call_join runs topics_internal._join and returns its row.  An error of
 * the PL/pgSQL function is raised again without the function's context,
 * which would only tell the caller about pg_topics's insides.  Caller is
 * connected to SPI as the owner of schema topics_data.
 */
static HeapTuple
call_join(Datum *args, char *nulls)
{
	Oid			argtypes[7] = {TEXTOID, TEXTOID, TEXTOID, INTERVALOID,
	TEXTOID, TEXTOID, OIDOID};
	MemoryContext cxt = CurrentMemoryContext;
	HeapTuple	tup = NULL;

	PG_TRY();
	{
		if (SPI_execute_with_args("SELECT member, generation, partitions "
								  "FROM topics_internal._join($1, $2, $3, $4, $5, $6, "
								  "$7::pg_catalog.regrole)",
								  7, argtypes, args, nulls, false, 1) != SPI_OK_SELECT ||
			SPI_processed != 1)
			elog(ERROR, "could not join a consumer group");
		tup = SPI_tuptable->vals[0];
	}
	PG_CATCH();
	{
		rethrow_without_context(cxt);
	}
	PG_END_TRY();
	return tup;
}

/*
 * The new members that joined through a window in this transaction, in
 * TopTransactionContext, each with the subtransaction it joined in:
 * another member of the window may have added them in its own
 * transaction, which this one's rollback (or that of the savepoint) does
 * not undo, so their heartbeats are made old at the rollback and the
 * worker expires them at its next round, not after their session timeout.
 */
typedef struct WindowJoin
{
	uint64		key;
	SubTransactionId subid;
	JoinSeat	seat;			/* the window it joined in */
} WindowJoin;

static List *window_joins = NIL;
static bool window_callback_registered = false;

static void
window_joins_end(XactEvent event, void *arg)
{
	ListCell   *lc;

	if (event == XACT_EVENT_ABORT)
	{
		foreach(lc, window_joins)
		{
			WindowJoin *wj = lfirst(lc);

			member_seen_long_ago(wj->key, &wj->seat);
		}
	}
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT ||
		event == XACT_EVENT_PREPARE)
		window_joins = NIL;
}

static void
window_joins_end_sub(SubXactEvent event, SubTransactionId mySubid,
					 SubTransactionId parentSubid, void *arg)
{
	ListCell   *lc;

	foreach(lc, window_joins)
	{
		WindowJoin *wj = lfirst(lc);

		if (wj->subid != mySubid)
			continue;
		if (event == SUBXACT_EVENT_COMMIT_SUB)
			wj->subid = parentSubid;
		else if (event == SUBXACT_EVENT_ABORT_SUB)
		{
			member_seen_long_ago(wj->key, &wj->seat);
			window_joins = foreach_delete_current(window_joins, lc);
		}
	}
}

/*
 * remember_window_join notes a member that joined through a window.
 */
static void
remember_window_join(uint64 key, JoinSeat *seat)
{
	MemoryContext old = MemoryContextSwitchTo(TopTransactionContext);
	WindowJoin *wj = palloc(sizeof(WindowJoin));

	if (!window_callback_registered)
	{
		RegisterXactCallback(window_joins_end, NULL);
		RegisterSubXactCallback(window_joins_end_sub, NULL);
		window_callback_registered = true;
	}
	wj->key = key;
	wj->subid = GetCurrentSubTransactionId();
	wj->seat = *seat;
	window_joins = lappend(window_joins, wj);
	MemoryContextSwitchTo(old);
}

/*
 * call_join_members adds the members of a join window (join_window.c)
 * and their session timeouts to a group, in one rebalance.  Caller is
 * connected to SPI as the owner of schema topics_data.
 */
static void
call_join_members(const char *topic, const char *group, char **members,
				  int64 *timeouts_ms, int n, Datum *args, char *nulls)
{
	Oid			argtypes[7] = {TEXTOID, TEXTOID, TEXTARRAYOID, INTERVALARRAYOID,
	TEXTOID, TEXTOID, OIDOID};
	Datum		jargs[7];
	char		jnulls[7];
	Datum	   *names = palloc(sizeof(Datum) * n);
	Datum	   *timeouts = palloc(sizeof(Datum) * n);
	MemoryContext cxt = CurrentMemoryContext;
	int			i;

	for (i = 0; i < n; i++)
	{
		Interval   *iv = palloc0(sizeof(Interval));

		iv->time = timeouts_ms[i] * 1000;
		names[i] = CStringGetTextDatum(members[i]);
		timeouts[i] = IntervalPGetDatum(iv);
	}
	jargs[0] = args[0];
	jargs[1] = args[1];
	jargs[2] = PointerGetDatum(construct_array(names, n, TEXTOID, -1, false,
											   TYPALIGN_INT));
	jargs[3] = PointerGetDatum(construct_array(timeouts, n, INTERVALOID,
											   sizeof(Interval), false,
											   TYPALIGN_DOUBLE));
	jargs[4] = args[4];
	jargs[5] = args[5];
	jargs[6] = args[6];
	memset(jnulls, ' ', sizeof(jnulls));
	jnulls[4] = nulls[4];
	jnulls[5] = nulls[5];
	PG_TRY();
	{
		if (SPI_execute_with_args("SELECT topics_internal._join_members($1, $2, $3, $4, $5, $6, "
								  "$7::pg_catalog.regrole)",
								  7, argtypes, jargs, jnulls, false, 1) != SPI_OK_SELECT)
			elog(ERROR, "could not add the members that joined consumer group \"%s\" of topic \"%s\" together",
				 group, topic);
	}
	PG_CATCH();
	{
		rethrow_without_context(cxt);
	}
	PG_END_TRY();
}

/* A member of this database, as the expiry sees it. */
typedef struct ExpiryMember
{
	char	   *topic;
	char	   *group;
	char	   *member;
	int64		timeout_ms;
} ExpiryMember;

/*
 * list_members returns the members of this database's groups, group by
 * group, and drops the heartbeats of members that are gone (their group
 * or topic was dropped).  Caller is connected to SPI as the owner of
 * schema topics_data; the result lives in the SPI procedure's memory.
 */
static ExpiryMember *
list_members(uint64 *n)
{
	ExpiryMember *members;
	uint64	   *keys;
	uint64		i;

	if (SPI_execute("SELECT topic, group_name, member, "
					"(pg_catalog.date_part('epoch', session_timeout) "
					"OPERATOR(pg_catalog.*) 1000)::pg_catalog.int8 "
					"FROM topics.group_member ORDER BY topic, group_name",
					true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not list consumer group members");
	*n = SPI_processed;
	members = palloc(sizeof(ExpiryMember) * Max(*n, 1));
	keys = palloc(sizeof(uint64) * Max(*n, 1));
	for (i = 0; i < *n; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;

		members[i].topic = SPI_getvalue(tup, desc, 1);
		members[i].group = SPI_getvalue(tup, desc, 2);
		members[i].member = SPI_getvalue(tup, desc, 3);
		members[i].timeout_ms = DatumGetInt64(SPI_getbinval(tup, desc, 4, &isnull));
		keys[i] = member_key(members[i].topic, members[i].group,
							 members[i].member);
	}
	heartbeat_retain(keys, (int) *n);
	return members;
}

/*
 * reserve_heartbeat gives a joining member a heartbeat entry.  When the
 * table is full, the entries of members that are gone make room first.
 */
static void
reserve_heartbeat(uint64 key)
{
	AsOwner		admin;
	uint64		n;

	if (heartbeat_try_reserve(key))
		return;
	as_owner_begin(&admin);
	(void) list_members(&n);
	as_owner_end(&admin);
	heartbeat_reserve(key);
}

/*
 * topics.join(group, topic, member, session_timeout, strategy,
 * auto_offset_reset) adds a member to a group, creating the group (owned
 * by the caller), or re-syncs a known member after a rebalance.  Returns
 * the member's name, the generation and the member's partitions.
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
	GroupMember gm;
	AsOwner		admin;
	Datum		args[7];
	char		nulls[7] = {' ', ' ', ' ', ' ', ' ', ' ', ' '};
	TupleDesc	desc;
	HeapTuple	tup;
	Datum		values[3];
	bool		rnulls[3] = {false, false, false};
	bool		isnull;
	MemoryContext cxt = CurrentMemoryContext;
	MemoryContext old;
	bool		existed;
	bool		known;
	JoinSeat	seat;

	PreventCommandIfReadOnly("topics.join()");
	check_name(group, "consumer group");
	if (PG_ARGISNULL(2))
	{
		char		buf[64];

		snprintf(buf, sizeof(buf), "member-%d-" INT64_FORMAT, MyProcPid,
				 (int64) GetCurrentTimestamp());
		member = pstrdup(buf);
	}
	else
		member = text_to_cstring(PG_GETARG_TEXT_PP(2));
	check_name(member, "member");
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

	/* an existing group: the caller may use it, with its strategy */
	existed = group_lookup(topic, group, member, &gm);
	known = existed && gm.is_member;
	if (existed)
	{
		group_find(topic, group, NULL, false, &gm);
		if (strategy && strcmp(strategy, gm.strategy) != 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("consumer group \"%s\" uses assignment strategy \"%s\"",
							group, gm.strategy),
					 errdetail("The member asked for \"%s\"; all members of a group use one strategy.",
							   strategy),
					 errhint("Join with the group's strategy, or use another group name.")));
	}
	reserve_heartbeat(member_key(topic->name, group, member));

	args[0] = CStringGetTextDatum(topic->name);
	args[1] = CStringGetTextDatum(group);
	args[2] = CStringGetTextDatum(member);
	args[3] = IntervalPGetDatum(timeout);
	args[4] = strategy ? CStringGetTextDatum(strategy) : (Datum) 0;
	nulls[4] = strategy ? ' ' : 'n';
	args[5] = reset ? CStringGetTextDatum(reset) : (Datum) 0;
	nulls[5] = reset ? ' ' : 'n';
	args[6] = ObjectIdGetDatum(GetUserId());

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");

	/*
	 * A new member waits for the others that join with it, and they are all
	 * added in one rebalance; then its own join finds it a member.
	 */
	if (!known &&
		join_window_enter(topic->name, group, member, timeout_ms,
						  join_window_options(strategy, reset), &seat))
	{
		char	  **members;
		int64	   *timeouts_ms;
		int			n;

		GroupMember now;

		remember_window_join(member_key(topic->name, group, member), &seat);
		join_window_wait(&seat);
		n = join_window_members(&seat, &members, &timeouts_ms);
		while (n > 0)
		{
			if (join_window_claim(&seat))
			{
				as_owner_begin(&admin);
				call_join_members(topic->name, group, members, timeouts_ms, n,
								  args, nulls);
				as_owner_end(&admin);
				break;
			}
			/* another one added them, unless its transaction rolled back */
			if (group_lookup(topic, group, member, &now) && now.is_member)
				break;
		}
	}

	as_owner_begin(&admin);
	tup = call_join(args, nulls);
	values[0] = SPI_getbinval(tup, SPI_tuptable->tupdesc, 1, &isnull);
	values[1] = SPI_getbinval(tup, SPI_tuptable->tupdesc, 2, &isnull);
	values[2] = SPI_getbinval(tup, SPI_tuptable->tupdesc, 3, &isnull);
	/* a new member rebalanced the group: its waiting polls look again */
	if (!existed || DatumGetInt32(values[1]) != gm.generation)
		partition_rebalanced_at_commit(topic->name);
	/* the result outlives SPI's memory, which goes at as_owner_end */
	old = MemoryContextSwitchTo(cxt);
	tup = heap_form_tuple(BlessTupleDesc(desc), values, rnulls);
	MemoryContextSwitchTo(old);
	as_owner_end(&admin);

	PG_RETURN_DATUM(HeapTupleGetDatum(tup));
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
	AsOwner		admin;

	PreventCommandIfReadOnly("topics.leave()");
	group_find(topic, group, member, true, &gm);
	if (!gm.is_member)
		PG_RETURN_BOOL(false);

	as_owner_begin(&admin);
	group_remove_members(topic->name, group, list_make1(member));
	as_owner_end(&admin);
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
	member_touch(member_key(topic->name, group, member));

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	values[0] = Int32GetDatum(gm.generation);
	values[1] = BoolGetDatum(gm.member_generation != gm.generation);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(desc),
													  values, nulls)));
}

/*
 * check_offset raises 22023 unless offset lies between the start of a
 * partition's log and its last stable offset: a position beyond the LSO
 * would skip the messages of producers still open.
 */
static void
check_offset(Topic *topic, int partition, int64 offset)
{
	PartitionBounds bounds;

	topic_bounds(topic, partition, &bounds);
	if (offset < 0 || offset > bounds.lso)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("offset %lld is outside partition %d of topic \"%s\"",
						(long long) offset, partition, topic->name),
				 errdetail("A position lies between 0 and the partition's last stable offset, %lld.",
						   (long long) bounds.lso),
				 errhint("Offsets at or above the last stable offset belong to transactions still open, or are not produced yet.")));
}

/*
 * set_position locks a partition's position row and makes offset the
 * group's position there once the caller's transaction commits.
 */
static void
set_position(Topic *topic, GroupMember *gm, int partition, int64 offset)
{
	LedgerGroup *lg = positions_group(topic->name, gm->group);
	ItemPointerData tid;
	int64		written;
	int64		committed = group_claim_position(topic->name, gm->group,
												 partition, NULL, NULL, NULL,
												 &written, &tid);

	position_register(lg, partition, committed, committed, &tid);
	position_set(lg, partition, offset);
	position_commit_moved(committed, offset);
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
	set_position(topic, &gm, partition, offset);
	PG_RETURN_VOID();
}

/*
 * seek_common moves a group's position in a partition to offset.
 */
static int64
seek_common(Topic *topic, const char *group, int32 partition, int64 offset)
{
	GroupMember gm;

	group_find(topic, group, NULL, false, &gm);
	check_offset(topic, partition, offset);
	set_position(topic, &gm, partition, offset);
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
	PG_RETURN_INT64(seek_common(topic, group, PG_GETARG_INT32(2),
								PG_GETARG_INT64(3)));
}

/*
 * topics.seek(group, topic, partition, ts) moves the group's position to the
 * earliest message at or after ts, or to the LSO when there is none.
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
		PartitionBounds bounds;

		topic_bounds(topic, partition, &bounds);
		offset = bounds.lso;
	}
	PG_RETURN_INT64(seek_common(topic, group, partition, offset));
}

/*
 * topics_internal._expire_members() removes the members of this
 * database's groups that were silent for longer than their session
 * timeout, rebalancing their groups, forgets the heartbeats of members
 * that are gone, and returns how many it removed.  Run by the worker.
 */
Datum
pg_topics__expire_members(PG_FUNCTION_ARGS)
{
	TimestampTz now = GetCurrentTimestamp();
	ExpiryMember *members;
	uint64		n;
	uint64		i;
	int			nexpired = 0;
	List	   *expired = NIL;
	AsOwner		admin;

	pg_topics_check_loaded();
	as_owner_begin(&admin);
	members = list_members(&n);

	/* members come group by group: remove each group's expired together */
	for (i = 0; i < n; i++)
	{
		ExpiryMember *m = &members[i];
		TimestampTz seen = member_last_seen(member_key(m->topic, m->group,
													   m->member));

		if (seen == 0 ||
			TimestampDifferenceExceeds(seen, now, (int) Min(m->timeout_ms, INT_MAX)))
		{
			expired = lappend(expired, m->member);
			nexpired++;
			ereport(LOG,
					(errmsg("expired member \"%s\" of consumer group \"%s\" of topic \"%s\" after its session timeout",
							m->member, m->group, m->topic)));
		}
		if (expired != NIL &&
			(i + 1 == n || strcmp(members[i + 1].topic, m->topic) != 0 ||
			 strcmp(members[i + 1].group, m->group) != 0))
		{
			group_remove_members(m->topic, m->group, expired);
			expired = NIL;
		}
	}
	as_owner_end(&admin);
	PG_RETURN_INT32(nexpired);
}

/*
 * topics_internal._last_seen(topic, group, member) returns when a member
 * was last seen by this server, or NULL when not since it started.  Only
 * to a role that may use the group, as topics.group_members shows.
 */
Datum
pg_topics__last_seen_0_2(PG_FUNCTION_ARGS)
{
	Topic	   *topic;
	char	   *group;
	GroupMember gm;
	TimestampTz ts;

	pg_topics_check_loaded();
	topic = topic_open(topic_name_from_text(PG_GETARG_TEXT_PP(0)),
					   AccessShareLock);
	topic_check_privilege(topic, ACL_SELECT);
	group = text_to_cstring(PG_GETARG_TEXT_PP(1));
	group_find(topic, group, NULL, true, &gm);
	ts = member_seen_at(member_key(topic->name, group,
								   text_to_cstring(PG_GETARG_TEXT_PP(2))));
	if (ts == 0)
		PG_RETURN_NULL();
	PG_RETURN_TIMESTAMPTZ(ts);
}

/*
 * pg_topics__last_seen is the C symbol of topics._last_seen(member_id) in
 * version 0.1 of the SQL objects, which this library no longer reads.
 */
Datum
pg_topics__last_seen(PG_FUNCTION_ARGS)
{
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("the SQL objects of extension pg_topics are older than its library"),
			 errhint("Run ALTER EXTENSION pg_topics UPDATE.")));
	PG_RETURN_NULL();
}

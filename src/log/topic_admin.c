/*-------------------------------------------------------------------------
 *
 * topic_admin.c
 *	  Creating, dropping and growing topics.
 *
 * These are admin calls, so they use SPI.  EXECUTE on topics.create_topic
 * is the privilege to create a topic; the caller becomes its owner, and
 * only a role with the owner's privileges may drop it or add partitions.
 * The work runs as the owner of schema topics_data (as_owner_begin), which
 * owns every
 * topic's tables and alone may write the catalog: a topic's owner cannot
 * change the shape of its tables, only hand on SELECT (to read) and INSERT
 * (to produce), which it holds WITH GRANT OPTION on the root table.
 * Every name that reaches SQL text is quoted; every value is a parameter.
 *
 * Tables are added with CREATE TABLE then ATTACH PARTITION, never CREATE
 * TABLE ... PARTITION OF a parent that other transactions use: ATTACH
 * takes only SHARE UPDATE EXCLUSIVE on the parent, so adding a partition
 * does not wait for (nor stop) the topic's producers and readers.  (A new
 * partition's first segment is made PARTITION OF the partition's table,
 * new in the same transaction.)
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/twophase.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/partition.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_type.h"
#include "commands/comment.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "storage/lock.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/syscache.h"

#include "guc.h"
#include "log/partition.h"
#include "log/segment.h"
#include "log/topic.h"
#include "log/topic_admin.h"
#include "log/topic_config.h"
#include "log/topic_tables.h"
#include "relids.h"

/*
 * Partitions of a topic are attached to groups (LIST partitioned tables
 * under the root) of this many: attaching a table costs PostgreSQL time in
 * proportion to the tables its parent holds, so that creating a topic of
 * thousands of partitions takes time in proportion to their number.
 */
#define PARTITIONS_PER_GROUP	64

/*
 * Locks one transaction takes to make a partition (measured: 9.0 when
 * create_topic makes them, one more when the segment maker does: its
 * table, its first segment with its TOAST table, their indexes and types,
 * and the parents they are attached to; 15 is a margin), to drop one of
 * a single segment (12.4, made before 0.3 with an index of its own), and
 * to drop each further segment.
 */
#define LOCKS_PER_NEW_PARTITION		15

#define LOCKS_PER_PARTITION_DROPPED	13
#define LOCKS_PER_SEGMENT_DROPPED	7

/* Tables the maker drops in one transaction, for a topic too wide to drop in one. */
#define TABLES_DROPPED_PER_TRANSACTION	64

/* the queue layer's hooks (topic_set_queue_hooks) */
static const QueueTopicHooks *queue_hooks = NULL;

/*
 * topic_check_config raises 22023 unless config is an object of known
 * settings with valid values for a topic of that mode and name (the
 * queue layer checks a queue's own settings).
 */
void
topic_check_config(Jsonb *config, const char *mode, const char *name)
{
	TopicConfig cfg;
	TopicMode	m = topic_mode_from_name(mode);

	topic_config_parse(config, m, &cfg);
	/* the server's limit is a superuser's: a topic may only lower it */
	if (cfg.max_message_bytes > pg_topics_max_message_bytes)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("topic setting \"max.message.bytes\" must be at most %d",
						pg_topics_max_message_bytes),
				 errdetail("A topic may lower the server's limit, not raise it."),
				 errhint("A superuser can raise \"pg_topics.max_message_bytes\".")));
	if (m == TOPIC_MODE_QUEUE && queue_hooks != NULL)
		queue_hooks->check_config(name, config);
}

static List *topic_orphans(const char *name);

/*
 * topic_set_queue_hooks installs the queue layer's hooks; called from
 * _PG_init.
 */
void
topic_set_queue_hooks(const QueueTopicHooks *hooks)
{
	queue_hooks = hooks;
}

/*
 * Partitions the transaction made_by made, for its share of the locks, by
 * subtransaction: a savepoint rolled back gives back the locks of the
 * partitions it made, and so its share (made_in lives in
 * TopTransactionContext, and counts only while made_by runs).
 */
typedef struct MadeIn
{
	SubTransactionId subid;
	int			count;
} MadeIn;

static TransactionId made_by = InvalidTransactionId;
static List *made_in = NIL;
static bool made_callback_registered = false;

static void
made_end_sub(SubXactEvent event, SubTransactionId mySubid,
			 SubTransactionId parentSubid, void *arg)
{
	ListCell   *lc;

	if (made_in == NIL || !TransactionIdEquals(made_by, GetTopTransactionIdIfAny()))
		return;
	foreach(lc, made_in)
	{
		MadeIn	   *m = lfirst(lc);

		if (m->subid != mySubid)
			continue;
		if (event == SUBXACT_EVENT_ABORT_SUB)
			made_in = foreach_delete_current(made_in, lc);
		else if (event == SUBXACT_EVENT_COMMIT_SUB)
			m->subid = parentSubid;
	}
}

/*
 * made_here returns how many partitions the current transaction made.
 */
static int
made_here(void)
{
	ListCell   *lc;
	int			n = 0;

	if (!TransactionIdEquals(made_by, GetTopTransactionId()))
	{
		made_by = GetTopTransactionId();
		made_in = NIL;
	}
	foreach(lc, made_in)
		n += ((MadeIn *) lfirst(lc))->count;
	return n;
}

/*
 * made_add counts n partitions made by the current subtransaction.
 */
static void
made_add(int n)
{
	MemoryContext old;
	MadeIn	   *m;

	(void) made_here();
	if (!made_callback_registered)
	{
		RegisterSubXactCallback(made_end_sub, NULL);
		made_callback_registered = true;
	}
	old = MemoryContextSwitchTo(TopTransactionContext);
	m = palloc(sizeof(MadeIn));
	m->subid = GetCurrentSubTransactionId();
	m->count = n;
	made_in = lappend(made_in, m);
	MemoryContextSwitchTo(old);
}

/*
 * made_budget returns how many partitions one transaction makes at most.
 */
static int
made_budget(void)
{
	return (int) Max(1, topic_tables_lock_share() / LOCKS_PER_NEW_PARTITION);
}

/*
 * topic_partitions_per_transaction returns how many partitions one
 * transaction makes at most: create_topic and add_partitions make as many
 * and leave the rest to the segment maker (topic_make_partitions).
 */
int
topic_partitions_per_transaction(void)
{
	return (int) Max(1, Min(PARTITIONS_PER_GROUP,
							topic_tables_lock_share() / LOCKS_PER_NEW_PARTITION));
}

/*
 * topic_make_range_width returns how wide the ranges are, in whole groups,
 * into which the segment maker splits the partitions [0, partitions) of a
 * topic, for as many makers to make them in parallel.
 */
int
topic_make_range_width(int partitions, int ranges)
{
	int			groups = (partitions + PARTITIONS_PER_GROUP - 1) / PARTITIONS_PER_GROUP;

	return Max(1, (groups + ranges - 1) / Max(1, ranges)) * PARTITIONS_PER_GROUP;
}

/*
 * parent_made returns the table a new partition p of a topic is attached
 * to, when it is there: the group of PARTITIONS_PER_GROUP partitions it
 * falls in, or the root for the partitions that a topic made by 0.2 had
 * (or got) in a group's range, all under the root: the group's first
 * partition is there without the group.  NULL when the group is to be
 * made.
 */
static char *
parent_made(const char *topic, int p)
{
	int			first = p - p % PARTITIONS_PER_GROUP;
	char	   *group = topic_partition_group_name(topic, first);

	if (OidIsValid(get_relname_relid(group, pgt_data_namespace())))
		return group;
	if (p != first && OidIsValid(topic_table_relid(topic, first, -1)))
		return pstrdup(topic);
	return NULL;
}

/*
 * partition_parent returns the table a new partition p of a topic is
 * attached to (see parent_made), and makes its group when it is missing;
 * sets *made (unless NULL) to whether it did.  Partitions are made in any
 * order (a producer may need one before the others), by several
 * transactions at once: a lock on the group, of our own class, keeps two
 * from making it both.
 */
static char *
partition_parent(const char *topic, int p, bool *made)
{
	int			first = p - p % PARTITIONS_PER_GROUP;
	char	   *group = topic_partition_group_name(topic, first);
	char	   *parent = parent_made(topic, p);
	StringInfoData values;
	LOCKTAG		tag;
	int			q;

	if (made)
		*made = false;
	if (parent != NULL)
		return parent;
	SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, topic_table_relid(topic, -1, -1),
						 (uint32) first, MAKE_GROUP_LOCK_CLASS);
	(void) LockAcquire(&tag, ExclusiveLock, false, false);
	AcceptInvalidationMessages();
	parent = parent_made(topic, p);
	if (parent != NULL)
		return parent;

	initStringInfo(&values);
	for (q = first; q < first + PARTITIONS_PER_GROUP; q++)
		appendStringInfo(&values, "%s%d", q > first ? ", " : "", q);
	topic_tables_exec(psprintf("CREATE TABLE %s (LIKE %s INCLUDING DEFAULTS) "
							   "PARTITION BY LIST (partition)",
							   quote_qualified_identifier(TOPICS_DATA_SCHEMA, group),
							   quote_qualified_identifier(TOPICS_DATA_SCHEMA, topic)));
	topic_tables_exec(psprintf("ALTER TABLE %s ATTACH PARTITION %s FOR VALUES IN (%s)",
							   quote_qualified_identifier(TOPICS_DATA_SCHEMA, topic),
							   quote_qualified_identifier(TOPICS_DATA_SCHEMA, group),
							   values.data));
	CommandCounterIncrement();
	if (made)
		*made = true;
	return group;
}

/*
 * create_partition adds partition p to a topic: its table, its unique index
 * on msg_offset and its first segment, then attaches it to its parent.
 * Caller wrote its persisted record.
 */
static void
create_partition(const char *topic, int p, int64 first_span)
{
	const char *qname = quote_qualified_identifier(TOPICS_DATA_SCHEMA,
												   topic_table_name(topic, p, -1));
	const char *qroot = quote_qualified_identifier(TOPICS_DATA_SCHEMA, topic);

	topic_tables_exec(psprintf("CREATE TABLE %s (LIKE %s INCLUDING DEFAULTS) "
							   "PARTITION BY RANGE (msg_offset)", qname, qroot));
	segment_create(topic, p, 0, first_span);

	topic_tables_exec(psprintf("ALTER TABLE %s ATTACH PARTITION %s FOR VALUES IN (%d)",
							   quote_qualified_identifier(TOPICS_DATA_SCHEMA,
														  partition_parent(topic, p, NULL)),
							   qname, p));
}

/*
 * create_partitions adds the partitions [from, to) to a topic: their
 * persisted records, then the tables of as many as one transaction may
 * make; returns whether it made them all.  The others are not made yet:
 * the segment maker makes them once the transaction commits, or the
 * transaction itself when it produces to one (topic_make_partitions).
 */
static bool
create_partitions(const char *topic, int from, int to, int64 first_span)
{
	Oid			argtypes[3] = {TEXTOID, INT4OID, INT4OID};
	Datum		args[3];
	int			p;
	int			made;

	/* partition 0 is always made: it keeps the topic's shared state */
	made = Min(to, from + Max(from == 0 ? 1 : 0,
							  Min(topic_partitions_per_transaction(),
								  made_budget() - made_here())));
	made_add(made - from);

	args[0] = CStringGetTextDatum(topic);
	args[1] = Int32GetDatum(from);
	args[2] = Int32GetDatum(to - 1);
	spi_exec_args("INSERT INTO topics.partition (topic, partition) "
				  "SELECT $1, pg_catalog.generate_series($2, $3)",
				  3, argtypes, args, SPI_OK_INSERT);
	spi_exec_args("INSERT INTO topics.high_water (topic, partition) "
				  "SELECT $1, pg_catalog.generate_series($2, $3)",
				  3, argtypes, args, SPI_OK_INSERT);
	if (queue_hooks != NULL)
		queue_hooks->partitions_added(topic, from, to);
	for (p = from; p < made; p++)
		create_partition(topic, p, first_span);

	/*
	 * Attaching a partition to its group invalidates the group, not the root,
	 * which the backends' topic caches watch.
	 */
	CacheInvalidateRelcacheByRelid(topic_table_relid(topic, -1, -1));
	return made == to;
}

/*
 * make_partition makes partition p of a topic, unless it is made already.
 * Makers serve a wide topic in parallel, and a producer may ask for a
 * partition that one of them is about to make: a lock on the partition,
 * of our own class, keeps two transactions from making it both.  With
 * wait it waits for the lock (within the caller's lock_timeout); without,
 * a partition that another transaction makes is left to that one.
 */
static void
make_partition(const char *topic, Oid root, int p, int64 span, bool wait)
{
	LOCKTAG		tag;

	SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, root, (uint32) p,
						 MAKE_PARTITION_LOCK_CLASS);
	if (LockAcquire(&tag, ExclusiveLock, false, !wait) == LOCKACQUIRE_NOT_AVAIL)
		return;

	/* the catalog as the lock's last holder left it */
	AcceptInvalidationMessages();
	if (!OidIsValid(topic_table_relid(topic, p, -1)))
		create_partition(topic, p, span);
}

/*
 * lock_topic_to_make locks a topic whose partitions are to be made, and
 * returns its root, or InvalidOid when it was dropped meanwhile; sets
 * *span to the span of its segments.  The root first, as drop_topic locks
 * it; the topic's row then keeps add_partitions, and a transaction that
 * makes them itself, out.
 */
static Oid
lock_topic_to_make(const char *topic, int64 *span)
{
	Oid			argtypes[1] = {TEXTOID};
	Datum		args[1];
	Oid			root = topic_table_relid(topic, -1, -1);
	bool		isnull;

	if (!OidIsValid(root))
		return InvalidOid;
	LockRelationOid(root, AccessShareLock);
	args[0] = CStringGetTextDatum(topic);
	spi_exec_args("SELECT COALESCE((config OPERATOR(pg_catalog.->>) 'segment.messages')::pg_catalog.int8, 0) "
				  "FROM topics.topic WHERE name OPERATOR(pg_catalog.=) $1 FOR SHARE",
				  1, argtypes, args, SPI_OK_SELECT);
	if (SPI_processed == 0)
		return InvalidOid;
	*span = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
										SPI_tuptable->tupdesc, 1, &isnull));
	if (*span == 0)
		*span = DEFAULT_SEGMENT_MESSAGES;
	return root;
}

/*
 * topic_make_partition makes partition wanted of a topic, unless it is
 * made.  A producer's request to the segment maker ends here, and so does
 * a transaction that created the partition and produces to it.
 */
void
topic_make_partition(const char *topic, int wanted)
{
	AsOwner		admin;
	Oid			root;
	int64		span;

	as_owner_begin(&admin);
	root = lock_topic_to_make(topic, &span);
	if (OidIsValid(root))
	{
		make_partition(topic, root, wanted, span, true);
		CacheInvalidateRelcacheByRelid(root);
		CommandCounterIncrement();
	}
	as_owner_end(&admin);
}

/*
 * topic_make_partitions makes partitions of a topic that are not made yet,
 * those of [*from, to), at most max of them in this transaction, and moves
 * *from past them; returns true once none is left there.  The segment
 * maker calls it, in a transaction of its own, once the transaction that
 * added them committed.
 *
 * The groups those partitions go to are made first, in a transaction of
 * their own (it returns false then, with *from unchanged): attaching a
 * group locks the root against every other attach until the transaction
 * ends, and would make the makers of a wide topic wait for one another.
 * A partition another transaction is making is passed over; should that
 * one fail, the database worker asks again in its next round.
 */
bool
topic_make_partitions(const char *topic, int *from, int to, int max)
{
	Oid			argtypes[4] = {TEXTOID, INT4OID, INT4OID, INT4OID};
	Datum		args[4];
	Oid			root;
	int64		span;
	bool		isnull;
	uint64		i;
	uint64		found;
	int		   *todo;
	bool		grouped = false;
	AsOwner		admin;

	as_owner_begin(&admin);
	root = lock_topic_to_make(topic, &span);
	if (!OidIsValid(root))
	{
		/* the topic was dropped meanwhile */
		as_owner_end(&admin);
		return true;
	}

	args[0] = CStringGetTextDatum(topic);
	args[1] = Int32GetDatum(*from);
	args[2] = Int32GetDatum(to);
	args[3] = Int32GetDatum(max + 1);
	spi_exec_args("SELECT p.partition FROM topics.partition p "
				  "WHERE p.topic OPERATOR(pg_catalog.=) $1 "
				  "AND p.partition OPERATOR(pg_catalog.>=) $2 "
				  "AND p.partition OPERATOR(pg_catalog.<) $3 "
				  "AND NOT EXISTS (SELECT FROM topics.segment s "
				  " WHERE s.topic OPERATOR(pg_catalog.=) $1 "
				  " AND s.partition OPERATOR(pg_catalog.=) p.partition) "
				  "ORDER BY p.partition LIMIT $4",
				  4, argtypes, args, SPI_OK_SELECT);
	found = SPI_processed;
	todo = palloc(sizeof(int) * Max(found, 1));
	for (i = 0; i < found; i++)
		todo[i] = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[i],
											  SPI_tuptable->tupdesc, 1, &isnull));

	for (i = 0; i < found && i < max; i++)
	{
		bool		made;

		(void) partition_parent(topic, todo[i], &made);
		grouped |= made;
	}
	if (!grouped)
	{
		for (i = 0; i < found && i < max; i++)
			make_partition(topic, root, todo[i], span, false);
		*from = found > (uint64) max ? todo[max] : to;
	}
	CacheInvalidateRelcacheByRelid(root);
	CommandCounterIncrement();
	as_owner_end(&admin);
	return !grouped && found <= (uint64) max;
}

/*
 * topic_make_partition_here makes a partition not made yet of a topic
 * that the current transaction created or added partitions to (no segment
 * maker can see it), within the transaction's share of the lock table:
 * 53400 beyond it.
 */
void
topic_make_partition_here(const char *topic, int partition)
{
	if (made_here() >= made_budget())
		ereport(ERROR,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("the transaction that created partition %d of topic \"%s\" cannot make it",
						partition, topic),
				 errdetail("One transaction makes at most %d partitions (a quarter of the lock table); the segment maker makes the others once the transaction that created them commits.",
						   made_budget()),
				 errhint("Produce to that partition after this transaction commits.")));
	topic_make_partition(topic, partition);
	made_add(1);
}

/*
 * topic_create creates a topic owned by the caller, and returns false when
 * some of its partitions are left for the segment maker to make (see
 * create_partitions).  Caller has checked the arguments and runs inside
 * topic_admin_begin.
 */
bool
topic_create(AsOwner *admin, const char *name, int partitions,
			 const char *mode, Jsonb *config)
{
	const char *qroot = quote_qualified_identifier(TOPICS_DATA_SCHEMA, name);
	Oid			argtypes[5] = {TEXTOID, TEXTOID, INT4OID, JSONBOID, OIDOID};
	Datum		args[5];
	int64		span = topic_config_int(config, "segment.messages");
	bool		dropped_here;
	bool		made;
	List	   *orphans;

	if (span == 0)
		span = DEFAULT_SEGMENT_MESSAGES;

	/*
	 * Serialize creations of one name: a second one waits for the first to
	 * end, then finds its root table (the lock brings the catalog caches up
	 * to date), whatever its snapshot.
	 */
	LockDatabaseObject(pgt_relid(PGT_TOPIC),
					   hash_bytes((const unsigned char *) name, strlen(name)),
					   0, ExclusiveLock);
	args[0] = CStringGetTextDatum(name);
	if (SPI_execute_with_args("SELECT 1 FROM topics.topic WHERE name OPERATOR(pg_catalog.=) $1",
							  1, argtypes, args, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not look up topic \"%s\"", name);
	if (SPI_processed > 0 || OidIsValid(topic_table_relid(name, -1, -1)))
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("topic \"%s\" already exists", name),
				 errhint("Choose another name, or drop the topic first with topics.drop_topic().")));
	if (topic_dropping(name, &dropped_here))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_IN_USE),
				 errmsg("topic \"%s\" is still being dropped", name),
				 errdetail("The tables of a wide topic are dropped in the background after topics.drop_topic() commits."),
				 dropped_here ?
				 errhint("Create it in another transaction than the one that dropped it.") :
				 errhint("Try again in a moment.")));
	/*
	 * Tables named for the topic that no topic holds (a dump taken while the
	 * maker dropped them, restored) are its former tables: they go, as many
	 * as a transaction's share of the lock table allows.
	 */
	orphans = topic_orphans(name);
	if (list_length(orphans) * LOCKS_PER_PARTITION_DROPPED > topic_tables_lock_share())
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_IN_USE),
				 errmsg("tables of a former topic \"%s\" remain", name),
				 errdetail("Table %s and %d others are named for a topic of that name, but no topic holds them.",
						   quote_qualified_identifier(TOPICS_DATA_SCHEMA,
													  get_rel_name(linitial_oid(orphans))),
						   list_length(orphans) - 1),
				 errhint("A superuser may drop the tables of schema topics_data named for the topic.")));
	if (orphans != NIL)
	{
		StringInfoData names;
		ListCell   *lc;

		initStringInfo(&names);
		foreach(lc, orphans)
			appendStringInfo(&names, "%s%s", names.len > 0 ? ", " : "",
							 quote_qualified_identifier(TOPICS_DATA_SCHEMA,
														get_rel_name(lfirst_oid(lc))));
		topic_tables_exec(psprintf("DROP TABLE IF EXISTS %s", names.data));
	}

	topic_tables_exec(psprintf("CREATE TABLE %s ("
							   "partition integer NOT NULL, "
							   "msg_offset bigint NOT NULL, "
							   "\"timestamp\" timestamptz NOT NULL DEFAULT pg_catalog.now(), "
							   "key bytea, value bytea, headers jsonb"
							   ") PARTITION BY LIST (partition)", qroot));
	topic_tables_exec(psprintf("CREATE TRIGGER refuse_direct_write "
							   "BEFORE INSERT OR UPDATE OR DELETE ON %s "
							   "FOR EACH STATEMENT EXECUTE FUNCTION "
							   "topics_internal.refuse_direct_write()", qroot));
	if (admin->caller != GetUserId())
		topic_tables_exec(psprintf("GRANT SELECT, INSERT ON %s TO %s WITH GRANT OPTION",
								   qroot,
								   quote_identifier(GetUserNameFromId(admin->caller,
																	  false))));

	args[1] = CStringGetTextDatum(mode);
	args[2] = Int32GetDatum(partitions);
	args[3] = JsonbPGetDatum(config);
	args[4] = ObjectIdGetDatum(admin->caller);
	spi_exec_args("INSERT INTO topics.topic (name, mode, partitions, config, owner) "
				  "VALUES ($1, $2, $3, $4, $5::pg_catalog.regrole)",
				  5, argtypes, args, SPI_OK_INSERT);

	made = create_partitions(name, 0, partitions, span);
	if (strcmp(mode, "queue") == 0 && queue_hooks != NULL)
		queue_hooks->created(admin, name, partitions, config);
	return made;
}

/*
 * topic_add_partitions adds count partitions to an open topic and returns
 * the new total; sets *all_made to false when some are left for the
 * segment maker to make.  Caller may act as the topic's owner and runs
 * inside topic_admin_begin.
 */
int
topic_add_partitions(AsOwner *admin, Topic *topic, int count, bool *all_made)
{
	Oid			argtypes[2] = {TEXTOID, INT4OID};
	Datum		args[2];
	bool		isnull;
	int			have;
	int64		span = topic->cfg.segment_messages > 0 ?
	topic->cfg.segment_messages : DEFAULT_SEGMENT_MESSAGES;

	/* the row lock serializes concurrent calls on the same topic */
	args[0] = CStringGetTextDatum(topic->name);
	if (SPI_execute_with_args("SELECT partitions FROM topics.topic "
							  "WHERE name OPERATOR(pg_catalog.=) $1 FOR UPDATE",
							  1, argtypes, args, NULL, false, 0) != SPI_OK_SELECT ||
		SPI_processed != 1)
		elog(ERROR, "could not lock topic \"%s\"", topic->name);
	have = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0],
									   SPI_tuptable->tupdesc, 1, &isnull));
	if ((int64) have + count > pg_topics_max_partitions)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("topic \"%s\" cannot have %lld partitions",
						topic->name, (long long) have + count),
				 errdetail("A topic has at most \"pg_topics.max_partitions\" (%d) partitions.",
						   pg_topics_max_partitions)));
	*all_made = create_partitions(topic->name, have, have + count, span);

	args[1] = Int32GetDatum(have + count);
	spi_exec_args("UPDATE topics.topic SET partitions = $2 "
				  "WHERE name OPERATOR(pg_catalog.=) $1",
				  2, argtypes, args, SPI_OK_UPDATE);

	/* every consumer group of the topic shares out the new partitions */
	if (SPI_execute_with_args("SELECT topics_internal._rebalance(g.topic, g.name) FROM "
							  "(SELECT topic, name FROM topics.consumer_group "
							  " WHERE topic OPERATOR(pg_catalog.=) $1 "
							  " ORDER BY name FOR UPDATE) g",
							  1, argtypes, args, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not rebalance the groups of topic \"%s\"", topic->name);
	return have + count;
}

/*
 * drop_table_if_there drops a table of topics_data, if there is one of
 * that name.  Caller runs inside as_owner_begin.
 */
static void
drop_table_if_there(const char *table)
{
	if (OidIsValid(get_relname_relid(table, get_namespace_oid(TOPICS_DATA_SCHEMA,
															  false))))
		topic_tables_exec(psprintf("DROP TABLE %s",
								   quote_qualified_identifier(TOPICS_DATA_SCHEMA,
															  table)));
}

/*
 * topic_drop drops a topic: its tables, its catalog rows and, once the
 * transaction commits, its partitions' shared state.  It goes by the names
 * of the tables, so that a topic whose tables were damaged by hand (one
 * dropped, or detached) goes as well.  A topic whose tables one
 * transaction could not lock (see topic_tables_lock_share) keeps them under its root,
 * renamed out of the way, for the segment maker to drop once the
 * transaction commits (topic_drop_tables); it then returns true.  Caller
 * holds the root table, if any, in AccessExclusiveLock, may act as the
 * topic's owner, and runs inside as_owner_begin.
 */
bool
topic_drop(AsOwner *admin, const char *name, int partitions)
{
	Oid			argtypes[1] = {TEXTOID};
	Datum		args[1];
	List	   *tables = NIL;
	List	   *groups = NIL;
	ListCell   *lc;
	int			p;
	uint64		i;
	uint64		nsegments;
	bool		late;

	/* a captured table's changes go on being published to it */
	args[0] = CStringGetTextDatum(name);
	spi_exec_args("SELECT relid::pg_catalog.text FROM topics.capture "
				  "WHERE topic OPERATOR(pg_catalog.=) $1 LIMIT 1",
				  1, argtypes, args, SPI_OK_SELECT);
	if (SPI_processed > 0)
		ereport(ERROR,
				(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
				 errmsg("cannot drop topic \"%s\" because table %s publishes its changes to it",
						name, SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1)),
				 errhint("Stop that first with topics.uncapture().")));

	for (p = 0; p < partitions; p++)
	{
		Oid			relid = topic_table_relid(name, p, -1);

		if (OidIsValid(relid))
			partition_forget_at_commit(relid);
	}

	/* the segments the catalog knows, to drop any that was detached */
	spi_exec_args("SELECT partition, base_offset FROM topics.segment "
				  "WHERE topic OPERATOR(pg_catalog.=) $1",
				  1, argtypes, args, SPI_OK_SELECT);
	nsegments = SPI_processed;
	for (i = 0; i < nsegments; i++)
	{
		bool		isnull;
		int			sp = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[i],
													 SPI_tuptable->tupdesc, 1, &isnull));
		int64		base = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i],
													   SPI_tuptable->tupdesc, 2, &isnull));

		char	   *segment = topic_table_name(name, sp, base);
		Oid			relid = get_relname_relid(segment, pgt_data_namespace());

		tables = lappend(tables, segment);
		/* the group a segment is in (see segment.c), if not its partition */
		if (OidIsValid(relid) && get_rel_relispartition(relid))
		{
			Oid			parent = get_partition_parent(relid, true);

			if (parent != topic_table_relid(name, sp, -1))
				groups = list_append_unique_oid(groups, parent);
		}
	}
	foreach(lc, groups)
		tables = lappend(tables, get_rel_name(lfirst_oid(lc)));
	for (p = 0; p < partitions; p++)
		tables = lappend(tables, topic_table_name(name, p, -1));
	for (p = 0; p < partitions; p += PARTITIONS_PER_GROUP)
		tables = lappend(tables, topic_partition_group_name(name, p));

	/*
	 * The root takes its tables with it; any left detached go after it.
	 * Too many to lock at once, they stay attached under the root, which
	 * takes a name no topic can have, and only those detached go now.
	 */
	late = (int64) partitions * LOCKS_PER_PARTITION_DROPPED +
		(int64) Max(0, (int64) nsegments - partitions) * LOCKS_PER_SEGMENT_DROPPED >
		topic_tables_lock_share();
	if (!late)
		drop_table_if_there(name);
	else if (OidIsValid(topic_table_relid(name, -1, -1)))
	{
		/* the topic's name goes with the root, through pg_dump too */
		topic_tables_exec(psprintf("ALTER TABLE %s RENAME TO %s",
								   quote_qualified_identifier(TOPICS_DATA_SCHEMA, name),
								   quote_identifier(topic_dropping_name(name))));
		topic_tables_exec(psprintf("COMMENT ON TABLE %s IS %s",
								   quote_qualified_identifier(TOPICS_DATA_SCHEMA,
															  topic_dropping_name(name)),
								   quote_literal_cstr(name)));
	}
	foreach(lc, tables)
	{
		Oid			relid = get_relname_relid(lfirst(lc), pgt_data_namespace());

		if (OidIsValid(relid) && !(late && get_rel_relispartition(relid)))
			drop_table_if_there(lfirst(lc));
	}
	spi_exec_args("DELETE FROM topics.topic WHERE name OPERATOR(pg_catalog.=) $1",
				  1, argtypes, args, SPI_OK_DELETE);
	return late;
}

/*
 * topic_dropping tells whether the tables of a dropped topic of that name
 * are still there, for the segment maker to drop, and sets *here to
 * whether the current transaction dropped it (then no maker can see them
 * before it commits).
 */
bool
topic_dropping(const char *name, bool *here)
{
	Oid			relid = get_relname_relid(topic_dropping_name(name),
										  pgt_data_namespace());
	HeapTuple	tup;

	*here = false;
	if (!OidIsValid(relid))
		return false;
	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	if (HeapTupleIsValid(tup))
	{
		*here = TransactionIdIsCurrentTransactionId(HeapTupleHeaderGetXmin(tup->t_data));
		ReleaseSysCache(tup);
	}
	return true;
}

/*
 * collect_leaves appends to *leaves the tables without partitions of the
 * tree under relid (relid itself when it has none), until it holds max.
 * It locks nothing: only the segment maker drops these tables.
 */
static void
collect_leaves(Oid relid, List **leaves, int max)
{
	List	   *children = find_inheritance_children(relid, NoLock);
	ListCell   *lc;

	if (children == NIL)
		*leaves = lappend_oid(*leaves, relid);
	foreach(lc, children)
	{
		if (list_length(*leaves) >= max)
			break;
		collect_leaves(lfirst_oid(lc), leaves, max);
	}
}

/*
 * topic_orphans returns the OIDs of the tables of topic name (see
 * topic_table_of) that are no partition: detached by hand, or restored by
 * pg_restore and not yet attached.  No topic of that name exists.
 */
static List *
topic_orphans(const char *name)
{
	Oid			argtypes[3] = {OIDOID, NAMEOID, NAMEOID};
	Datum		args[3];
	List	   *orphans = NIL;
	uint64		i;
	NameData	from;
	NameData	below;
	int			len = Min(strlen(name), TABLE_NAME_SHORTEST_CUT);

	/*
	 * Every table name of the topic starts with these first characters of
	 * its name (see table_name): a range of the index of pg_class by name.
	 */
	memset(&from, 0, sizeof(from));
	memcpy(NameStr(from), name, len);
	below = from;
	NameStr(below)[len - 1]++;
	args[0] = ObjectIdGetDatum(pgt_data_namespace());
	args[1] = NameGetDatum(&from);
	args[2] = NameGetDatum(&below);
	spi_exec_args("SELECT oid, relname::pg_catalog.text FROM pg_catalog.pg_class "
				  "WHERE relnamespace OPERATOR(pg_catalog.=) $1 "
				  "AND relname OPERATOR(pg_catalog.>=) $2 "
				  "AND relname OPERATOR(pg_catalog.<) $3 "
				  "AND relkind OPERATOR(pg_catalog.=) ANY ('{r,p}') "
				  "AND NOT relispartition",
				  3, argtypes, args, SPI_OK_SELECT);
	for (i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		char	   *table = TextDatumGetCString(SPI_getbinval(SPI_tuptable->vals[i],
															  SPI_tuptable->tupdesc,
															  2, &isnull));

		if (topic_table_of(name, table))
			orphans = lappend_oid(orphans,
								  DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[i],
																 SPI_tuptable->tupdesc,
																 1, &isnull)));
	}
	return orphans;
}

/*
 * topic_drop_tables drops, in the segment maker's transaction, tables of
 * a dropped topic whose root is now named dropping (see topic_drop):
 * those without partitions first, a transaction's share of locks at a
 * time, then tables of the topic that no tree holds (pg_restore of a dump
 * taken meanwhile creates tables before it attaches them), the root last;
 * returns true when none is left.
 */
bool
topic_drop_tables(const char *dropping)
{
	AsOwner		admin;
	Oid			root;
	List	   *leaves = NIL;
	StringInfoData names;
	ListCell   *lc;
	bool		done;
	int			max = (int) Max(1, Min(TABLES_DROPPED_PER_TRANSACTION,
									   topic_tables_lock_share() / LOCKS_PER_SEGMENT_DROPPED));

	as_owner_begin(&admin);
	root = get_relname_relid(dropping, pgt_data_namespace());
	if (!OidIsValid(root))
	{
		as_owner_end(&admin);
		return true;
	}
	collect_leaves(root, &leaves, max);
	done = list_length(leaves) == 1 && linitial_oid(leaves) == root;
	if (done)
	{
		char	   *name = GetComment(root, RelationRelationId, 0);

		if (name != NULL)
		{
			foreach(lc, topic_orphans(name))
			{
				if (list_length(leaves) > max)
					break;
				collect_leaves(lfirst_oid(lc), &leaves, max + 1);
			}
		}
		if (list_length(leaves) > 1)
		{
			/* the root goes in a later transaction, once they are gone */
			leaves = list_delete_first(leaves);
			done = false;
		}
	}
	initStringInfo(&names);
	foreach(lc, leaves)
	{
		char	   *table = get_rel_name(lfirst_oid(lc));

		if (table != NULL)
			appendStringInfo(&names, "%s%s", names.len > 0 ? ", " : "",
							 quote_qualified_identifier(TOPICS_DATA_SCHEMA, table));
	}
	if (names.len > 0)
		topic_tables_exec(psprintf("DROP TABLE IF EXISTS %s", names.data));
	as_owner_end(&admin);
	return done;
}

/*
 * topic_drops_unfinished returns the names of the root tables of dropped
 * topics whose tables remain (see topic_drop), through the index of
 * pg_class by name.
 */
List *
topic_drops_unfinished(void)
{
	Oid			argtypes[1] = {OIDOID};
	Datum		args[1];
	List	   *names = NIL;
	uint64		i;
	AsOwner		as;
	MemoryContext cxt = CurrentMemoryContext;

	as_owner_begin(&as);
	args[0] = ObjectIdGetDatum(pgt_data_namespace());
	spi_exec_args("SELECT relname::pg_catalog.text FROM pg_catalog.pg_class "
				  "WHERE relnamespace OPERATOR(pg_catalog.=) $1 "
				  "AND relname OPERATOR(pg_catalog.>=) '" TOPIC_DROPPING_PREFIX "' "
				  "AND relname OPERATOR(pg_catalog.<) '$dropping%'",
				  1, argtypes, args, SPI_OK_SELECT);
	for (i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		MemoryContext old = MemoryContextSwitchTo(cxt);

		names = lappend(names,
						TextDatumGetCString(SPI_getbinval(SPI_tuptable->vals[i],
														  SPI_tuptable->tupdesc,
														  1, &isnull)));
		MemoryContextSwitchTo(old);
	}
	as_owner_end(&as);
	return names;
}

/*
 * topic_alter sets, on an open topic, the settings of changes (a setting
 * given null goes back to the server's default) and returns its config as
 * it now is.  A queue's delivery.window, fifo and dead.letter.topic shape
 * its delivery state and its dead letters, so they stay as the queue was
 * made.  Caller runs as the owner of pg_topics's catalog, connected to SPI.
 */
Jsonb *
topic_alter(Topic *topic, Jsonb *changes)
{
	static const char *const fixed =
		"ARRAY['delivery.window', 'fifo', 'dead.letter.topic']";
	Oid			argtypes[2] = {TEXTOID, JSONBOID};
	Datum		args[2];
	Jsonb	   *config;
	bool		isnull;
	char	   *changed;

	if (!JB_ROOT_IS_OBJECT(changes) || JB_ROOT_IS_SCALAR(changes))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("topic config must be a JSON object")));
	args[0] = CStringGetTextDatum(topic->name);
	args[1] = JsonbPGetDatum(changes);
	spi_exec_args(psprintf("SELECT s.merged, ("
						   "SELECT pg_catalog.string_agg(k, ', ') "
						   "FROM pg_catalog.unnest(%s) k "
						   "WHERE (s.config OPERATOR(pg_catalog.->) k) IS DISTINCT FROM "
						   "(s.merged OPERATOR(pg_catalog.->) k)) "
						   "FROM (SELECT t.config, pg_catalog.jsonb_strip_nulls("
						   "t.config OPERATOR(pg_catalog.||) $2) AS merged "
						   "FROM topics.topic t WHERE t.name OPERATOR(pg_catalog.=) $1 "
						   "FOR UPDATE) s", fixed),
				  2, argtypes, args, SPI_OK_SELECT);
	if (SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("topic \"%s\" does not exist", topic->name)));
	config = DatumGetJsonbPCopy(SPI_getbinval(SPI_tuptable->vals[0],
											  SPI_tuptable->tupdesc, 1, &isnull));
	changed = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
	if (topic->mode == TOPIC_MODE_QUEUE && changed != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot change \"%s\" of queue \"%s\"", changed, topic->name),
				 errdetail("A queue keeps the delivery window, fifo and dead-letter topic it was created with."),
				 errhint("Create a new queue with the settings wanted.")));
	topic_check_config(config, topic->mode == TOPIC_MODE_STREAM ? "stream" :
					   topic->mode == TOPIC_MODE_STORE ? "store" : "queue",
					   topic->name);
	args[1] = JsonbPGetDatum(config);
	spi_exec_args("UPDATE topics.topic SET config = $2 "
				  "WHERE name OPERATOR(pg_catalog.=) $1",
				  2, argtypes, args, SPI_OK_UPDATE);

	/* every backend's copy of the topic is loaded again */
	CacheInvalidateRelcacheByRelid(topic->relid);
	return config;
}

/*
 * topic_check_owner raises 42501 unless the current user has the
 * privileges of owner, the role that owns topic name.
 */
void
topic_check_owner(const char *name, Oid owner)
{
	if (!has_privs_of_role(GetUserId(), owner))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("must be owner of topic \"%s\"", name),
				 errdetail("Topic \"%s\" is owned by role \"%s\".", name,
						   GetUserNameFromId(owner, true) ?
						   GetUserNameFromId(owner, true) : "(dropped)")));
}

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
 * TABLE ... PARTITION OF an existing parent: ATTACH takes only SHARE
 * UPDATE EXCLUSIVE on the parent, so adding a partition does not wait for
 * (nor stop) the topic's producers and readers.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/twophase.h"
#include "catalog/namespace.h"
#include "catalog/partition.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_type.h"
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
#include "utils/numeric.h"
#include "utils/syscache.h"

#include "guc.h"
#include "log/partition.h"
#include "log/segment.h"
#include "log/topic.h"
#include "log/topic_admin.h"
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
 * Locks drop_topic takes per partition of one segment: the partition
 * table and the segment, their TOAST tables and indexes, the segment's
 * index, and the row and array types of each table (measured: 12.4).
 */
#define DROP_LOCKS_PER_PARTITION	13

/*
 * spi_exec_args runs a statement with parameters and checks its result.
 * Caller is connected to SPI.
 */
static void
spi_exec_args(const char *sql, int nargs, Oid *types, Datum *args, int expected)
{
	int			rc = SPI_execute_with_args(sql, nargs, types, args, NULL, false, 0);

	if (rc != expected)
		elog(ERROR, "SPI_execute_with_args failed for \"%s\": %s", sql,
			 SPI_result_code_string(rc));
}

/*
 * topic_check_config raises 22023 unless config is an object of known
 * settings with valid values.
 */
void
topic_check_config(Jsonb *config)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken r;

	if (!JB_ROOT_IS_OBJECT(config) || JB_ROOT_IS_SCALAR(config))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("topic config must be a JSON object")));

	it = JsonbIteratorInit(&config->root);
	while ((r = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (r != WJB_KEY)
			continue;
		if (!((v.val.string.len == 16 &&
			   strncmp(v.val.string.val, "segment.messages", 16) == 0) ||
			  (v.val.string.len == 13 &&
			   strncmp(v.val.string.val, "segment.bytes", 13) == 0)))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown topic setting \"%.*s\"",
							v.val.string.len, v.val.string.val),
					 errhint("Valid settings are \"segment.messages\" and \"segment.bytes\".")));
	}
	topic_config_int(config, "segment.messages");
	topic_config_int(config, "segment.bytes");
}

/*
 * partition_parent returns the table a new partition p of a topic is
 * attached to: the group of PARTITIONS_PER_GROUP partitions it falls in,
 * made when p is the group's first, or the root for the partitions that
 * a topic made by 0.2 had (or got) in a group's range, all under the root.
 */
static char *
partition_parent(const char *topic, int p)
{
	int			first = p - p % PARTITIONS_PER_GROUP;
	char	   *group = topic_partition_group_name(topic, first);
	StringInfoData values;
	int			q;

	if (OidIsValid(get_relname_relid(group, pgt_data_namespace())))
		return group;
	if (p != first)
		return pstrdup(topic);

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
	topic_tables_exec(psprintf("CREATE UNIQUE INDEX ON %s (msg_offset)", qname));

	segment_create(topic, p, 0, first_span);

	topic_tables_exec(psprintf("ALTER TABLE %s ATTACH PARTITION %s FOR VALUES IN (%d)",
							   quote_qualified_identifier(TOPICS_DATA_SCHEMA,
														  partition_parent(topic, p)),
							   qname, p));
}

/*
 * create_partitions adds the partitions [from, to) to a topic: their
 * persisted records, then their tables.
 */
static void
create_partitions(const char *topic, int from, int to, int64 first_span)
{
	Oid			argtypes[3] = {TEXTOID, INT4OID, INT4OID};
	Datum		args[3];
	int			p;

	args[0] = CStringGetTextDatum(topic);
	args[1] = Int32GetDatum(from);
	args[2] = Int32GetDatum(to - 1);
	spi_exec_args("INSERT INTO topics.partition (topic, partition) "
				  "SELECT $1, pg_catalog.generate_series($2, $3)",
				  3, argtypes, args, SPI_OK_INSERT);
	spi_exec_args("INSERT INTO topics.high_water (topic, partition) "
				  "SELECT $1, pg_catalog.generate_series($2, $3)",
				  3, argtypes, args, SPI_OK_INSERT);
	for (p = from; p < to; p++)
		create_partition(topic, p, first_span);

	/*
	 * Attaching a partition to its group invalidates the group, not the root,
	 * which the backends' topic caches watch.
	 */
	CacheInvalidateRelcacheByRelid(topic_table_relid(topic, -1, -1));
}

/*
 * check_droppable raises 53400 when a topic of partitions partitions could
 * not be dropped again: drop_topic drops every table of the topic in one
 * transaction, and so holds a lock on each table, index, TOAST table and
 * type of it at once, which the shared lock table must have room for.
 */
static void
check_droppable(const char *name, int64 partitions)
{
	int64		room = (int64) max_locks_per_xact *
	(MaxBackends + max_prepared_xacts);

	if (partitions * DROP_LOCKS_PER_PARTITION <= room)
		return;
	ereport(ERROR,
			(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
			 errmsg("topic \"%s\" cannot have %lld partitions with max_locks_per_transaction = %d",
					name, (long long) partitions, max_locks_per_xact),
			 errdetail("Dropping a topic locks about %d objects per partition in one transaction; the lock table has room for %lld.",
					   DROP_LOCKS_PER_PARTITION, (long long) room),
			 errhint("Use fewer partitions, or increase \"max_locks_per_transaction\" and restart the server.")));
}

/*
 * topic_create creates a topic owned by the caller.  Caller has checked
 * the arguments and runs inside topic_admin_begin.
 */
void
topic_create(AsOwner *admin, const char *name, int partitions,
			 const char *mode, Jsonb *config)
{
	const char *qroot = quote_qualified_identifier(TOPICS_DATA_SCHEMA, name);
	Oid			argtypes[5] = {TEXTOID, TEXTOID, INT4OID, JSONBOID, OIDOID};
	Datum		args[5];
	int64		span = topic_config_int(config, "segment.messages");

	if (span == 0)
		span = DEFAULT_SEGMENT_MESSAGES;
	check_droppable(name, partitions);

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

	create_partitions(name, 0, partitions, span);
}

/*
 * topic_add_partitions adds count partitions to an open topic and returns
 * the new total.  Caller may act as the topic's owner and runs inside
 * topic_admin_begin.
 */
int
topic_add_partitions(AsOwner *admin, Topic *topic, int count)
{
	Oid			argtypes[2] = {TEXTOID, INT4OID};
	Datum		args[2];
	bool		isnull;
	int			have;
	int64		span = topic->segment_messages > 0 ?
	topic->segment_messages : DEFAULT_SEGMENT_MESSAGES;

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
	check_droppable(topic->name, (int64) have + count);

	create_partitions(topic->name, have, have + count, span);

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
 * dropped, or detached) goes as well.  Caller holds the root table, if
 * any, in AccessExclusiveLock, may act as the topic's owner, and runs
 * inside as_owner_begin.
 */
void
topic_drop(AsOwner *admin, const char *name, int partitions)
{
	Oid			argtypes[1] = {TEXTOID};
	Datum		args[1];
	List	   *segments = NIL;
	List	   *groups = NIL;
	List	   *group_names = NIL;
	ListCell   *lc;
	int			p;
	uint64		i;

	for (p = 0; p < partitions; p++)
	{
		Oid			relid = topic_table_relid(name, p, -1);

		if (OidIsValid(relid))
			partition_forget_at_commit(relid);
	}

	/* the segments the catalog knows, to drop any that was detached */
	args[0] = CStringGetTextDatum(name);
	spi_exec_args("SELECT partition, base_offset FROM topics.segment "
				  "WHERE topic OPERATOR(pg_catalog.=) $1",
				  1, argtypes, args, SPI_OK_SELECT);
	for (i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		int			sp = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[i],
													 SPI_tuptable->tupdesc, 1, &isnull));
		int64		base = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i],
													   SPI_tuptable->tupdesc, 2, &isnull));

		char	   *segment = topic_table_name(name, sp, base);
		Oid			relid = get_relname_relid(segment, pgt_data_namespace());

		segments = lappend(segments, segment);
		/* the group a segment is in (see segment.c), if not its partition */
		if (OidIsValid(relid) && get_rel_relispartition(relid))
		{
			Oid			parent = get_partition_parent(relid, true);

			if (parent != topic_table_relid(name, sp, -1))
				groups = list_append_unique_oid(groups, parent);
		}
	}
	foreach(lc, groups)
		group_names = lappend(group_names, get_rel_name(lfirst_oid(lc)));

	/* the root takes its tables with it; any left detached go after it */
	drop_table_if_there(name);
	for (p = 0; p < partitions; p++)
		drop_table_if_there(topic_table_name(name, p, -1));
	for (p = 0; p < partitions; p += PARTITIONS_PER_GROUP)
		drop_table_if_there(topic_partition_group_name(name, p));
	foreach(lc, group_names)
		drop_table_if_there(lfirst(lc));
	foreach(lc, segments)
		drop_table_if_there(lfirst(lc));
	spi_exec_args("DELETE FROM topics.topic WHERE name OPERATOR(pg_catalog.=) $1",
				  1, argtypes, args, SPI_OK_DELETE);
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

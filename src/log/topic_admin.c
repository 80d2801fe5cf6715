/*-------------------------------------------------------------------------
 *
 * topic.c
 *	  Creating, dropping and growing topics.
 *
 * These are admin calls, so they use SPI.  The caller needs CREATE on
 * schema topics_data to create a topic, and must own the topic's root
 * table to drop it or add partitions; the work itself then runs as the
 * owner of the extension's schema, which alone may write the catalog
 * tables, and the new tables are handed to the caller.  Every name that
 * reaches SQL text is quoted; every value is a parameter.
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
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

#include "guc.h"
#include "log/segment.h"
#include "log/topic.h"
#include "log/topic_admin.h"

/*
 * topic_name_from_text returns a topic name argument as a C string,
 * raising 42602 or 42622 unless it is a legal Kafka topic name that fits
 * a table name: 1 to 63 characters of [A-Za-z0-9._-], not "." or "..".
 */
char *
topic_name_from_text(text *name)
{
	char	   *s = text_to_cstring(name);
	size_t		len = strlen(s);
	const char *c;

	if (len == 0 || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_NAME),
				 errmsg("invalid topic name \"%s\"", s),
				 errdetail("A topic name may not be empty, \".\" or \"..\".")));
	if (len > TOPIC_NAME_MAXLEN)
		ereport(ERROR,
				(errcode(ERRCODE_NAME_TOO_LONG),
				 errmsg("topic name \"%s\" is too long", s),
				 errdetail("A topic name may have at most %d characters.",
						   TOPIC_NAME_MAXLEN)));
	for (c = s; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
			  (*c >= '0' && *c <= '9') || *c == '.' || *c == '_' || *c == '-'))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_NAME),
					 errmsg("invalid topic name \"%s\"", s),
					 errdetail("A topic name may hold only ASCII letters, digits, \".\", \"_\" and \"-\", as in Kafka.")));
	return s;
}

/*
 * schema_owner returns the owner of the extension's schema topics, the
 * role the admin work runs as.
 */
static Oid
schema_owner(void)
{
	Oid			nspid = get_namespace_oid(TOPICS_SCHEMA, false);
	HeapTuple	tup = SearchSysCache1(NAMESPACEOID, ObjectIdGetDatum(nspid));
	Oid			owner;

	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for namespace %u", nspid);
	owner = ((Form_pg_namespace) GETSTRUCT(tup))->nspowner;
	ReleaseSysCache(tup);
	return owner;
}

/*
 * rel_owner returns the owner of a relation.
 */
static Oid
rel_owner(Oid relid)
{
	HeapTuple	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	Oid			owner;

	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for relation %u", relid);
	owner = ((Form_pg_class) GETSTRUCT(tup))->relowner;
	ReleaseSysCache(tup);
	return owner;
}

/*
 * topic_admin_begin connects to SPI and switches to the owner of the
 * extension's schema; topic_admin_end switches back.  The caller is kept
 * for ownership of the new tables.
 */
void
topic_admin_begin(TopicAdmin *admin)
{
	admin->caller = GetUserId();
	GetUserIdAndSecContext(&admin->saved_user, &admin->saved_sec);
	SPI_connect();
	SetUserIdAndSecContext(schema_owner(),
						   admin->saved_sec | SECURITY_LOCAL_USERID_CHANGE);
}

void
topic_admin_end(TopicAdmin *admin)
{
	SetUserIdAndSecContext(admin->saved_user, admin->saved_sec);
	SPI_finish();
}

static void
spi_exec(const char *sql)
{
	int			rc = SPI_execute(sql, false, 0);

	if (rc < 0)
		elog(ERROR, "SPI_execute failed for \"%s\": %s", sql,
			 SPI_result_code_string(rc));
}

/*
 * config_int returns a positive integer setting of a topic's config, or 0
 * when it is absent.
 */
static int64
config_int(Jsonb *config, const char *key)
{
	JsonbValue	k;
	JsonbValue *v;
	int64		result = 0;
	bool		have_error = false;

	k.type = jbvString;
	k.val.string.val = (char *) key;
	k.val.string.len = strlen(key);
	v = findJsonbValueFromContainer(&config->root, JB_FOBJECT, &k);
	if (v == NULL)
		return 0;
	if (v->type != jbvNumeric)
		have_error = true;
	else
	{
		char	   *s = DatumGetCString(DirectFunctionCall1(numeric_out,
															NumericGetDatum(v->val.numeric)));
		char	   *end;

		errno = 0;
		result = strtoi64(s, &end, 10);
		have_error = (errno != 0 || *end != '\0');
	}
	if (have_error || result <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("topic setting \"%s\" must be a positive integer", key)));
	return result;
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
	config_int(config, "segment.messages");
	config_int(config, "segment.bytes");
}

/*
 * create_partition adds partition p to a topic: its table, its unique index
 * on msg_offset and its first segment, then attaches it to the root.
 */
static void
create_partition(int32 topic_id, const char *topic, int p, Oid owner,
				 int64 first_span)
{
	char	   *name = partition_table_name(topic_id, p);
	const char *qname = quote_qualified_identifier(TOPICS_DATA_SCHEMA, name);
	const char *qroot = quote_qualified_identifier(TOPICS_DATA_SCHEMA, topic);
	const char *qowner = quote_identifier(GetUserNameFromId(owner, false));
	Oid			argtypes[3] = {INT4OID, INT4OID, TEXTOID};
	Datum		args[3];
	Oid			relid;

	spi_exec(psprintf("CREATE TABLE %s (LIKE %s INCLUDING DEFAULTS) "
					  "PARTITION BY RANGE (msg_offset)", qname, qroot));
	spi_exec(psprintf("CREATE UNIQUE INDEX ON %s (msg_offset)", qname));
	spi_exec(psprintf("ALTER TABLE %s OWNER TO %s", qname, qowner));

	args[0] = Int32GetDatum(topic_id);
	args[1] = Int32GetDatum(p);
	args[2] = CStringGetTextDatum(qname);
	if (SPI_execute_with_args("INSERT INTO topics.partition (topic_id, partition, relid) "
							  "VALUES ($1, $2, $3::pg_catalog.regclass)",
							  3, argtypes, args, NULL, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not record partition %d of topic \"%s\"", p, topic);

	relid = get_relname_relid(name, get_namespace_oid(TOPICS_DATA_SCHEMA, false));
	segment_create(topic_id, p, relid, owner, 0, first_span);

	spi_exec(psprintf("ALTER TABLE %s ATTACH PARTITION %s FOR VALUES IN (%d)",
					  qroot, qname, p));
}

/*
 * topic_create creates a topic and returns its id.  Caller has checked the
 * arguments and runs inside topic_admin_begin.
 */
int32
topic_create(TopicAdmin *admin, const char *name, int partitions,
			 const char *mode, Jsonb *config)
{
	const char *qroot = quote_qualified_identifier(TOPICS_DATA_SCHEMA, name);
	Oid			argtypes[5] = {TEXTOID, TEXTOID, INT4OID, JSONBOID, TEXTOID};
	Datum		args[5];
	bool		isnull;
	int32		topic_id;
	int64		span = config_int(config, "segment.messages");
	int			p;

	if (span == 0)
		span = DEFAULT_SEGMENT_MESSAGES;

	args[0] = CStringGetTextDatum(name);
	if (SPI_execute_with_args("SELECT 1 FROM topics.topic WHERE name OPERATOR(pg_catalog.=) $1",
							  1, argtypes, args, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not look up topic \"%s\"", name);
	if (SPI_processed > 0 ||
		OidIsValid(get_relname_relid(name, get_namespace_oid(TOPICS_DATA_SCHEMA, false))))
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("topic \"%s\" already exists", name),
				 errhint("Choose another name, or drop the topic first with topics.drop_topic().")));

	spi_exec(psprintf("CREATE TABLE %s ("
					  "partition integer NOT NULL, "
					  "msg_offset bigint NOT NULL, "
					  "\"timestamp\" timestamptz NOT NULL DEFAULT pg_catalog.now(), "
					  "key bytea, value bytea, headers jsonb"
					  ") PARTITION BY LIST (partition)", qroot));
	spi_exec(psprintf("ALTER TABLE %s OWNER TO %s", qroot,
					  quote_identifier(GetUserNameFromId(admin->caller, false))));

	args[1] = CStringGetTextDatum(mode);
	args[2] = Int32GetDatum(partitions);
	args[3] = JsonbPGetDatum(config);
	args[4] = CStringGetTextDatum(qroot);
	if (SPI_execute_with_args("INSERT INTO topics.topic (name, mode, partitions, config, relid) "
							  "VALUES ($1, $2, $3, $4, $5::pg_catalog.regclass) "
							  "RETURNING topic_id",
							  5, argtypes, args, NULL, false, 0) != SPI_OK_INSERT_RETURNING)
		elog(ERROR, "could not record topic \"%s\"", name);
	topic_id = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0],
										   SPI_tuptable->tupdesc, 1, &isnull));

	for (p = 0; p < partitions; p++)
		create_partition(topic_id, name, p, admin->caller, span);
	return topic_id;
}

/*
 * topic_add_partitions adds count partitions to an open topic and returns
 * the new total.  Caller owns the topic and runs inside topic_admin_begin.
 */
int
topic_add_partitions(TopicAdmin *admin, Topic *topic, int count)
{
	Oid			argtypes[2] = {INT4OID, INT4OID};
	Datum		args[2];
	bool		isnull;
	int			have;
	int			p;
	int64		span = topic->segment_messages > 0 ?
		topic->segment_messages : DEFAULT_SEGMENT_MESSAGES;
	Oid			owner = rel_owner(topic->relid);

	/* the row lock serializes concurrent calls on the same topic */
	args[0] = Int32GetDatum(topic->topic_id);
	if (SPI_execute_with_args("SELECT partitions FROM topics.topic "
							  "WHERE topic_id OPERATOR(pg_catalog.=) $1 FOR UPDATE",
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

	for (p = have; p < have + count; p++)
		create_partition(topic->topic_id, topic->name, p, owner, span);

	args[1] = Int32GetDatum(have + count);
	if (SPI_execute_with_args("UPDATE topics.topic SET partitions = $2 "
							  "WHERE topic_id OPERATOR(pg_catalog.=) $1",
							  2, argtypes, args, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "could not update topic \"%s\"", topic->name);

	/* every consumer group of the topic shares out the new partitions */
	if (SPI_execute_with_args("SELECT topics._rebalance(g.group_id) FROM "
							  "(SELECT group_id FROM topics.consumer_group "
							  " WHERE topic_id OPERATOR(pg_catalog.=) $1 "
							  " ORDER BY group_id FOR UPDATE) g",
							  1, argtypes, args, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not rebalance the groups of topic \"%s\"", topic->name);
	return have + count;
}

/*
 * topic_drop drops an open topic: its tables, its catalog rows and, once
 * the transaction commits, its partitions' shared state.  Caller owns the
 * topic and runs inside topic_admin_begin.
 */
void
topic_drop(TopicAdmin *admin, Topic *topic)
{
	Oid			argtypes[1] = {INT4OID};
	Datum		args[1];
	int			p;

	for (p = 0; p < topic->npartitions; p++)
		partition_forget_at_commit(topic->partitions[p].relid);

	spi_exec(psprintf("DROP TABLE %s",
					  quote_qualified_identifier(TOPICS_DATA_SCHEMA,
												 get_rel_name(topic->relid))));
	args[0] = Int32GetDatum(topic->topic_id);
	if (SPI_execute_with_args("DELETE FROM topics.topic WHERE topic_id OPERATOR(pg_catalog.=) $1",
							  1, argtypes, args, NULL, false, 0) != SPI_OK_DELETE)
		elog(ERROR, "could not delete topic \"%s\"", topic->name);
}

/*
 * topic_check_owner raises 42501 unless the current user owns the topic.
 */
void
topic_check_owner(Topic *topic)
{
	if (!pg_class_ownercheck(topic->relid, GetUserId()))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("must be owner of topic \"%s\"", topic->name),
				 errdetail("Topic \"%s\" is owned by role \"%s\".", topic->name,
						   GetUserNameFromId(rel_owner(topic->relid), false))));
}

/*
 * topic_check_create raises 42501 unless the current user may create
 * topics, that is, create tables in schema topics_data.
 */
void
topic_check_create(void)
{
	Oid			nspid = get_namespace_oid(TOPICS_DATA_SCHEMA, false);

	if (pg_namespace_aclcheck(nspid, GetUserId(), ACL_CREATE) != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to create a topic"),
				 errdetail("Creating a topic needs the CREATE privilege on schema %s.",
						   TOPICS_DATA_SCHEMA),
				 errhint("A superuser can run GRANT CREATE ON SCHEMA %s TO the role.",
						 TOPICS_DATA_SCHEMA)));
}

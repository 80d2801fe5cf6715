/*-------------------------------------------------------------------------
 *
 * relids.c
 *	  The OIDs of pg_topics' own catalog tables and their indexes, looked
 *	  up by name once per backend and forgotten on any invalidation of one
 *	  of them (DROP EXTENSION drops them, ALTER EXTENSION UPDATE replaces
 *	  them).
 *
 * The hot paths read and write these tables without SPI; this is where
 * they find them, and how they set up keys on their columns.  A relation that is missing means that the extension's
 * SQL objects are older than the library (the library was installed and
 * the server restarted, but ALTER EXTENSION pg_topics UPDATE has not run
 * yet): that is a clear error, not an internal one.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/skey.h"
#include "access/stratnum.h"
#include "catalog/namespace.h"
#include "catalog/pg_collation.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"

#include "pg_topics.h"
#include "relids.h"

static const char *const relnames[PGT_NRELATIONS] = {
	[PGT_TOPIC] = "topic",
	[PGT_TOPIC_PKEY] = "topic_pkey",
	[PGT_PARTITION] = "partition",
	[PGT_PARTITION_PKEY] = "partition_pkey",
	[PGT_HIGH_WATER] = "high_water",
	[PGT_HIGH_WATER_PKEY] = "high_water_pkey",
	[PGT_SEGMENT] = "segment",
	[PGT_SEGMENT_PKEY] = "segment_pkey",
	[PGT_GROUP] = "consumer_group",
	[PGT_GROUP_PKEY] = "consumer_group_pkey",
	[PGT_MEMBER] = "group_member",
	[PGT_MEMBER_PKEY] = "group_member_pkey",
	[PGT_ASSIGNMENT] = "group_assignment",
	[PGT_ASSIGNMENT_PKEY] = "group_assignment_pkey",
	[PGT_OFFSET] = "committed_offset",
	[PGT_OFFSET_PKEY] = "committed_offset_pkey",
	[PGT_QUEUE_PARTITION] = "queue_partition",
	[PGT_QUEUE_PARTITION_PKEY] = "queue_partition_pkey",
	[PGT_QUEUE_DELIVERY] = "queue_delivery",
	[PGT_QUEUE_DELIVERY_PKEY] = "queue_delivery_pkey",
	[PGT_MAINTENANCE] = "maintenance",
	[PGT_MAINTENANCE_PKEY] = "maintenance_pkey",
	[PGT_CAPTURE] = "capture",
	[PGT_CAPTURE_PKEY] = "capture_pkey",
};

static Oid	relids[PGT_NRELATIONS];

static void objects_too_old(const char *object) pg_attribute_noreturn();
static Oid	data_namespace = InvalidOid;
static bool valid = false;

static void
relids_inval(Datum arg, Oid relid)
{
	int			i;

	if (relid == InvalidOid)
	{
		valid = false;
		return;
	}
	for (i = 0; i < PGT_NRELATIONS; i++)
		if (relids[i] == relid)
			valid = false;
}

/*
 * objects_too_old raises 55000 for an object of pg_topics that the library
 * reads and the extension's SQL objects lack.
 */
static void
objects_too_old(const char *object)
{
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("%s of pg_topics is missing", object),
			 errdetail("The SQL objects of extension pg_topics are older than its library."),
			 errhint("Run ALTER EXTENSION pg_topics UPDATE.")));
}

/*
 * relids_load looks every relation up by name, and returns whether it
 * found them all; when one is missing it raises an error, unless
 * missing_ok.
 */
static bool
relids_load(bool missing_ok)
{
	static bool callback_registered = false;
	Oid			nspid = get_namespace_oid(TOPICS_SCHEMA, missing_ok);
	int			i;

	if (!callback_registered)
	{
		CacheRegisterRelcacheCallback(relids_inval, (Datum) 0);
		callback_registered = true;
	}
	for (i = 0; i < PGT_NRELATIONS; i++)
	{
		relids[i] = OidIsValid(nspid) ?
			get_relname_relid(relnames[i], nspid) : InvalidOid;
		if (OidIsValid(relids[i]))
			continue;
		if (missing_ok)
			return false;
		objects_too_old(psprintf("relation \"%s.%s\"", TOPICS_SCHEMA,
								 relnames[i]));
	}

	data_namespace = get_namespace_oid(TOPICS_DATA_SCHEMA, missing_ok);
	valid = OidIsValid(data_namespace);
	return valid;
}

/*
 * pgt_relid returns the OID of one of pg_topics' catalog relations.
 */
Oid
pgt_relid(PgtRelation rel)
{
	Assert(rel >= 0 && rel < PGT_NRELATIONS);
	if (!valid)
		(void) relids_load(false);
	return relids[rel];
}

/*
 * pgt_require_catalog raises the error above when the SQL objects are
 * older than the library.  Code that reads the catalog through SPI calls
 * it first, so that a 0.1 catalog gives that error, not a missing column.
 */
void
pgt_require_catalog(void)
{
	if (!valid)
		(void) relids_load(false);
}

/*
 * pgt_catalog_is_current returns whether the SQL objects are those this
 * library reads (the worker leaves a database alone until they are).
 */
bool
pgt_catalog_is_current(void)
{
	return valid || relids_load(true);
}

/*
 * pgt_data_namespace returns the OID of schema topics_data.
 */
Oid
pgt_data_namespace(void)
{
	if (!valid)
		(void) relids_load(false);
	return data_namespace;
}

/*
 * pgt_key_name sets up an equality key on a name column of pg_topics's
 * catalog.  Names are in the "C" collation: a btree descends with the
 * collation of the search key, which must order as the index does.
 */
void
pgt_key_name(ScanKey key, AttrNumber attno, const char *value)
{
	ScanKeyInit(key, attno, BTEqualStrategyNumber, F_TEXTEQ,
				CStringGetTextDatum(value));
	key->sk_collation = C_COLLATION_OID;
}

/*
 * pgt_key_int4 sets up an equality key on an integer column.
 */
void
pgt_key_int4(ScanKey key, AttrNumber attno, int32 value)
{
	ScanKeyInit(key, attno, BTEqualStrategyNumber, F_INT4EQ,
				Int32GetDatum(value));
}

/*-------------------------------------------------------------------------
 *
 * topic_tables.h
 *	  The tables of a topic: their names, their shape, and the guard that
 *	  keeps other roles from changing them.
 *
 *-------------------------------------------------------------------------
 */
#ifndef TOPIC_TABLES_H
#define TOPIC_TABLES_H

#include "nodes/nodes.h"
#include "utils/jsonb.h"
#include "utils/relcache.h"

#include "log/partition.h"

/*
 * The longest name a topic's table is given: one short of what PostgreSQL
 * takes, as it names a table's array type "_" and the table's name cut to
 * fit.  Tables whose names differ only in their last character (a topic's
 * partitions 10 to 19, say) would get array types of the same name, and
 * PostgreSQL 15 tells those apart by more underscores, cutting one more
 * character each time, until it gives up ("could not form array type
 * name") after some sixty.  pg_topics 0.2 went up to NAMEDATALEN - 1; the
 * update to 0.3 renames its tables.
 */
#define TABLE_NAME_MAX	(NAMEDATALEN - 2)

/*
 * The fewest characters of a topic's name that its table names keep: a
 * name cut for the longest suffix ("$<partition>$g<offset>"), after "~"
 * and the hash (see table_name).
 */
#define TABLE_NAME_SHORTEST_CUT	(TABLE_NAME_MAX - 17 - 32)

/* How the root tables of dropped topics whose tables remain begin. */
#define TOPIC_DROPPING_PREFIX	"$dropping$"

/* The caller of work done as the owner, and the user it saved. */
typedef struct AsOwner
{
	Oid			caller;
	Oid			saved_user;
	int			saved_sec;
	int			guc_level;		/* of the search_path set for the work */
} AsOwner;

extern void as_owner_begin(AsOwner *admin);
extern void as_owner_end(AsOwner *admin);
extern char *topic_table_name(const char *topic, int partition, int64 base);
extern char *topic_index_name(const char *table);
extern char *topic_group_name(const char *topic, int partition, int64 base);
extern char *topic_partition_group_name(const char *topic, int first);
extern char *topic_dropping_name(const char *topic);
extern bool topic_table_of(const char *topic, const char *table);
extern int64 topic_tables_lock_share(void);
extern Oid	topic_table_relid(const char *topic, int partition, int64 base);
extern bool topic_lock_unless_busy(const char *topic);
extern void topic_table_missing(const char *topic, const char *table) pg_attribute_noreturn();
extern Oid	segment_relid(const char *topic, int partition,
						  const LogSegment *seg);
extern void topic_table_check(Relation rel, const char *topic);
extern int64 relation_bytes(Relation rel);
extern Oid	segment_offset_index(Relation rel);
extern void spi_exec_args(const char *sql, int nargs, Oid *types, Datum *args,
						  int expected);
extern void spi_select_latest(const char *sql, int nargs, Oid *types,
							  Datum *values);
extern void topic_tables_exec(const char *sql);
extern void topic_tables_guard(Node *parsetree);

#endif							/* TOPIC_TABLES_H */

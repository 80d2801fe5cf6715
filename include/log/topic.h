/*-------------------------------------------------------------------------
 *
 * topic.h
 *	  A topic as the hot paths see it: a per-backend cache of its catalog
 *	  rows and of the OIDs of its tables.
 *
 *-------------------------------------------------------------------------
 */
#ifndef TOPIC_H
#define TOPIC_H

#include "nodes/parsenodes.h"
#include "storage/lockdefs.h"
#include "utils/jsonb.h"
#include "utils/relcache.h"

#include "log/partition.h"
#include "log/topic_config.h"
#include "pg_topics.h"

typedef struct TopicPartition
{
	Oid			relid;			/* topics_data."<topic>$<n>" */
	PartitionState *state;		/* NULL until first used */
	int			nsegments;
	int			maxsegments;	/* room in segments */
	LogSegment *segments;		/* ordered by base */
	bool		segments_stale; /* its table was invalidated */
	int64		log_start;		/* topics.partition.log_start, as loaded */
	TransactionId created_xid;	/* xmin of its first segment's catalog row,
								 * or of the topic's row while not made */
} TopicPartition;

typedef struct Topic
{
	char		name[NAMEDATALEN];	/* hash key */
	bool		valid;			/* false once an invalidation of the root hit
								 * it */
	bool		segments_stale; /* some partition's segments_stale is set */
	Oid			relid;			/* the root table, topics_data.<name> */
	Oid			owner;			/* the role that owns the topic */
	TopicMode	mode;
	TopicConfig cfg;			/* its settings, defaults filled in */
	Jsonb	   *config;			/* as topics.topic holds it */
	int			npartitions;
	TopicPartition *partitions;
	uint32		next_partition; /* round robin of keyless messages */
	uint64		last_used;		/* when topic_open last returned it */
	MemoryContext cxt;			/* holds partitions and segments */
} Topic;

extern Topic *topic_open(const char *name, LOCKMODE lockmode);
extern Topic *topic_reload(Topic *topic, int partition);
extern bool topic_partition_created_here(Topic *topic, int partition);
extern bool topic_partition_pending(Topic *topic, int partition);
extern PartitionState *topic_partition_state(Topic *topic, int partition);
extern void topic_bounds(Topic *topic, int partition, PartitionBounds *bounds);
extern int64 topic_log_start(Topic *topic, int partition);
extern const LogSegment *topic_find_segment(Topic *topic, int partition,
											int64 offset);
extern void topic_check_partition(Topic *topic, int partition);
extern void topic_check_privilege(Topic *topic, AclMode mode);
extern void topic_maintain(void);
extern List *topic_unmade(List **counts);
extern bool topic_lookup_row(const char *name, Oid *owner, int *partitions);
extern char *topic_name_from_text(text *name);

#endif							/* TOPIC_H */

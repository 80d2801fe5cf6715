/*-------------------------------------------------------------------------
 *
 * topic.h
 *	  A topic as the hot paths see it: a per-backend cache of the catalog
 *	  rows of topics.topic, topics.partition and topics.segment.
 *
 *-------------------------------------------------------------------------
 */
#ifndef TOPIC_H
#define TOPIC_H

#include "nodes/parsenodes.h"
#include "storage/lockdefs.h"
#include "utils/relcache.h"

#include "pg_topics.h"
#include "log/partition.h"

/* One segment table: the offsets [base, end) of one partition. */
typedef struct TopicSegment
{
	int64		base;
	int64		end;
	Oid			relid;
} TopicSegment;

typedef struct TopicPartition
{
	Oid			relid;			/* topics_data."t<id>$p<n>" */
	PartitionState *state;		/* NULL until first used */
	int			nsegments;
	TopicSegment *segments;		/* ordered by base */
} TopicPartition;

typedef struct Topic
{
	char		name[NAMEDATALEN];	/* hash key */
	bool		valid;			/* false once an invalidation hit it */
	int32		topic_id;
	Oid			relid;			/* the root table, topics_data.<name> */
	TopicMode	mode;
	int64		segment_messages;
	int64		segment_bytes;
	int			npartitions;
	TopicPartition *partitions;
	uint32		next_partition; /* round robin of keyless messages */
	MemoryContext cxt;			/* holds partitions and segments */
} Topic;

/* topic_cache.c */
extern Topic *topic_open(const char *name, LOCKMODE lockmode);
extern Topic *topic_reload(Topic *topic);
extern PartitionState *topic_partition_state(Topic *topic, int partition);
extern const TopicSegment *topic_find_segment(Topic *topic, int partition,
											  int64 offset);
extern void topic_check_partition(Topic *topic, int partition);
extern void topic_check_privilege(Topic *topic, AclMode mode);
extern int64 partition_scan_log_end(TopicPartition *part, List **prepared);
extern Oid	segment_offset_index(Relation rel);

/* segment.c */
extern bool segment_request(Topic *topic, int partition, int64 target,
							bool wait);
extern const TopicSegment *segment_wait_for(Topic **topicp, int partition,
											int64 offset, int64 target);
extern int64 segment_span(Topic *topic, TopicPartition *part);

/* topic.c */
extern char *topic_name_from_text(text *name);

#endif							/* TOPIC_H */

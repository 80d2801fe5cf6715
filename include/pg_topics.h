/*-------------------------------------------------------------------------
 *
 * pg_topics.h
 *	  Declarations shared by every part of pg_topics: settings, the shape
 *	  of a message row, and the entry points of each concern.
 *
 * A topic is a row of topics.topic and a tree of tables in schema
 * topics_data: the root (LIST on partition, named after the topic), one
 * table per partition (RANGE on msg_offset) and, below each, a chain of
 * segment tables, each holding a fixed range of offsets.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PG_TOPICS_H
#define PG_TOPICS_H

#include "fmgr.h"
#include "utils/timestamp.h"

/* Columns of every message table (root, partition and segment alike). */
#define Natts_message				6
#define Anum_message_partition		1
#define Anum_message_offset			2
#define Anum_message_timestamp		3
#define Anum_message_key			4
#define Anum_message_value			5
#define Anum_message_headers		6

#define TOPICS_SCHEMA		"topics"
#define TOPICS_DATA_SCHEMA	"topics_data"

/* Kafka's legal topic name length is 249; ours is bounded by NAMEDATALEN. */
#define TOPIC_NAME_MAXLEN	(NAMEDATALEN - 1)

/* Topic modes (DESIGN section 1). */
typedef enum TopicMode
{
	TOPIC_MODE_STREAM,
	TOPIC_MODE_STORE,
	TOPIC_MODE_QUEUE
} TopicMode;

/* guc.c */
extern int	pg_topics_max_message_bytes;
extern int	pg_topics_max_partitions;
extern int	pg_topics_max_open_producers;
extern int	pg_topics_segment_create_timeout;
extern int	pg_topics_worker_naptime;
extern void pg_topics_define_gucs(bool preloading);

/* pg_topics.c */
extern void pg_topics_check_loaded(void);
extern bool pg_topics_loaded(void);
extern int64 pg_topics_interval_ms(Interval *span);
extern int64 pg_topics_wait_ms(Interval *span);
extern void pg_topics_check_max_messages(int max, const char *what);

/* The most messages one fetch or poll returns. */
#define MAX_MESSAGES_PER_CALL	1000000

/* murmur2.c */
extern int32 kafka_murmur2(const char *data, int len);
extern int	kafka_partition_for_key(const char *data, int len,
										int npartitions);

#endif							/* PG_TOPICS_H */

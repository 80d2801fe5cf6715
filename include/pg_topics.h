/*-------------------------------------------------------------------------
 *
 * pg_topics.h
 *	  Constants shared by every part of pg_topics: the schemas, the shape
 *	  of a message row and the topic modes.
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

/*
 * Classes of our advisory locks (field4 of the lock tag; SQL's advisory
 * locks use 1 and 2), as pg_locks shows them in objsubid: a group's
 * position on a partition (group_catalog.c), a partition being made and a
 * group of partitions being made (topic_admin.c).
 */
#define POSITION_LOCK_CLASS			0x7470
#define MAKE_PARTITION_LOCK_CLASS	0x7471
#define MAKE_GROUP_LOCK_CLASS		0x7472

/* Topic modes (DESIGN section 1). */
typedef enum TopicMode
{
	TOPIC_MODE_STREAM,
	TOPIC_MODE_STORE,
	TOPIC_MODE_QUEUE
} TopicMode;

#endif							/* PG_TOPICS_H */

/*-------------------------------------------------------------------------
 *
 * guc.c
 *	  The settings of pg_topics, all under the reserved prefix pg_topics.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>

#include "utils/guc.h"
#include "utils/memutils.h"

#include "guc.h"

int			pg_topics_max_message_bytes = 1024 * 1024;
int			pg_topics_max_partitions = 4096;
int			pg_topics_max_queue_partitions = 128;
int			pg_topics_max_open_producers = 8192;
int			pg_topics_max_members = 4096;
int			pg_topics_segment_create_timeout = 30000;
int			pg_topics_worker_naptime = 1000;
int			pg_topics_rebalance_delay = 100;
int			pg_topics_max_workers = 2;
int			pg_topics_makers_per_database = 2;
int			pg_topics_segment_cache_size = 4096;
int			pg_topics_topic_cache_size = 1024;
bool		pg_topics_synchronous_positions = false;
int			pg_topics_retention_time = 7 * 24 * 3600;
int			pg_topics_retention_size = -1;
int			pg_topics_segment_time = 7 * 24 * 3600;
int			pg_topics_cleanup_policy = CLEANUP_DELETE;
int			pg_topics_delete_retention_time = 24 * 3600 * 1000;
int			pg_topics_min_compaction_lag = 0;
int			pg_topics_message_timestamp_type = TIMESTAMP_CREATE_TIME;
int			pg_topics_maintenance_interval = 300 * 1000;

static const struct config_enum_entry cleanup_policies[] = {
	{"delete", CLEANUP_DELETE, false},
	{"compact", CLEANUP_COMPACT, false},
	{"delete,compact", CLEANUP_DELETE | CLEANUP_COMPACT, false},
	{"compact,delete", CLEANUP_DELETE | CLEANUP_COMPACT, true},
	{NULL, 0, false}
};

static const struct config_enum_entry timestamp_types[] = {
	{"CreateTime", TIMESTAMP_CREATE_TIME, false},
	{"LogAppendTime", TIMESTAMP_LOG_APPEND_TIME, false},
	{NULL, 0, false}
};

/*
 * pg_topics_define_gucs defines every setting and reserves the prefix.
 * Settings that size shared memory exist only when the library is
 * preloaded: defining a PGC_POSTMASTER setting after start-up is an error,
 * and CREATE EXTENSION must still work without preloading.
 */
void
pg_topics_define_gucs(bool preloading)
{
	DefineCustomIntVariable("pg_topics.max_message_bytes",
							"Largest message (key plus value plus headers) a producer may send.",
							NULL,
							&pg_topics_max_message_bytes,
							1024 * 1024, 1, MaxAllocSize / 2,
							PGC_SUSET, GUC_UNIT_BYTE,
							NULL, NULL, NULL);

	DefineCustomIntVariable("pg_topics.segment_create_timeout",
							"How long a producer waits for a new segment table: for a free worker slot, and the worker for its locks.",
							NULL,
							&pg_topics_segment_create_timeout,
							30000, 100, INT_MAX,
							PGC_SUSET, GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("pg_topics.segment_cache_size",
							"Segment tables whose descriptions a backend keeps.",
							"Past this many, the descriptions of the segments a backend used longest ago are dropped, and built again on their next use.",
							&pg_topics_segment_cache_size,
							4096, 1, INT_MAX / 2,
							PGC_USERSET, 0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("pg_topics.topic_cache_size",
							"Topics whose catalog a backend keeps.",
							"Past this many, the topics a backend opened longest ago are given up at the end of the transaction, and loaded again on their next use.",
							&pg_topics_topic_cache_size,
							1024, 1, INT_MAX / 2,
							PGC_USERSET, 0,
							NULL, NULL, NULL);

	DefineCustomBoolVariable("pg_topics.synchronous_positions",
							 "Whether a transaction that only moves consumer group positions waits for its WAL to be flushed at commit.",
							 "When off, such a commit returns at once, as with synchronous_commit = off: a crash right after may lose the latest position moves, and the group then reads those messages again; it never skips one.  A transaction that writes anything else commits as synchronous_commit says.",
							 &pg_topics_synchronous_positions,
							 false,
							 PGC_USERSET, 0,
							 NULL, NULL, NULL);

	DefineCustomIntVariable("pg_topics.rebalance_delay",
							"How long a new member of a consumer group waits for more members to join with it.",
							"Members that join a group within this delay of each other are added in one rebalance (Kafka's group.initial.rebalance.delay.ms); each new one moves the end on by the delay, up to ten delays.  0 rebalances at every join.",
							&pg_topics_rebalance_delay,
							100, 0, 60000,
							PGC_SUSET, GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("pg_topics.worker_naptime",
							"How often each database's worker expires silent consumer group members.",
							NULL,
							&pg_topics_worker_naptime,
							1000, 10, 3600 * 1000,
							PGC_SIGHUP, GUC_UNIT_MS,
							NULL, NULL, NULL);

	if (preloading)
	{
		DefineCustomIntVariable("pg_topics.max_partitions",
								"Partitions, across all topics and databases, whose state shared memory can hold.",
								NULL,
								&pg_topics_max_partitions,
								4096, 16, 1024 * 1024,
								PGC_POSTMASTER, 0,
								NULL, NULL, NULL);

		DefineCustomIntVariable("pg_topics.max_queue_partitions",
								"Queue partitions, across all topics and databases, whose delivery windows shared memory can hold.",
								"Each takes about 80 kB.",
								&pg_topics_max_queue_partitions,
								128, 1, 1024 * 1024,
								PGC_POSTMASTER, 0,
								NULL, NULL, NULL);

		DefineCustomIntVariable("pg_topics.max_members",
								"Consumer group members, across all databases, whose heartbeats shared memory can hold.",
								NULL,
								&pg_topics_max_members,
								4096, 16, 1024 * 1024,
								PGC_POSTMASTER, 0,
								NULL, NULL, NULL);

		DefineCustomIntVariable("pg_topics.max_open_producers",
								"Pairs of open producing transaction and partition that shared memory can track.",
								NULL,
								&pg_topics_max_open_producers,
								8192, 64, 1024 * 1024,
								PGC_POSTMASTER, 0,
								NULL, NULL, NULL);

	}

	DefineCustomIntVariable("pg_topics.max_workers",
							"Most per-database maintenance workers that run at once.",
							"Never more than half of max_worker_processes, which leaves room for the workers that add segments.  When more databases have pg_topics, their workers take turns.",
							&pg_topics_max_workers,
							2, 1, 1024,
							PGC_SIGHUP, 0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("pg_topics.makers_per_database",
							"Most segment makers one database runs at once.",
							"Segment makers add segments, make the partitions of new topics and drop the tables of dropped ones; a wide topic's partitions are made by as many in parallel.  All databases' makers together take at most half of what max_worker_processes leaves beyond pg_topics.max_workers.",
							&pg_topics_makers_per_database,
							2, 1, 16,
							PGC_SIGHUP, 0,
							NULL, NULL, NULL);

	/*
	 * The defaults of topic settings, as a Kafka broker's: a topic's own
	 * setting, under Kafka's name, wins (topic_config.c).  Server-wide, so
	 * that a session's SET cannot make it see other settings than the
	 * worker acts on.
	 */
	DefineCustomIntVariable("pg_topics.retention_time",
							"How long a stream topic keeps its messages, unless it sets retention.ms (Kafka's log.retention.ms).",
							"-1 keeps them for ever.",
							&pg_topics_retention_time,
							7 * 24 * 3600, -1, INT_MAX,
							PGC_SIGHUP, GUC_UNIT_S,
							NULL, NULL, NULL);

	DefineCustomIntVariable("pg_topics.retention_size",
							"Most bytes a partition of a stream topic keeps, unless it sets retention.bytes (Kafka's log.retention.bytes).",
							"-1 sets no limit.",
							&pg_topics_retention_size,
							-1, -1, INT_MAX,
							PGC_SIGHUP, GUC_UNIT_KB,
							NULL, NULL, NULL);

	DefineCustomIntVariable("pg_topics.segment_time",
							"Age at which a segment rolls over, unless the topic sets segment.ms (Kafka's log.roll.ms).",
							NULL,
							&pg_topics_segment_time,
							7 * 24 * 3600, 1, INT_MAX,
							PGC_SIGHUP, GUC_UNIT_S,
							NULL, NULL, NULL);

	DefineCustomEnumVariable("pg_topics.cleanup_policy",
							 "What a stream topic does with old messages, unless it sets cleanup.policy (Kafka's log.cleanup.policy).",
							 NULL,
							 &pg_topics_cleanup_policy,
							 CLEANUP_DELETE, cleanup_policies,
							 PGC_SIGHUP, 0,
							 NULL, NULL, NULL);

	DefineCustomIntVariable("pg_topics.delete_retention_time",
							"How long compaction keeps a tombstone, unless the topic sets delete.retention.ms (Kafka's log.cleaner.delete.retention.ms).",
							NULL,
							&pg_topics_delete_retention_time,
							24 * 3600 * 1000, 0, INT_MAX,
							PGC_SIGHUP, GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("pg_topics.min_compaction_lag",
							"Age below which compaction leaves a message alone, unless the topic sets min.compaction.lag.ms (Kafka's log.cleaner.min.compaction.lag.ms).",
							NULL,
							&pg_topics_min_compaction_lag,
							0, 0, INT_MAX,
							PGC_SIGHUP, GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomEnumVariable("pg_topics.message_timestamp_type",
							 "Which time a message keeps, unless the topic sets message.timestamp.type (Kafka's log.message.timestamp.type).",
							 "CreateTime keeps the producer's (now, when it gives none); LogAppendTime the time the message was written.",
							 &pg_topics_message_timestamp_type,
							 TIMESTAMP_CREATE_TIME, timestamp_types,
							 PGC_SIGHUP, 0,
							 NULL, NULL, NULL);

	DefineCustomIntVariable("pg_topics.maintenance_interval",
							"How often each database's worker runs retention, segment roll-over and compaction (Kafka's log.retention.check.interval.ms).",
							NULL,
							&pg_topics_maintenance_interval,
							300 * 1000, 10, INT_MAX,
							PGC_SIGHUP, GUC_UNIT_MS,
							NULL, NULL, NULL);

	MarkGUCPrefixReserved("pg_topics");
}

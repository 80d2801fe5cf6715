/*-------------------------------------------------------------------------
 *
 * guc.h
 *	  The settings of pg_topics.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PG_TOPICS_GUC_H
#define PG_TOPICS_GUC_H

extern int	pg_topics_max_message_bytes;
extern int	pg_topics_max_partitions;
extern int	pg_topics_max_queue_partitions;
extern int	pg_topics_max_open_producers;
extern int	pg_topics_max_members;
extern int	pg_topics_segment_create_timeout;
extern int	pg_topics_worker_naptime;
extern int	pg_topics_rebalance_delay;
extern int	pg_topics_max_workers;
extern int	pg_topics_makers_per_database;
extern int	pg_topics_segment_cache_size;
extern int	pg_topics_topic_cache_size;
extern bool pg_topics_synchronous_positions;
extern int	pg_topics_retention_time;
extern int	pg_topics_retention_size;
extern int	pg_topics_segment_time;
extern int	pg_topics_cleanup_policy;
extern int	pg_topics_delete_retention_time;
extern int	pg_topics_min_compaction_lag;
extern int	pg_topics_message_timestamp_type;
extern int	pg_topics_maintenance_interval;

/* Values of pg_topics.cleanup_policy: bits */
#define CLEANUP_DELETE		1
#define CLEANUP_COMPACT		2

/* Values of pg_topics.message_timestamp_type */
#define TIMESTAMP_CREATE_TIME		0
#define TIMESTAMP_LOG_APPEND_TIME	1

extern void pg_topics_define_gucs(bool preloading);

#endif							/* PG_TOPICS_GUC_H */

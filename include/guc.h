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

extern void pg_topics_define_gucs(bool preloading);

#endif							/* PG_TOPICS_GUC_H */

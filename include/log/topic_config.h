/*-------------------------------------------------------------------------
 *
 * topic_config.h
 *	  A topic's settings, under Kafka's names, with the server's defaults.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PG_TOPICS_TOPIC_CONFIG_H
#define PG_TOPICS_TOPIC_CONFIG_H

#include "utils/jsonb.h"

#include "pg_topics.h"

/* A topic's settings, each its own or the server's default. */
typedef struct TopicConfig
{
	int64		retention_ms;	/* -1: kept for ever */
	int64		retention_bytes;	/* per partition; -1: no limit */
	int64		segment_ms;		/* a segment rolls over once this old */
	int64		segment_messages;	/* 0: segment.c's default */
	int64		segment_bytes;	/* 0: segment.c's default */
	bool		cleanup_delete; /* retention drops old segments */
	bool		cleanup_compact;	/* compaction keeps a key's last value */
	int64		delete_retention_ms;	/* how long tombstones stay */
	int64		min_compaction_lag_ms;	/* messages younger are not compacted */
	int64		max_message_bytes;	/* 0: pg_topics.max_message_bytes */
	bool		log_append_time;	/* the log's time, not the producer's */
} TopicConfig;

extern void topic_config_parse(Jsonb *config, TopicMode mode,
							   TopicConfig *cfg);
extern void topic_config_check_keys(Jsonb *config, TopicMode mode);
extern TopicMode topic_mode_from_name(const char *mode);
extern int64 topic_max_message_bytes(const TopicConfig *cfg);
extern int64 topic_config_int(Jsonb *config, const char *key);
extern char *topic_config_text(Jsonb *config, const char *key);

#endif							/* PG_TOPICS_TOPIC_CONFIG_H */

/*-------------------------------------------------------------------------
 *
 * queue_config.h
 *	  The settings of a queue topic.
 *
 *-------------------------------------------------------------------------
 */
#ifndef QUEUE_CONFIG_H
#define QUEUE_CONFIG_H

#include "utils/jsonb.h"

#include "log/topic.h"

/* The settings of a queue topic, from its config. */
typedef struct QueueConfig
{
	int			window;
	int64		visibility_timeout_ms;
	int			max_deliveries; /* 0: no limit */
	bool		fifo_key;
	char		dead_letter_topic[NAMEDATALEN];
} QueueConfig;

extern void queue_config_check(const char *topic, Jsonb *config);
extern void queue_config_parse(Jsonb *config, const char *topic,
							   QueueConfig *cfg);
extern void queue_config_read(Topic *topic, QueueConfig *cfg);
extern void queue_check_topic(Topic *topic, const char *call);

#endif							/* QUEUE_CONFIG_H */

/*-------------------------------------------------------------------------
 *
 * queue_config.c
 *	  The settings of a queue topic: reading and checking them.
 *
 * A queue topic's config holds, besides the segment settings of every
 * topic, visibility.timeout.ms (the lease of topics.receive() when it is
 * given no vt), max.deliveries (after which a message goes to the
 * dead-letter topic), dead.letter.topic (its name; made with the queue),
 * fifo ("partition", or "key": one message of a key in flight at a time)
 * and delivery.window (the most offsets of a partition in flight or done
 * above its start).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/builtins.h"
#include "utils/jsonb.h"

#include "log/topic_config.h"
#include "log/topic_tables.h"
#include "queue/queue_config.h"
#include "queue/window.h"

#define DEFAULT_VISIBILITY_TIMEOUT_MS	30000
#define DEFAULT_MAX_DELIVERIES			5

/*
 * queue_config_parse fills cfg from a queue topic's config, checking each
 * setting; topic names the queue, for the default dead-letter topic.
 */
void
queue_config_parse(Jsonb *config, const char *topic, QueueConfig *cfg)
{
	int64		window = topic_config_int(config, "delivery.window");
	int64		vt = topic_config_int(config, "visibility.timeout.ms");
	int64		max = topic_config_int(config, "max.deliveries");
	char	   *fifo = topic_config_text(config, "fifo");
	char	   *dlq = topic_config_text(config, "dead.letter.topic");

	if (window > QUEUE_WINDOW_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("topic setting \"delivery.window\" must be from 1 to %d",
						QUEUE_WINDOW_MAX)));
	if (max > PG_INT32_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("topic setting \"max.deliveries\" must be from 1 to %d",
						PG_INT32_MAX)));
	if (fifo != NULL && strcmp(fifo, "partition") != 0 &&
		strcmp(fifo, "key") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid topic setting \"fifo\": \"%s\"", fifo),
				 errhint("Valid values are \"partition\" and \"key\".")));
	cfg->window = window > 0 ? (int) window : QUEUE_WINDOW_MAX;
	cfg->visibility_timeout_ms = vt > 0 ? vt : DEFAULT_VISIBILITY_TIMEOUT_MS;
	cfg->max_deliveries = max > 0 ? (int) max : DEFAULT_MAX_DELIVERIES;
	cfg->fifo_key = fifo != NULL && strcmp(fifo, "key") == 0;
	if (dlq == NULL)
		dlq = psprintf("%s.dead_letter", topic);
	if (strlen(dlq) == 0 || strlen(dlq) > TOPIC_NAME_MAXLEN)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid dead-letter topic name \"%s\"", dlq),
				 errdetail("A topic name has from 1 to %d bytes.",
						   TOPIC_NAME_MAXLEN),
				 errhint("Name one with the topic setting \"dead.letter.topic\".")));
	(void) topic_name_from_text(cstring_to_text(dlq));
	if (strcmp(dlq, topic) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a queue cannot be its own dead-letter topic")));
	strlcpy(cfg->dead_letter_topic, dlq, NAMEDATALEN);
}

/*
 * queue_config_check raises 22023 unless the queue settings of config are
 * valid for a queue named topic.
 */
void
queue_config_check(const char *topic, Jsonb *config)
{
	QueueConfig cfg;

	queue_config_parse(config, topic, &cfg);
}

/*
 * queue_config_read fills cfg from an open queue topic's config.
 */
void
queue_config_read(Topic *topic, QueueConfig *cfg)
{
	queue_config_parse(topic->config, topic->name, cfg);
}

/*
 * queue_check_topic raises 42809 unless topic is a queue: call names the
 * queue call made on it.
 */
void
queue_check_topic(Topic *topic, const char *call)
{
	if (topic->mode != TOPIC_MODE_QUEUE)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("topic \"%s\" is not a queue", topic->name),
				 errdetail("%s reads queue topics; this topic is a %s.", call,
						   topic->mode == TOPIC_MODE_STORE ? "store" : "stream"),
				 errhint("Read a stream or store topic with topics.fetch() or a consumer group's topics.poll(); create a queue with mode 'queue'.")));
}

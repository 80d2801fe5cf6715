/*-------------------------------------------------------------------------
 *
 * queue_topic.c
 *	  What a queue topic needs beyond a stream's: its settings checked, its
 *	  dead-letter topic, and the delivery state of its partitions.
 *
 * The log calls these hooks as it creates a topic or adds partitions
 * (topic_admin.c), so that it need not know what a queue keeps.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/fmgrprotos.h"
#include "utils/jsonb.h"

#include "log/segment_maker.h"
#include "log/topic_admin.h"
#include "queue/delivery_store.h"
#include "queue/queue_config.h"
#include "queue/queue_topic.h"

/*
 * queue_created makes the dead-letter topic of a new queue, a stream of as
 * many partitions, unless a topic of that name exists.  Caller runs as in
 * topic_create.
 */
static void
queue_created(AsOwner *admin, const char *name, int partitions, Jsonb *config)
{
	QueueConfig cfg;
	Oid			owner;
	int			have;
	Jsonb	   *empty;

	queue_config_parse(config, name, &cfg);
	if (topic_lookup_row(cfg.dead_letter_topic, &owner, &have))
		return;
	empty = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum("{}")));
	if (!topic_create(admin, cfg.dead_letter_topic, partitions, "stream", empty))
		segment_maker_ask_at_commit(MAKE_PARTITIONS, cfg.dead_letter_topic,
									partitions);
}

static const QueueTopicHooks hooks = {
	.check_config = queue_config_check,
	.created = queue_created,
	.partitions_added = delivery_store_add_partitions,
};

/*
 * queue_topic_init installs the hooks; called from _PG_init.
 */
void
queue_topic_init(void)
{
	topic_set_queue_hooks(&hooks);
}

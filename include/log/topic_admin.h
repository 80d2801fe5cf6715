/*-------------------------------------------------------------------------
 *
 * topic_admin.h
 *	  Creating, dropping and growing topics (admin calls, through SPI).
 *
 *-------------------------------------------------------------------------
 */
#ifndef TOPIC_ADMIN_H
#define TOPIC_ADMIN_H

#include "utils/jsonb.h"

#include "log/topic.h"
#include "log/topic_tables.h"

/*
 * What the queue layer adds to a queue topic's life: it checks the queue
 * settings of a config, and makes what a new queue needs (created, as the
 * topic's owner) and what its new partitions need (partitions_added, as
 * the catalog's owner, for [from, to)).
 */
typedef struct QueueTopicHooks
{
	void		(*check_config) (const char *name, Jsonb *config);
	void		(*created) (AsOwner *admin, const char *name, int partitions,
							Jsonb *config);
	void		(*partitions_added) (const char *topic, int from, int to);
} QueueTopicHooks;

extern void topic_set_queue_hooks(const QueueTopicHooks *hooks);
extern void topic_check_config(Jsonb *config, const char *mode,
							   const char *name);
extern Jsonb *topic_alter(Topic *topic, Jsonb *changes);
extern void topic_check_owner(const char *name, Oid owner);
extern bool topic_create(AsOwner *admin, const char *name, int partitions,
						 const char *mode, Jsonb *config);
extern int	topic_add_partitions(AsOwner *admin, Topic *topic, int count,
								 bool *all_made);
extern int	topic_partitions_per_transaction(void);
extern int	topic_make_range_width(int partitions, int ranges);
extern bool topic_make_partitions(const char *topic, int *from, int to, int max);
extern void topic_make_partition(const char *topic, int wanted);
extern void topic_make_partition_here(const char *topic, int partition);
extern bool topic_drop(AsOwner *admin, const char *name, int partitions);
extern bool topic_dropping(const char *name, bool *here);
extern bool topic_drop_tables(const char *dropping);
extern List *topic_drops_unfinished(void);

#endif							/* TOPIC_ADMIN_H */

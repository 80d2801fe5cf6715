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

extern void topic_check_config(Jsonb *config);
extern void topic_check_owner(const char *name, Oid owner);
extern void topic_create(AsOwner *admin, const char *name, int partitions,
						 const char *mode, Jsonb *config);
extern int	topic_add_partitions(AsOwner *admin, Topic *topic, int count);
extern void topic_drop(AsOwner *admin, const char *name, int partitions);

#endif							/* TOPIC_ADMIN_H */

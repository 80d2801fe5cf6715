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

/* The caller of an admin call, and the user it saved to run as owner. */
typedef struct TopicAdmin
{
	Oid			caller;
	Oid			saved_user;
	int			saved_sec;
} TopicAdmin;

extern void topic_admin_begin(TopicAdmin *admin);
extern void topic_admin_end(TopicAdmin *admin);
extern void topic_check_config(Jsonb *config);
extern void topic_check_create(void);
extern void topic_check_owner(Topic *topic);
extern int32 topic_create(TopicAdmin *admin, const char *name, int partitions,
						  const char *mode, Jsonb *config);
extern int	topic_add_partitions(TopicAdmin *admin, Topic *topic, int count);
extern void topic_drop(TopicAdmin *admin, Topic *topic);

#endif							/* TOPIC_ADMIN_H */

/*-------------------------------------------------------------------------
 *
 * retention.h
 *	  Which segments of a stream partition retention lets go.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PG_TOPICS_RETENTION_H
#define PG_TOPICS_RETENTION_H

#include "datatype/timestamp.h"

#include "log/topic.h"

extern int	retention_expire(Topic *topic, int partition, TimestampTz now);

#endif							/* PG_TOPICS_RETENTION_H */

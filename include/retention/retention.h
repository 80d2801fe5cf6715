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

extern TimestampTz time_before(TimestampTz now, int64 ms);
extern int	retention_expire(Topic *topic, int partition, TimestampTz now);
extern void retention_measure_sealed(void);
extern TimestampTz segment_newest_timestamp(const char *topic, int partition,
										   int64 base);

#endif							/* PG_TOPICS_RETENTION_H */

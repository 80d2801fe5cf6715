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

/* Columns of segments_from_log_start. */
#define SEGMENT_BASE		1
#define SEGMENT_END			2
#define SEGMENT_NEWEST		3	/* NULL: not measured yet */
#define SEGMENT_SIZE		4
#define SEGMENT_SEALED		5	/* counted in the partition's sealed size */
#define SEGMENT_COMPACTED	6	/* the partition's compacted_end */

extern void segments_from_log_start(const char *topic, int partition,
									bool sized);
extern TimestampTz time_before(TimestampTz now, int64 ms);
extern int	retention_expire(Topic *topic, int partition, TimestampTz now);
extern void retention_measure_sealed(void);
extern TimestampTz segment_newest_timestamp(const char *topic, int partition,
										   int64 base);

#endif							/* PG_TOPICS_RETENTION_H */

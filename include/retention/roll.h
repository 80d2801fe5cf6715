/*-------------------------------------------------------------------------
 *
 * roll.h
 *	  Rolling over a partition's segment by age (segment.ms).
 *
 *-------------------------------------------------------------------------
 */
#ifndef PG_TOPICS_ROLL_H
#define PG_TOPICS_ROLL_H

#include "datatype/timestamp.h"

#include "log/topic.h"

extern bool roll_segment(Topic *topic, int partition, TimestampTz now);
extern bool segment_first_timestamp(Topic *topic, int partition,
									const LogSegment *seg, int64 from,
									TimestampTz *ts);

#endif							/* PG_TOPICS_ROLL_H */

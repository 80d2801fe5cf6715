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

#endif							/* PG_TOPICS_ROLL_H */

/*-------------------------------------------------------------------------
 *
 * compaction.h
 *	  Keeping only the latest message of each key in a compacted topic's
 *	  sealed segments.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PG_TOPICS_COMPACTION_H
#define PG_TOPICS_COMPACTION_H

#include "datatype/timestamp.h"

#include "log/topic.h"

extern int	compaction_run(Topic *topic, int partition, TimestampTz now,
						   bool patient, int64 *bytes);
extern void compaction_begin(void);
extern int	compaction_finish(int64 *bytes);

#endif							/* PG_TOPICS_COMPACTION_H */

/*-------------------------------------------------------------------------
 *
 * segment.h
 *	  Segment tables: creating them, and the short-lived worker that adds
 *	  the next one of a partition in a transaction of its own.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SEGMENT_H
#define SEGMENT_H

#include "log/topic.h"

#define DEFAULT_SEGMENT_MESSAGES	INT64CONST(1000000)
#define DEFAULT_SEGMENT_BYTES		INT64CONST(128 * 1024 * 1024)

extern void segment_create(const char *topic, int partition, int64 base,
						   int64 end);
extern bool segment_request(Topic *topic, int partition, int64 target,
							bool wait);
extern const LogSegment *segment_wait_for(Topic **topicp, int partition,
										  int64 offset, int64 target);
extern int64 segment_next_span(Topic *topic, int partition);

extern PGDLLEXPORT void pg_topics_segment_worker_main(Datum arg);

#endif							/* SEGMENT_H */

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

/* What a producer asks the segment maker to do (segment_maker.c). */
typedef struct SegmentRequest
{
	Oid			dbid;
	char		topic[NAMEDATALEN];
	int32		partition;
	int64		target;			/* make the chain cover this offset */
	int64		log_end;		/* the partition's, when asked; -1 unknown */
	int64		resume;			/* see partition_resume_offset; -1 unknown */
} SegmentRequest;

/* What became of a request (segment_maker_request). */
typedef enum MakerOutcome
{
	MAKER_ASKED,				/* queued (without wait) or served (with) */
	MAKER_UNAVAILABLE,			/* queue full, or no maker could start */
	MAKER_TIMED_OUT				/* queued, not served within the timeout */
} MakerOutcome;

#define DEFAULT_SEGMENT_MESSAGES	INT64CONST(1000000)
#define DEFAULT_SEGMENT_BYTES		INT64CONST(128 * 1024 * 1024)

extern void segment_create(const char *topic, int partition, int64 base,
						   int64 end);
extern MakerOutcome segment_request(Topic *topic, int partition,
									int64 target, bool wait);
extern const LogSegment *segment_wait_for(Topic **topicp, int partition,
										  int64 offset, int64 target);
extern int64 segment_next_span(Topic *topic, int partition);
extern bool segment_extend(SegmentRequest *req);

#endif							/* SEGMENT_H */

/*-------------------------------------------------------------------------
 *
 * segment.h
 *	  Segment tables: creating them, and adding the next ones of a
 *	  partition (the segment maker's work, or the creating transaction's).
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

#define DEFAULT_SEGMENT_MESSAGES	INT64CONST(1000000)
#define DEFAULT_SEGMENT_BYTES		INT64CONST(128 * 1024 * 1024)

extern void segment_create(const char *topic, int partition, int64 base,
						   int64 end);
extern bool segment_extend(SegmentRequest *req);
extern void segment_extend_here(Topic *topic, int partition, int64 target);

#endif							/* SEGMENT_H */

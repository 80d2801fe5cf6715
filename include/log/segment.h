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

/* The work the segment maker does. */
typedef enum MakerWork
{
	MAKE_SEGMENTS,				/* extend a partition's chain (segment_extend) */
	MAKE_PARTITIONS,			/* make a topic's partitions not made yet */
	DROP_TABLES					/* drop the tables of a dropped topic */
} MakerWork;

/*
 * What a producer (or a command, or the database worker) asks the segment
 * maker to do (segment_maker.c).  For DROP_TABLES, topic holds the name
 * of the dropped topic's root table (topic_dropping_name); for
 * MAKE_PARTITIONS, partition is the one a producer wants, or -1 for those
 * of [from, to) not made yet.
 */
typedef struct SegmentRequest
{
	MakerWork	work;
	Oid			dbid;
	char		topic[NAMEDATALEN];
	int32		partition;
	int64		target;			/* make the chain cover this offset */
	int64		log_end;		/* the partition's, when asked; -1 unknown */
	int64		resume;			/* see partition_resume_offset; -1 unknown */
	int32		lo;				/* MAKE_PARTITIONS: the range [lo, to) asked */
	int32		to;
	int32		from;			/* those of the range below are made */
} SegmentRequest;

#define DEFAULT_SEGMENT_MESSAGES	INT64CONST(1000000)
#define DEFAULT_SEGMENT_BYTES		INT64CONST(128 * 1024 * 1024)

extern void segment_create(const char *topic, int partition, int64 base,
						   int64 end);
extern bool segment_extend(SegmentRequest *req);
extern void segment_extend_here(Topic *topic, int partition, int64 target);

#endif							/* SEGMENT_H */

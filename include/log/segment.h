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

#define DEFAULT_SEGMENT_MESSAGES	INT64CONST(1000000)
#define DEFAULT_SEGMENT_BYTES		INT64CONST(128 * 1024 * 1024)

extern char *partition_table_name(int32 topic_id, int partition);
extern void segment_create(int32 topic_id, int partition, Oid parent,
						   Oid owner, int64 base, int64 end);

extern PGDLLEXPORT void pg_topics_segment_worker_main(Datum arg);

#endif							/* SEGMENT_H */

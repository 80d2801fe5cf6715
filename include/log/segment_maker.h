/*-------------------------------------------------------------------------
 *
 * segment_maker.h
 *	  The background worker that adds segments to the partitions of one
 *	  database, and how producers ask it to and wait for it.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SEGMENT_MAKER_H
#define SEGMENT_MAKER_H

#include "log/segment.h"

/* What became of a request (segment_maker_request). */
typedef enum MakerOutcome
{
	MAKER_ASKED,				/* queued (without wait) or served (with) */
	MAKER_UNAVAILABLE,			/* queue full, or no maker could start */
	MAKER_TIMED_OUT				/* queued, not served within the timeout */
} MakerOutcome;

extern Size segment_maker_shmem_size(void);
extern void segment_maker_shmem_startup(void);
extern MakerOutcome segment_request(Topic *topic, int partition,
									int64 target, int wait_ms);
extern const LogSegment *segment_wait_for(Topic **topicp, int partition,
										  int64 offset, int64 target);
extern bool segment_maker_stop(Oid dbid);
extern void segment_maker_ask_at_commit(MakerWork work, const char *name,
										int partitions);
extern void segment_maker_finish(void);
extern void segment_maker_wait_dropped(const char *name);

extern PGDLLEXPORT void pg_topics_segment_maker_main(Datum arg);

#endif							/* SEGMENT_MAKER_H */

/*-------------------------------------------------------------------------
 *
 * segment_maker.h
 *	  The background worker that adds segments to the partitions of one
 *	  database, and the queue through which producers ask it to.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SEGMENT_MAKER_H
#define SEGMENT_MAKER_H

#include "log/segment.h"

extern Size segment_maker_shmem_size(void);
extern void segment_maker_shmem_startup(void);
extern MakerOutcome segment_maker_request(const SegmentRequest *req,
										  bool wait, int timeout_ms);
extern bool segment_maker_stop(Oid dbid);

extern PGDLLEXPORT void pg_topics_segment_maker_main(Datum arg);

#endif							/* SEGMENT_MAKER_H */

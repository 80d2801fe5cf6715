/*-------------------------------------------------------------------------
 *
 * reclaim.h
 *	  Dropping the segments of a partition below its log start.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PG_TOPICS_RECLAIM_H
#define PG_TOPICS_RECLAIM_H

extern int	reclaim_segments(const char *topic, int partition, int64 below,
							 int64 *bytes);

#endif							/* PG_TOPICS_RECLAIM_H */

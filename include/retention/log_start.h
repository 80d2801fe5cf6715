/*-------------------------------------------------------------------------
 *
 * log_start.h
 *	  Moving a partition's log start, and how far every snapshot sees it.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PG_TOPICS_LOG_START_H
#define PG_TOPICS_LOG_START_H

/* Which recorded start of a partition log_start_safe looks at. */
typedef enum RecordedStartKind
{
	RECORDED_LOG_START,			/* topics.partition.log_start */
	RECORDED_QUEUE_START		/* topics.partition.queue_start */
} RecordedStartKind;

extern bool log_start_move(const char *topic, int partition, Oid relid,
						   int64 start, int64 sealed_freed, bool skip_locked);
extern int64 log_start_safe(const char *topic, int partition,
							RecordedStartKind kind);

#endif							/* PG_TOPICS_LOG_START_H */

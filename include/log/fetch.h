/*-------------------------------------------------------------------------
 *
 * fetch.h
 *	  Reading a partition below its last stable offset.
 *
 *-------------------------------------------------------------------------
 */
#ifndef FETCH_H
#define FETCH_H

#include "funcapi.h"
#include "log/topic.h"

extern Tuplestorestate *fetch_store_begin(FunctionCallInfo fcinfo);
extern int64 fetch_messages(Topic *topic, int partition, int64 from_offset,
							int max_messages, TimestampTz deadline,
							Tuplestorestate *store);
extern int	fetch_partition_rows(Topic *topic, int partition, int64 from,
								 int64 below, int max,
								 Tuplestorestate *store);
extern bool fetch_offset_for_time(Topic *topic, int partition,
								  TimestampTz ts, int64 *offset);

#endif							/* FETCH_H */

/*-------------------------------------------------------------------------
 *
 * fetch.h
 *	  Reading a partition below its last stable offset.
 *
 *-------------------------------------------------------------------------
 */
#ifndef FETCH_H
#define FETCH_H

#include "access/htup.h"
#include "funcapi.h"

#include "log/topic.h"

/* A read of a partition in progress (fetch_reader.c). */
typedef struct FetchReader FetchReader;

extern FetchReader *fetch_reader_begin(Topic *topic, int partition,
									   int64 from, int64 below, int max);
extern bool fetch_reader_next(FetchReader *reader, HeapTuple *tuple);
extern bool fetch_reader_values(FetchReader *reader, Datum *values,
								bool *isnull);
extern bool fetch_reader_row(FetchReader *reader, Datum *values,
							 bool *isnull, ItemPointer tid);
extern void fetch_reader_rewind(FetchReader *reader);
extern void fetch_reader_end(FetchReader *reader);

/* fetch.c */
extern Tuplestorestate *fetch_store_begin(FunctionCallInfo fcinfo);
extern FetchReader *fetch_messages(Topic *topic, int partition,
								   int64 from_offset, int max_messages,
								   TimestampTz deadline);
extern int	fetch_partition_rows(Topic *topic, int partition, int64 from,
								 int64 below, int max,
								 Tuplestorestate *store);
extern bool fetch_offset_for_time(Topic *topic, int partition,
								  TimestampTz ts, int64 *offset);

/* fetch_funcs.c: the arguments of topics.fetch, checked, and the read */
#define FETCH_FUNCTION_SYMBOL "pg_topics_fetch"
#define FETCH_NARGS 5
extern FetchReader *fetch_call(const Datum *args, const bool *nulls);

/* fetch_scan.c */
extern void fetch_scan_init(void);

#endif							/* FETCH_H */

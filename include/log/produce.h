/*-------------------------------------------------------------------------
 *
 * produce.h
 *	  Appending messages to a topic.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PRODUCE_H
#define PRODUCE_H

#include "log/topic.h"

/* One message to append; partition -1 means "route it". */
typedef struct ProduceMessage
{
	int			partition;
	bytea	   *key;			/* NULL: no key */
	bytea	   *value;			/* NULL: a tombstone */
	Datum		headers;		/* jsonb, or 0 */
	TimestampTz timestamp;
	int64		offset;			/* set by produce_messages */
} ProduceMessage;

extern void produce_messages(Topic *topic, ProduceMessage *msgs, int n,
							 bool sticky);
extern void produce_check_message(Topic *topic, ProduceMessage *msg);
extern bytea *produce_utf8_bytes(const char *s, int len, bytea *same);

#endif							/* PRODUCE_H */

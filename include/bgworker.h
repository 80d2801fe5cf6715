/*-------------------------------------------------------------------------
 *
 * bgworker.h
 *	  What every background worker of pg_topics that connects to a
 *	  database is registered with.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PG_TOPICS_BGWORKER_H
#define PG_TOPICS_BGWORKER_H

#include "postmaster/bgworker.h"

extern void pg_topics_database_worker(BackgroundWorker *worker,
									  const char *function, const char *type,
									  const char *name);

#endif							/* PG_TOPICS_BGWORKER_H */

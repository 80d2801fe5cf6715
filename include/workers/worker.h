/*-------------------------------------------------------------------------
 *
 * worker.h
 *	  The per-database maintenance worker of pg_topics.
 *
 *-------------------------------------------------------------------------
 */
#ifndef WORKER_H
#define WORKER_H

/* What the launcher tells a worker, in bgw_extra. */
typedef struct WorkerArgs
{
	Oid			dbid;
	int			slot;
	uint32		generation;
} WorkerArgs;

extern void worker_nap(long ms);

extern PGDLLEXPORT void pg_topics_worker_main(Datum arg);

#endif							/* WORKER_H */

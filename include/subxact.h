/*-------------------------------------------------------------------------
 *
 * subxact.h
 *	  Work on one item of a worker's round, in a subtransaction of its own.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SUBXACT_H
#define SUBXACT_H

typedef void (*SubxactWork) (void *arg);

extern bool subxact_try(SubxactWork work, void *arg, const char *what);
extern bool subxact_run(SubxactWork work, void *arg, const char *what,
						char **error);

#endif							/* SUBXACT_H */

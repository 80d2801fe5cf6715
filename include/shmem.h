/*-------------------------------------------------------------------------
 *
 * shmem.h
 *	  Shared memory of pg_topics, requested and attached at start-up.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PG_TOPICS_SHMEM_H
#define PG_TOPICS_SHMEM_H

extern void pg_topics_shmem_request(void);
extern void pg_topics_shmem_startup(void);

#endif							/* PG_TOPICS_SHMEM_H */

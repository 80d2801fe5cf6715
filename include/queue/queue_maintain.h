/*-------------------------------------------------------------------------
 *
 * queue_maintain.h
 *	  The queue share of a database worker's round.
 *
 *-------------------------------------------------------------------------
 */
#ifndef QUEUE_MAINTAIN_H
#define QUEUE_MAINTAIN_H

extern void queue_maintain(void);

#endif							/* QUEUE_MAINTAIN_H */

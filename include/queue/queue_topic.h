/*-------------------------------------------------------------------------
 *
 * queue_topic.h
 *	  What a queue topic needs beyond a stream's.
 *
 *-------------------------------------------------------------------------
 */
#ifndef QUEUE_TOPIC_H
#define QUEUE_TOPIC_H

extern void queue_topic_init(void);

#endif							/* QUEUE_TOPIC_H */

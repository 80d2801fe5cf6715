/*-------------------------------------------------------------------------
 *
 * preload.h
 *	  Whether pg_topics was loaded through shared_preload_libraries.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PRELOAD_H
#define PRELOAD_H

extern void pg_topics_mark_loaded(void);
extern bool pg_topics_loaded(void);
extern void pg_topics_check_loaded(void);

#endif							/* PRELOAD_H */

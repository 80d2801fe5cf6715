/*-------------------------------------------------------------------------
 *
 * position_commit.h
 *	  Transactions that only move consumer group positions commit without
 *	  waiting for their WAL to be flushed.
 *
 *-------------------------------------------------------------------------
 */
#ifndef POSITION_COMMIT_H
#define POSITION_COMMIT_H

extern void position_commit_init(void);
extern void position_writes_begin(void);
extern void position_writes_end(void);
extern void position_commit_moved(int64 from, int64 to);

#endif							/* POSITION_COMMIT_H */

/*-------------------------------------------------------------------------
 *
 * worker_state.h
 *	  Shared memory of the launcher and the per-database workers.
 *
 *-------------------------------------------------------------------------
 */
#ifndef WORKER_STATE_H
#define WORKER_STATE_H

#include "storage/latch.h"
#include "utils/timestamp.h"

/* Where a worker is in its life; the launcher reads it to rotate workers. */
typedef enum WorkerPhase
{
	WORKER_STARTING,			/* claimed, not yet past its first round */
	WORKER_ROUND,				/* in a round's transaction */
	WORKER_NAPPING,				/* between rounds: holds nothing */
	WORKER_EXITED				/* gone; the launcher frees the slot */
} WorkerPhase;

/*
 * One slot of the pool of per-database workers.  The launcher claims and
 * frees slots; the worker in a slot fills in the rest.
 */
typedef struct WorkerSlot
{
	bool		in_use;
	uint32		generation;		/* bumped at each claim */
	Oid			dbid;
	pid_t		pid;			/* 0 until the worker runs */
	Latch	   *latch;
	WorkerPhase phase;
	bool		stop;			/* asked to exit at its next chance */
	bool		failed;			/* exited with an error, not when asked */
	TimestampTz round_start;	/* start of its last round, 0 before one */
	bool		has_verdict;	/* a round looked for the extension */
	bool		has_extension;	/* what it found */
	uint64		verdict_seq;	/* notices up to here were visible to it */
} WorkerSlot;

/* What a committed command says of the extension in a database. */
typedef struct ExtensionNotice
{
	uint64		seq;
	Oid			dbid;
	bool		has_extension;
} ExtensionNotice;

/* The most notices the launcher can miss between two looks. */
#define WORKER_NOTICES		64

extern Size worker_state_shmem_size(void);
extern void worker_state_shmem_startup(void);

/* The launcher's side. */
extern int	worker_slot_count(void);
extern int	worker_slot_claim(Oid dbid, uint32 *generation);
extern void worker_slot_free(int slot);
extern void worker_slot_read(int slot, WorkerSlot *copy);
extern void worker_slot_ask_stop(int slot);
extern int	worker_notices_read(uint64 *seen, ExtensionNotice *notices,
								bool *lost);
extern bool worker_rescan_requested(void);
extern void launcher_set_latch(Latch *latch);

/* A worker's side. */
extern bool worker_slot_attach(int slot, uint32 generation);
extern uint64 worker_slot_round_begin(int slot);
extern void worker_slot_round_end(int slot, uint64 seq, bool has_extension);
extern bool worker_slot_stop_requested(int slot);
extern void worker_slot_detach(int slot, bool error);

/* Commands' side. */
extern void worker_notice_post(Oid dbid, bool has_extension);
extern void worker_request_rescan(void);
extern void worker_block_database(Oid dbid);
extern void worker_unblock(void);
extern bool worker_database_stop(Oid dbid);
extern void launcher_wake(void);

#endif							/* WORKER_STATE_H */

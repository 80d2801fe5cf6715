/*-------------------------------------------------------------------------
 *
 * capture_setup.h
 *	  Setting capture up and taking it down: topics.capture(),
 *	  topics.uncapture(), and the checks after DDL on a captured table.
 *
 *-------------------------------------------------------------------------
 */
#ifndef CAPTURE_SETUP_H
#define CAPTURE_SETUP_H

#include "storage/lockdefs.h"
#include "utils/relcache.h"

extern Relation capture_open_owned(Oid relid, LOCKMODE lockmode);
extern void capture_snapshot_done(Oid relid);

#endif							/* CAPTURE_SETUP_H */

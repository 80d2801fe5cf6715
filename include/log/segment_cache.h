/*-------------------------------------------------------------------------
 *
 * segment_cache.h
 *	  A bound on the segment tables whose descriptions a backend keeps.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SEGMENT_CACHE_H
#define SEGMENT_CACHE_H

#include "utils/relcache.h"

extern void segment_cache_touch(Relation rel);

#endif							/* SEGMENT_CACHE_H */

/*-------------------------------------------------------------------------
 *
 * segment_cache.c
 *	  A bound on the segment tables whose descriptions a backend keeps.
 *
 * PostgreSQL keeps the description of every table and index a backend has
 * opened (its relcache entry: some 10 kB for a segment and its index)
 * until an invalidation comes, and none comes for a segment once it is
 * full.  A backend that produced to every partition of a topic of 4,000
 * partitions kept 40 MB, and one that read a long history kept the
 * descriptions of every segment it went through.  So the segments a
 * backend writes or reads are kept here in least-recently-used order, and
 * past pg_topics.segment_cache_size the descriptions of the oldest (its
 * table, indexes and TOAST table) are dropped, as an invalidation would
 * drop them; the next use builds them again.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "lib/ilist.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/relcache.h"

#include "guc.h"
#include "log/segment_cache.h"

/* Indexes of a segment remembered to drop with it (it has one). */
#define CACHED_INDEXES		4

typedef struct CachedSegment
{
	Oid			relid;			/* hash key */
	Oid			toastrelid;
	int			nindexes;
	Oid			indexes[CACHED_INDEXES];
	dlist_node	node;			/* in lru, most recent first */
} CachedSegment;

static HTAB *cached = NULL;
static dlist_head lru = DLIST_STATIC_INIT(lru);
static int	ncached = 0;

/*
 * forget drops the descriptions of a segment and its entry.
 */
static void
forget(CachedSegment *seg)
{
	int			i;

	for (i = 0; i < seg->nindexes; i++)
		RelationCacheInvalidateEntry(seg->indexes[i]);
	if (OidIsValid(seg->toastrelid))
		RelationCacheInvalidateEntry(seg->toastrelid);
	RelationCacheInvalidateEntry(seg->relid);
	dlist_delete(&seg->node);
	hash_search(cached, &seg->relid, HASH_REMOVE, NULL);
	ncached--;
}

/*
 * segment_cache_touch records that rel, a segment table, was just used,
 * and drops the descriptions of the segments used longest ago beyond
 * pg_topics.segment_cache_size.
 */
void
segment_cache_touch(Relation rel)
{
	Oid			relid = RelationGetRelid(rel);
	CachedSegment *seg;
	bool		found;

	if (cached == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(Oid);
		ctl.entrysize = sizeof(CachedSegment);
		ctl.hcxt = TopMemoryContext;
		cached = hash_create("pg_topics cached segments", 256, &ctl,
							 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	seg = hash_search(cached, &relid, HASH_ENTER, &found);
	if (found)
	{
		dlist_move_head(&lru, &seg->node);
		return;
	}

	seg->toastrelid = rel->rd_rel->reltoastrelid;
	seg->nindexes = 0;
	if (rel->rd_indexvalid)
	{
		ListCell   *lc;

		foreach(lc, rel->rd_indexlist)
		{
			if (seg->nindexes < CACHED_INDEXES)
				seg->indexes[seg->nindexes++] = lfirst_oid(lc);
		}
	}
	dlist_push_head(&lru, &seg->node);
	ncached++;

	while (ncached > pg_topics_segment_cache_size)
		forget(dlist_container(CachedSegment, node, dlist_tail_node(&lru)));
}

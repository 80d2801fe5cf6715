/*-------------------------------------------------------------------------
 *
 * preload.c
 *	  Whether pg_topics was loaded through shared_preload_libraries.
 *
 * The library must be listed in shared_preload_libraries.  When it is not,
 * _PG_init still defines the settings so that CREATE EXTENSION works, and
 * every function that needs shared memory raises 55000 with a hint.  The
 * shared memory hook marks the library loaded once every part of pg_topics
 * has attached to its shared state.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "preload.h"

static bool attached = false;

/*
 * pg_topics_mark_loaded records that the shared state is attached; called
 * from the shared memory startup hook.
 */
void
pg_topics_mark_loaded(void)
{
	attached = true;
}

/*
 * pg_topics_loaded tells whether the library was preloaded.
 */
bool
pg_topics_loaded(void)
{
	return attached;
}

/*
 * pg_topics_check_loaded raises 55000 unless the library was preloaded.
 */
void
pg_topics_check_loaded(void)
{
	if (!attached)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("pg_topics must be loaded via \"shared_preload_libraries\""),
				 errhint("Add pg_topics to \"shared_preload_libraries\" in postgresql.conf and restart the server.")));
}

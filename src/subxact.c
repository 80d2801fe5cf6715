/*-------------------------------------------------------------------------
 *
 * subxact.c
 *	  Work on one item of a worker's round, in a subtransaction of its own.
 *
 * A database worker's round goes over many topics and partitions in one
 * transaction.  One whose tables were damaged by hand must not stop the
 * others: each item's work runs in a subtransaction, and an error in it is
 * reported and the item skipped until the next round.  A lock that stays
 * busy is different: the caller ends its part of the round, since waiting
 * for the next lock while holding others could deadlock (see
 * topic_lock_unless_busy).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "utils/memutils.h"
#include "utils/resowner.h"

#include "subxact.h"

/*
 * subxact_try runs work(arg) in a subtransaction, and returns true unless
 * a lock it needed was busy (ERRCODE_LOCK_NOT_AVAILABLE).  Any other error
 * rolls the subtransaction back and is reported as a WARNING that starts
 * with what ("could not ...").
 */
bool
subxact_try(SubxactWork work, void *arg, const char *what)
{
	return subxact_run(work, arg, what, NULL);
}

/*
 * subxact_run is subxact_try that also sets *error, when error is not NULL,
 * to the message of the error that rolled the work back (NULL: none).
 */
bool
subxact_run(SubxactWork work, void *arg, const char *what, char **error)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	bool		ok = true;

	if (error != NULL)
		*error = NULL;
	BeginInternalSubTransaction(NULL);
	PG_TRY();
	{
		work(arg);
		ReleaseCurrentSubTransaction();
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		CurrentResourceOwner = owner;
		if (error != NULL)
			*error = pstrdup(edata->message);
		if (edata->sqlerrcode == ERRCODE_LOCK_NOT_AVAILABLE)
			ok = false;
		else
			ereport(WARNING,
					(errcode(edata->sqlerrcode),
					 errmsg("%s: %s", what, edata->message)));
		FreeErrorData(edata);
	}
	PG_END_TRY();
	MemoryContextSwitchTo(cxt);
	CurrentResourceOwner = owner;
	return ok;
}

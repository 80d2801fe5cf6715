/*-------------------------------------------------------------------------
 *
 * index_entries.c
 *	  Index entries of a row written without the executor: produced
 *	  messages, and position rows.
 *
 * ExecInsertIndexTuples wants an executor state, which costs more to set
 * up than a message's insert.  An index whose keys are plain columns, with
 * no predicate and with uniqueness checked at once, needs none of it: its
 * entry is the key columns and the row's TID.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "catalog/pg_index.h"

#include "index_entries.h"

/*
 * index_is_plain tells whether index_entry_insert can make an index's
 * entries: keys straight from columns, no predicate, no exclusion
 * constraint, ready for inserts, uniqueness checked at once.
 */
bool
index_is_plain(Relation index, IndexInfo *ii)
{
	return ii->ii_Expressions == NIL && ii->ii_Predicate == NIL &&
		ii->ii_ExclusionOps == NULL && ii->ii_ReadyForInserts &&
		index->rd_index->indimmediate;
}

/*
 * index_entry_insert makes the entry in a plain index (index_is_plain) of
 * the row of heap in slot, stored at tid.
 */
void
index_entry_insert(Relation heap, Relation index, IndexInfo *ii,
				   TupleTableSlot *slot, ItemPointer tid)
{
	Datum		values[INDEX_MAX_KEYS];
	bool		isnull[INDEX_MAX_KEYS];
	int			k;

	for (k = 0; k < ii->ii_NumIndexAttrs; k++)
		values[k] = slot_getattr(slot, ii->ii_IndexAttrNumbers[k], &isnull[k]);
	index_insert(index, values, isnull, tid, heap,
				 ii->ii_Unique ? UNIQUE_CHECK_YES : UNIQUE_CHECK_NO,
				 false, ii);
}

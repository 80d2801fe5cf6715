/*-------------------------------------------------------------------------
 *
 * index_entries.h
 *	  Index entries of a row written without the executor.
 *
 *-------------------------------------------------------------------------
 */
#ifndef INDEX_ENTRIES_H
#define INDEX_ENTRIES_H

#include "executor/tuptable.h"
#include "nodes/execnodes.h"
#include "utils/rel.h"

extern bool index_is_plain(Relation index, IndexInfo *ii);
extern void index_entry_insert(Relation heap, Relation index, IndexInfo *ii,
							   TupleTableSlot *slot, ItemPointer tid);

#endif							/* INDEX_ENTRIES_H */

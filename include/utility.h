/*-------------------------------------------------------------------------
 *
 * utility.h
 *	  What pg_topics does around utility commands.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PG_TOPICS_UTILITY_H
#define PG_TOPICS_UTILITY_H

#include "nodes/plannodes.h"

extern void pg_topics_utility_before(PlannedStmt *pstmt);
extern void pg_topics_utility_after(PlannedStmt *pstmt);

#endif							/* PG_TOPICS_UTILITY_H */

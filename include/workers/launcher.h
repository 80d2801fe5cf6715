/*-------------------------------------------------------------------------
 *
 * launcher.h
 *	  The launcher of the per-database workers of pg_topics, and what
 *	  commands tell it.
 *
 *-------------------------------------------------------------------------
 */
#ifndef LAUNCHER_H
#define LAUNCHER_H

#include "nodes/nodes.h"

extern void launcher_register(void);
extern void launcher_utility_before(Node *parsetree);
extern void launcher_utility_after(Node *parsetree);

extern PGDLLEXPORT void pg_topics_launcher_main(Datum arg);

#endif							/* LAUNCHER_H */

/*-------------------------------------------------------------------------
 *
 * maintenance.h
 *	  The maintenance jobs of topics: retention and reclamation, with
 *	  their log.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PG_TOPICS_MAINTENANCE_H
#define PG_TOPICS_MAINTENANCE_H

extern void maintenance_run(const char *topic);
extern void maintenance_round(void);
extern bool maintenance_pending(void);

#endif							/* PG_TOPICS_MAINTENANCE_H */

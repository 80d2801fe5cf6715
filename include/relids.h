/*-------------------------------------------------------------------------
 *
 * relids.h
 *	  The OIDs of pg_topics' own catalog tables and their indexes.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RELIDS_H
#define RELIDS_H

#include "access/skey.h"

/* Every relation of schema topics that C code reads or writes directly. */
typedef enum PgtRelation
{
	PGT_TOPIC,
	PGT_TOPIC_PKEY,
	PGT_PARTITION,
	PGT_PARTITION_PKEY,
	PGT_HIGH_WATER,
	PGT_HIGH_WATER_PKEY,
	PGT_SEGMENT,
	PGT_SEGMENT_PKEY,
	PGT_GROUP,
	PGT_GROUP_PKEY,
	PGT_MEMBER,
	PGT_MEMBER_PKEY,
	PGT_ASSIGNMENT,
	PGT_ASSIGNMENT_PKEY,
	PGT_OFFSET,
	PGT_OFFSET_PKEY,
	PGT_QUEUE_PARTITION,
	PGT_QUEUE_PARTITION_PKEY,
	PGT_QUEUE_DELIVERY,
	PGT_QUEUE_DELIVERY_PKEY,
	PGT_MAINTENANCE,
	PGT_MAINTENANCE_PKEY,
	PGT_CAPTURE,
	PGT_CAPTURE_PKEY,
	PGT_NRELATIONS
} PgtRelation;

extern Oid	pgt_relid(PgtRelation rel);
extern void pgt_require_catalog(void);
extern bool pgt_catalog_is_current(void);
extern Oid	pgt_data_namespace(void);
extern void pgt_key_name(ScanKey key, AttrNumber attno, const char *value);
extern void pgt_key_int4(ScanKey key, AttrNumber attno, int32 value);

#endif							/* RELIDS_H */

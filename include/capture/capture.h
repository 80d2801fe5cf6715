/*-------------------------------------------------------------------------
 *
 * capture.h
 *	  Change data capture: a captured table as its trigger sees it, and
 *	  the events made of its rows.
 *
 *-------------------------------------------------------------------------
 */
#ifndef CAPTURE_H
#define CAPTURE_H

#include "executor/tuptable.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "nodes/primnodes.h"
#include "utils/jsonb.h"
#include "utils/relcache.h"

#include "log/produce.h"

/* The operations of events, as Debezium names them. */
typedef enum CaptureOp
{
	CAPTURE_CREATE,				/* c: INSERT */
	CAPTURE_UPDATE,				/* u */
	CAPTURE_DELETE,				/* d */
	CAPTURE_TRUNCATE,			/* t */
	CAPTURE_READ,				/* r: topics.snapshot() */
	CAPTURE_NOPS
} CaptureOp;

#define CAPTURE_OP_LETTERS	"cudtr"

/* The names of a capture's triggers, per op that has one (capture_setup.c). */
extern const char *const capture_trigger_names[];
extern const char *const capture_before_names[];

/* Events handed to produce_messages() at once, at most. */
#define CAPTURE_FLUSH_EVENTS	1000

/* Debezium's source.version: the version of pg_topics that wrote the event. */
#define CAPTURE_FORMAT_VERSION	"pg_topics-0.6"

/* How one column becomes JSON, as PostgreSQL's to_json() makes it. */
typedef enum ColumnKind
{
	COLUMN_BOOL,
	COLUMN_INT,					/* int2, int4, int8: written here */
	COLUMN_FLOAT4,				/* shortest exact, whatever extra_float_digits */
	COLUMN_FLOAT8,
	COLUMN_BYTEA,				/* hex, whatever bytea_output */
	COLUMN_NUMBER,
	COLUMN_DATETIME,
	COLUMN_JSON,
	COLUMN_JSONB,
	COLUMN_STRING,				/* text, varchar: their bytes, escaped */
	COLUMN_TEXT,				/* others: their output, escaped */
	COLUMN_TO_JSON				/* arrays, composites, types with a cast */
} ColumnKind;

typedef struct ColumnEncoder
{
	ColumnKind	kind;
	Oid			typid;			/* base type, for COLUMN_DATETIME */
	char	   *name_json;		/* "name": */
	FmgrInfo	out;			/* output function, or to_json() */
} ColumnEncoder;

/* The options of a capture, as topics.capture() checked them. */
typedef struct CaptureOptions
{
	bool		ops[CAPTURE_NOPS];	/* which are published; READ always */
	bool		before;			/* before images of u and d events */
	bool		debezium;		/* Debezium's envelope, else plain JSON */
	bool		tombstones;		/* a null value after each d event */
	List	   *columns;		/* names of the value's columns, or NIL: all */
	List	   *exclude;		/* names left out of the value */
	char	   *filter;			/* a boolean expression, or NULL */
} CaptureOptions;

/*
 * A table whose statement trigger fired, or that topics.snapshot() reads:
 * the captured table itself or one of its partitions, described in its
 * own columns.  Kept per backend until an invalidation of the table.
 */
typedef struct CaptureRel
{
	Oid			relid;			/* hash key */
	bool		valid;
	int			pins;			/* batches using it (one left by an error
								 * stays: its memory then lives to the end
								 * of the transaction when rebuilt) */
	bool		captured;		/* false: no capture for it or its ancestors */
	Oid			captured_relid; /* the table named in topics.capture */
	Oid			owner;			/* of captured_relid: events go as it */
	char	   *schema;			/* names of captured_relid */
	char	   *table;
	char	   *topic;
	CaptureOptions opts;
	int			natts;
	ColumnEncoder *columns;		/* per attribute; NULL name_json: dropped */
	bool	   *in_value;		/* per attribute */
	int			nkeys;
	AttrNumber *keys;			/* 0: no key */
	Expr	   *filter;			/* planned, over this table's columns */
	Datum		headers[CAPTURE_NOPS];	/* jsonb */
	char	   *value_prefix[CAPTURE_NOPS];	/* how an event's value starts */
	MemoryContext cxt;
} CaptureRel;

/* capture_rel.c */
extern CaptureRel *capture_rel(Relation rel);
extern bool capture_row(Oid relid, char **topic, List **keys, Jsonb **options);
extern Oid	captured_of(Oid relid, char **topic, List **keys, Jsonb **options);
extern void capture_options_parse(Jsonb *options, CaptureOptions *opts);
extern Expr *capture_filter_expr(Relation rel, Oid owner, const char *filter,
								 bool plan);
extern Oid	rel_owner(Oid relid);
extern List *capture_key_of(Relation rel, List *names);

/* capture_encode.c */
extern void column_encoder_init(ColumnEncoder *enc, Form_pg_attribute att,
								MemoryContext cxt);
extern void encode_row(StringInfo buf, CaptureRel *cr, TupleTableSlot *slot,
					   bool keys_only);
extern void json_string(StringInfo buf, const char *s, int len);

/* What a statement's end does with its events (capture_order.c). */
typedef enum CaptureEnd
{
	CAPTURE_KEEP,
	CAPTURE_PUBLISH,
	CAPTURE_PUBLISH_ALL
} CaptureEnd;

/* capture_event.c */
typedef struct CaptureBatch CaptureBatch;

extern CaptureBatch *capture_batch_begin(CaptureRel *cr, bool snapshot,
										 CaptureEnd end, CommandId cid);
extern void capture_batch_change(CaptureBatch *batch, CaptureOp op,
								 TupleTableSlot *before,
								 TupleTableSlot *after);
extern bool capture_batch_update(CaptureBatch *batch, TupleTableSlot *before,
								 TupleTableSlot *after);
extern int64 capture_batch_end(CaptureBatch *batch);

/* capture_order.c */
extern void capture_order_init(void);
extern void capture_statement_begin(Oid captured, bool truncate);
extern CaptureEnd capture_statement_end(Oid captured, CommandId *cid);
extern void capture_keep(Oid captured, CommandId cid, const char *topic,
						 ProduceMessage *msgs, int n);
extern void capture_produce_kept(Oid captured, CommandId cid);

#endif							/* CAPTURE_H */

/*-------------------------------------------------------------------------
 *
 * produce_funcs.c
 *	  SQL-callable produce functions: one message or a batch, with bytea,
 *	  text or jsonb values.
 *
 * Keys and values are bytes, as in Kafka.  Text and jsonb are conveniences
 * that store their UTF-8 bytes, whatever the server encoding.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <ctype.h>

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "tcop/utility.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"
#include "utils/typcache.h"

#include "log/produce.h"
#include "log/topic.h"

PG_FUNCTION_INFO_V1(pg_topics_produce);
PG_FUNCTION_INFO_V1(pg_topics_produce_text);
PG_FUNCTION_INFO_V1(pg_topics_produce_jsonb);
PG_FUNCTION_INFO_V1(pg_topics_produce_batch);
PG_FUNCTION_INFO_V1(pg_topics_produce_batch_text);
PG_FUNCTION_INFO_V1(pg_topics_produce_batch_jsonb);
PG_FUNCTION_INFO_V1(pg_topics_produce_batch_untyped);

typedef enum PayloadKind
{
	PAYLOAD_BYTEA,
	PAYLOAD_TEXT,
	PAYLOAD_JSONB
} PayloadKind;

/* Argument positions shared by produce and produce_batch. */
#define ARG_TOPIC		0
#define ARG_VALUE		1
#define ARG_KEY			2
#define ARG_PARTITION	3
#define ARG_HEADERS		4
#define ARG_TIMESTAMP	5

/*
 * payload_bytes returns a key or value argument as the bytes to store.
 */
static bytea *
payload_bytes(Datum d, PayloadKind kind)
{
	if (kind == PAYLOAD_BYTEA)
		return DatumGetByteaPP(d);
	if (kind == PAYLOAD_TEXT)
	{
		text	   *t = DatumGetTextPP(d);

		return produce_utf8_bytes(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t), (bytea *) t);
	}
	else
	{
		Jsonb	   *jb = DatumGetJsonbP(d);
		char	   *s = JsonbToCString(NULL, &jb->root, VARSIZE(jb));

		return produce_utf8_bytes(s, strlen(s), NULL);
	}
}

/*
 * check_headers returns headers as a Datum, raising 22023 unless they are
 * a JSON object.
 */
static Datum
check_headers(Datum d)
{
	Jsonb	   *jb = DatumGetJsonbP(d);

	if (!JB_ROOT_IS_OBJECT(jb) || JB_ROOT_IS_SCALAR(jb))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("message headers must be a JSON object")));
	return PointerGetDatum(jb);
}

/*
 * open_for_produce checks the common arguments and returns the topic,
 * open for appending.
 */
static Topic *
open_for_produce(FunctionCallInfo fcinfo, int *partition, TimestampTz *ts)
{
	Topic	   *topic;

	if (PG_ARGISNULL(ARG_TOPIC))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("topic name must not be null")));
	PreventCommandIfReadOnly("topics.produce()");
	PreventCommandDuringRecovery("topics.produce()");

	topic = topic_open(topic_name_from_text(PG_GETARG_TEXT_PP(ARG_TOPIC)),
					   RowExclusiveLock);
	topic_check_privilege(topic, ACL_INSERT);

	*partition = PG_ARGISNULL(ARG_PARTITION) ? -1 : PG_GETARG_INT32(ARG_PARTITION);
	if (!PG_ARGISNULL(ARG_PARTITION))
		topic_check_partition(topic, *partition);
	/* with LogAppendTime the log's clock wins, as a Kafka broker's does */
	*ts = PG_ARGISNULL(ARG_TIMESTAMP) || topic->cfg.log_append_time ?
		GetCurrentTimestamp() : PG_GETARG_TIMESTAMPTZ(ARG_TIMESTAMP);
	return topic;
}

/*
 * produce_one is topics.produce() for every kind of value.
 */
static Datum
produce_one(FunctionCallInfo fcinfo, PayloadKind kind)
{
	ProduceMessage msg;
	Topic	   *topic;
	TupleDesc	desc;
	Datum		values[2];
	bool		nulls[2] = {false, false};
	Datum		result;

	topic = open_for_produce(fcinfo, &msg.partition, &msg.timestamp);
	msg.value = PG_ARGISNULL(ARG_VALUE) ? NULL :
		payload_bytes(PG_GETARG_DATUM(ARG_VALUE), kind);
	msg.key = PG_ARGISNULL(ARG_KEY) ? NULL :
		payload_bytes(PG_GETARG_DATUM(ARG_KEY),
					  kind == PAYLOAD_BYTEA ? PAYLOAD_BYTEA : PAYLOAD_TEXT);
	msg.headers = PG_ARGISNULL(ARG_HEADERS) ? (Datum) 0 :
		check_headers(PG_GETARG_DATUM(ARG_HEADERS));
	produce_check_message(topic, &msg);

	produce_messages(topic, &msg, 1, false);

	/* topics.produced, from the type cache: no descriptor built per call */
	desc = lookup_rowtype_tupdesc(get_fn_expr_rettype(fcinfo->flinfo), -1);
	values[0] = Int32GetDatum(msg.partition);
	values[1] = Int64GetDatum(msg.offset);
	result = HeapTupleGetDatum(heap_form_tuple(desc, values, nulls));
	ReleaseTupleDesc(desc);
	PG_RETURN_DATUM(result);
}

Datum
pg_topics_produce(PG_FUNCTION_ARGS)
{
	return produce_one(fcinfo, PAYLOAD_BYTEA);
}

Datum
pg_topics_produce_text(PG_FUNCTION_ARGS)
{
	return produce_one(fcinfo, PAYLOAD_TEXT);
}

Datum
pg_topics_produce_jsonb(PG_FUNCTION_ARGS)
{
	return produce_one(fcinfo, PAYLOAD_JSONB);
}

/*
 * array_elements deconstructs an array argument, raising 22023 unless it
 * has n elements (or any number, when n is -1), and returns their count.
 */
static int
array_elements(ArrayType *arr, Oid elemtype, int n,
			   const char *what, Datum **elems, bool **nulls)
{
	int16		typlen;
	bool		typbyval;
	char		typalign;
	int			count;

	if (ARR_NDIM(arr) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be a one-dimensional array", what)));
	get_typlenbyvalalign(elemtype, &typlen, &typbyval, &typalign);
	deconstruct_array(arr, elemtype, typlen, typbyval, typalign,
					  elems, nulls, &count);
	if (n >= 0 && count != n)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s has %d elements but there are %d values", what,
						count, n),
				 errhint("Pass one element per value, NULL where there is none.")));
	return count;
}

/*
 * untyped_array reads the values argument of the untyped produce_batch as
 * an array literal of text.
 */
static ArrayType *
untyped_array(text *values)
{
	return DatumGetArrayTypeP(OidInputFunctionCall(F_ARRAY_IN,
												   text_to_cstring(values),
												   TEXTOID, -1));
}

/*
 * check_untyped raises 22023 for an element of an untyped array in the hex
 * form of bytea: what node-postgres makes of a Buffer in an array, which
 * would be stored as those characters rather than as the bytes meant.
 */
static void
check_untyped(Datum *elems, bool *nulls, int n)
{
	int			i;

	for (i = 0; i < n; i++)
	{
		text	   *t;
		const char *c;
		int			len;
		int			k;

		if (nulls[i])
			continue;
		t = DatumGetTextPP(elems[i]);
		c = VARDATA_ANY(t);
		len = VARSIZE_ANY_EXHDR(t);
		if (len < 4 || len % 2 != 0 || c[0] != '\\' || c[1] != 'x')
			continue;
		for (k = 2; k < len && isxdigit((unsigned char) c[k]); k++)
			;
		if (k == len)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("an element of an untyped array of topics.produce_batch() is in the hex form of bytea"),
					 errdetail("An array passed without a type is read as text; node-postgres writes a Buffer in an array as \\x followed by hex digits."),
					 errhint("Cast binary values and keys: topics.produce_batch($1, $2::bytea[], $3::bytea[]); text is $2::text[], JSON $2::jsonb[].")));
	}
}

/*
 * produce_many is topics.produce_batch() for every kind of value: one
 * message per element of values, all in one go.
 */
static Datum
produce_many(FunctionCallInfo fcinfo, PayloadKind kind, bool untyped)
{
	static const Oid elemtypes[] = {BYTEAOID, TEXTOID, JSONBOID};
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Topic	   *topic;
	int			partition;
	TimestampTz ts;
	Datum	   *vals;
	bool	   *valnulls;
	Datum	   *keys = NULL;
	bool	   *keynulls = NULL;
	Datum	   *hdrs = NULL;
	bool	   *hdrnulls = NULL;
	ProduceMessage *msgs;
	int			n;
	int			i;

	topic = open_for_produce(fcinfo, &partition, &ts);
	if (PG_ARGISNULL(ARG_VALUE))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("values must not be null"),
				 errhint("Pass an array with one element per message; an element may be NULL (a tombstone).")));
	InitMaterializedSRF(fcinfo, 0);

	n = array_elements(untyped ? untyped_array(PG_GETARG_TEXT_PP(ARG_VALUE)) :
					   PG_GETARG_ARRAYTYPE_P(ARG_VALUE),
					   elemtypes[kind], -1, "values", &vals, &valnulls);
	if (!PG_ARGISNULL(ARG_KEY))
		array_elements(PG_GETARG_ARRAYTYPE_P(ARG_KEY),
					   kind == PAYLOAD_BYTEA ? BYTEAOID : TEXTOID, n, "keys",
					   &keys, &keynulls);
	if (!PG_ARGISNULL(ARG_HEADERS))
		array_elements(PG_GETARG_ARRAYTYPE_P(ARG_HEADERS), JSONBOID, n,
					   "headers", &hdrs, &hdrnulls);
	if (untyped)
	{
		check_untyped(vals, valnulls, n);
		if (keys != NULL)
			check_untyped(keys, keynulls, n);
	}
	if (n == 0)
		return (Datum) 0;

	msgs = palloc(sizeof(ProduceMessage) * n);
	for (i = 0; i < n; i++)
	{
		ProduceMessage *msg = &msgs[i];

		msg->partition = partition;
		msg->timestamp = ts;
		msg->value = valnulls[i] ? NULL : payload_bytes(vals[i], kind);
		msg->key = (keys == NULL || keynulls[i]) ? NULL :
			payload_bytes(keys[i],
						  kind == PAYLOAD_BYTEA ? PAYLOAD_BYTEA : PAYLOAD_TEXT);
		msg->headers = (hdrs == NULL || hdrnulls[i]) ? (Datum) 0 :
			check_headers(hdrs[i]);
		produce_check_message(topic, msg);
	}

	produce_messages(topic, msgs, n, true);

	for (i = 0; i < n; i++)
	{
		Datum		values[2];
		bool		nulls[2] = {false, false};

		values[0] = Int32GetDatum(msgs[i].partition);
		values[1] = Int64GetDatum(msgs[i].offset);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

Datum
pg_topics_produce_batch(PG_FUNCTION_ARGS)
{
	return produce_many(fcinfo, PAYLOAD_BYTEA, false);
}

Datum
pg_topics_produce_batch_text(PG_FUNCTION_ARGS)
{
	return produce_many(fcinfo, PAYLOAD_TEXT, false);
}

Datum
pg_topics_produce_batch_jsonb(PG_FUNCTION_ARGS)
{
	return produce_many(fcinfo, PAYLOAD_JSONB, false);
}

/*
 * pg_topics_produce_batch_untyped is topics.produce_batch() with values of
 * type text: the overload that a call with an untyped array (a driver's
 * parameter) resolves to, as PostgreSQL prefers a string type for an
 * argument of unknown type.  It reads the array as text[].
 */
Datum
pg_topics_produce_batch_untyped(PG_FUNCTION_ARGS)
{
	return produce_many(fcinfo, PAYLOAD_TEXT, true);
}

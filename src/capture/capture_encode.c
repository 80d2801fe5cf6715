/*-------------------------------------------------------------------------
 *
 * capture_encode.c
 *	  A row as a JSON object, the way PostgreSQL's to_json() writes it.
 *
 * An event's row images are read back with jsonb_populate_record(), so
 * they must be exactly what to_json() makes of each column.  Calling
 * to_json() for every column would look its type up again at every call
 * (PostgreSQL 15 caches nothing there); this works out each column's kind
 * once per table, does the common scalar kinds itself as json.c does, and
 * calls to_json() only for arrays, composites and types with a cast to
 * json.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/tupdesc.h"
#include "catalog/pg_type.h"
#include "common/jsonapi.h"
#include "common/shortest_dec.h"
#include "nodes/makefuncs.h"
#include "parser/parse_coerce.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/fmgroids.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"

#include "capture/capture.h"

/*
 * column_kind sorts a type as json.c's json_categorize_type does.
 */
static ColumnKind
column_kind(Oid base)
{
	Oid			castfunc;

	switch (base)
	{
		case BOOLOID:
			return COLUMN_BOOL;
		case INT2OID:
		case INT4OID:
		case INT8OID:
			return COLUMN_INT;
		case TEXTOID:
		case VARCHAROID:
			return COLUMN_STRING;
		case FLOAT4OID:
			return COLUMN_FLOAT4;
		case FLOAT8OID:
			return COLUMN_FLOAT8;
		case BYTEAOID:
			return COLUMN_BYTEA;
		case NUMERICOID:
			return COLUMN_NUMBER;
		case DATEOID:
		case TIMESTAMPOID:
		case TIMESTAMPTZOID:
			return COLUMN_DATETIME;
		case JSONOID:
			return COLUMN_JSON;
		case JSONBOID:
			return COLUMN_JSONB;
		default:
			break;
	}
	if (OidIsValid(get_element_type(base)) || type_is_rowtype(base))
		return COLUMN_TO_JSON;
	if (base >= FirstNormalObjectId &&
		find_coercion_pathway(JSONOID, base, COERCION_EXPLICIT,
							  &castfunc) == COERCION_PATH_FUNC)
		return COLUMN_TO_JSON;
	return COLUMN_TEXT;
}

/*
 * column_encoder_init works out how to write a column, in cxt.
 */
void
column_encoder_init(ColumnEncoder *enc, Form_pg_attribute att,
					MemoryContext cxt)
{
	Oid			base = getBaseType(att->atttypid);
	StringInfoData name;
	Oid			outfunc;
	bool		varlena;

	initStringInfo(&name);
	json_string(&name, NameStr(att->attname), strlen(NameStr(att->attname)));
	appendStringInfoChar(&name, ':');
	enc->name_json = MemoryContextStrdup(cxt, name.data);
	pfree(name.data);

	enc->kind = column_kind(base);
	enc->typid = base;
	if (enc->kind == COLUMN_TO_JSON)
	{
		/* to_json() learns its argument's type from its call expression */
		FuncExpr   *call;
		MemoryContext old = MemoryContextSwitchTo(cxt);

		call = makeFuncExpr(F_TO_JSON, JSONOID,
							list_make1(makeNullConst(att->atttypid,
													 att->atttypmod,
													 att->attcollation)),
							InvalidOid, InvalidOid, COERCE_EXPLICIT_CALL);
		fmgr_info_cxt(F_TO_JSON, &enc->out, cxt);
		fmgr_info_set_expr((Node *) call, &enc->out);
		MemoryContextSwitchTo(old);
		return;
	}
	getTypeOutputInfo(base, &outfunc, &varlena);
	fmgr_info_cxt(outfunc, &enc->out, cxt);
}

/*
 * json_string appends a string as a JSON string, escaped as escape_json()
 * does, copying the runs between the characters to escape at once.
 */
void
json_string(StringInfo buf, const char *s, int len)
{
	const char *end = s + len;
	const char *run = s;

	appendStringInfoChar(buf, '"');
	for (; s < end; s++)
	{
		unsigned char c = (unsigned char) *s;
		const char *esc;

		if (c >= ' ' && c != '"' && c != '\\')
			continue;
		appendBinaryStringInfo(buf, run, s - run);
		run = s + 1;
		switch (c)
		{
			case '\b':
				esc = "\\b";
				break;
			case '\f':
				esc = "\\f";
				break;
			case '\n':
				esc = "\\n";
				break;
			case '\r':
				esc = "\\r";
				break;
			case '\t':
				esc = "\\t";
				break;
			case '"':
				esc = "\\\"";
				break;
			case '\\':
				esc = "\\\\";
				break;
			default:
				appendStringInfo(buf, "\\u%04x", (int) c);
				continue;
		}
		appendBinaryStringInfo(buf, esc, 2);
	}
	appendBinaryStringInfo(buf, run, end - run);
	appendStringInfoChar(buf, '"');
}

/*
 * encode_value appends one non-null value.
 */
static void
encode_value(StringInfo buf, ColumnEncoder *enc, Datum value)
{
	char	   *s = NULL;

	switch (enc->kind)
	{
		case COLUMN_BOOL:
			appendStringInfoString(buf, DatumGetBool(value) ? "true" : "false");
			return;
		case COLUMN_INT:
			{
				char		digits[MAXINT8LEN + 1];
				int64		v = enc->typid == INT8OID ? DatumGetInt64(value) :
					enc->typid == INT4OID ? DatumGetInt32(value) : DatumGetInt16(value);

				appendBinaryStringInfo(buf, digits, pg_lltoa(v, digits));
				return;
			}
		case COLUMN_FLOAT4:
		case COLUMN_FLOAT8:
			{
				char		digits[32];

				/* what float8out writes with extra_float_digits > 0 */
				if (enc->kind == COLUMN_FLOAT4)
					float_to_shortest_decimal_buf(DatumGetFloat4(value), digits);
				else
					double_to_shortest_decimal_buf(DatumGetFloat8(value), digits);
				if (IsValidJsonNumber(digits, strlen(digits)))
					appendStringInfoString(buf, digits);
				else
					json_string(buf, digits, strlen(digits));
				return;
			}
		case COLUMN_BYTEA:
			{
				bytea	   *b = DatumGetByteaPP(value);
				int			len = VARSIZE_ANY_EXHDR(b);

				/* "\\x..." as byteaout writes it with bytea_output = hex */
				appendStringInfoString(buf, "\"\\\\x");
				enlargeStringInfo(buf, 2 * len + 1);
				buf->len += hex_encode(VARDATA_ANY(b), len, buf->data + buf->len);
				appendStringInfoChar(buf, '"');
				return;
			}
		case COLUMN_STRING:
			{
				text	   *t = DatumGetTextPP(value);

				json_string(buf, VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
				return;
			}
		case COLUMN_NUMBER:
			s = OutputFunctionCall(&enc->out, value);
			/* NaN and Infinity are no JSON numbers: to_json() quotes them */
			if (IsValidJsonNumber(s, strlen(s)))
				appendStringInfoString(buf, s);
			else
				json_string(buf, s, strlen(s));
			break;
		case COLUMN_DATETIME:
			{
				char		dt[MAXDATELEN + 1];

				JsonEncodeDateTime(dt, value, enc->typid, NULL);
				appendStringInfoChar(buf, '"');
				appendStringInfoString(buf, dt);
				appendStringInfoChar(buf, '"');
				return;
			}
		case COLUMN_JSON:
			s = OutputFunctionCall(&enc->out, value);
			appendStringInfoString(buf, s);
			break;
		case COLUMN_JSONB:
			{
				Jsonb	   *jb = DatumGetJsonbP(value);

				s = JsonbToCString(NULL, &jb->root, VARSIZE(jb));
				appendStringInfoString(buf, s);
				break;
			}
		case COLUMN_TEXT:
			s = OutputFunctionCall(&enc->out, value);
			json_string(buf, s, strlen(s));
			break;
		case COLUMN_TO_JSON:
			{
				text	   *t = DatumGetTextPP(FunctionCall1(&enc->out, value));

				appendBinaryStringInfo(buf, VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
				return;
			}
	}
	pfree(s);
}

/*
 * encode_row appends the row in slot as a JSON object: the columns of the
 * event's value, or only its key columns.
 */
void
encode_row(StringInfo buf, CaptureRel *cr, TupleTableSlot *slot,
		   bool keys_only)
{
	int			n = keys_only ? cr->nkeys : cr->natts;
	bool		first = true;
	int			i;

	slot_getsomeattrs(slot, keys_only ? slot->tts_tupleDescriptor->natts : cr->natts);
	appendStringInfoChar(buf, '{');
	for (i = 0; i < n; i++)
	{
		int			att = keys_only ? cr->keys[i] - 1 : i;
		ColumnEncoder *enc = &cr->columns[att];

		if (!keys_only && !cr->in_value[att])
			continue;
		if (!first)
			appendStringInfoChar(buf, ',');
		first = false;
		appendStringInfoString(buf, enc->name_json);
		if (slot->tts_isnull[att])
			appendStringInfoString(buf, "null");
		else
			encode_value(buf, enc, slot->tts_values[att]);
	}
	appendStringInfoChar(buf, '}');
}

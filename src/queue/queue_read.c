/*-------------------------------------------------------------------------
 *
 * queue_read.c
 *	  Reading a queue: finding the messages no one holds, reserving them
 *	  for the caller's query, and waiting for more.
 *
 * A read goes over the topic's partitions, from another one each time,
 * and in each over the window from its start: an offset is free when no
 * one holds it (no pending change, no reservation, no lease running), its
 * time has come (a delayed message, or one given back with a delay), and,
 * in a topic with fifo = key, no earlier message of its key is still
 * there.  The messages of offsets the window has not met yet are read from
 * the log once, below the LSO (so that no commit can add one below them
 * later), and the window keeps what a read needs of them: where the row
 * lies, its key's hash and its delivery time.  Offsets below the LSO
 * without a message (rolled back) are done at once.
 *
 * A message delivered max.deliveries times goes to the dead-letter topic
 * instead, inside the caller's transaction, which takes it: the move
 * commits or rolls back with it.
 *
 * A read that finds nothing waits on its partitions as a poll does: a
 * producer's commit wakes as many waiting readers as it made messages, a
 * message given back wakes one, and a read sleeps no longer than until
 * the next lease or delay it saw runs out.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "storage/lmgr.h"
#include "storage/proc.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "args.h"
#include "log/fetch.h"
#include "log/produce.h"
#include "log/topic_tables.h"
#include "queue/delivery_query.h"
#include "queue/delivery_store.h"
#include "queue/queue_config.h"
#include "queue/queue_read.h"

/*
 * The headers that hold a message's delivery time (topics.send), and the
 * deliveries of a message deferred to the log's end before.
 */
#define NOT_BEFORE_HEADER	"pg_topics.not_before"
#define DELIVERIES_HEADER	"pg_topics.deliveries"

/* Most messages one read defers. */
#define MAX_DEFERRED_PER_READ	64

/* The columns of a queue read's rows. */
#define Natts_queue_row		(Natts_message + 2)

/* What a read needs of a message the window had not met. */
typedef struct MetMessage
{
	int64		offset;
	ItemPointerData tid;
	bool		has_key;
	uint32		keyhash;
	TimestampTz not_before;
	int32		deliveries;
} MetMessage;

/* A message a read reserved, to hand out, dead-letter or defer. */
typedef struct Candidate
{
	DeliveryReservation *r;
	ItemPointerData tid;
	int32		deliveries;		/* counting this one, if handed out */
	TimestampTz at;				/* when it may go out */
} Candidate;

/*
 * A deferred message's time must be this far off: one due sooner is
 * waited for.
 */
#define DEFER_AFTER_MS		1000

/*
 * parse_timestamptz sets *ts to a timestamp with time zone written as
 * timestamptz_in reads it, and returns true; false, without raising an
 * error, if it is not one.
 */
static bool
parse_timestamptz(const char *str, TimestampTz *ts)
{
	char		workbuf[MAXDATELEN + MAXDATEFIELDS];
	char	   *field[MAXDATEFIELDS];
	int			ftype[MAXDATEFIELDS];
	int			nf;
	int			dtype;
	struct pg_tm tt;
	fsec_t		fsec;
	int			tz;

	if (strlen(str) > MAXDATELEN ||
		ParseDateTime(str, workbuf, sizeof(workbuf), field, ftype,
					  MAXDATEFIELDS, &nf) != 0 ||
		DecodeDateTime(field, ftype, nf, &dtype, &tt, &fsec, &tz) != 0 ||
		dtype != DTK_DATE)
		return false;
	return tm2timestamp(&tt, fsec, &tz, ts) == 0;
}

/*
 * header_text returns the string value of a header, or NULL.
 */
static char *
header_text(Jsonb *headers, const char *name)
{
	JsonbValue	k;
	JsonbValue *v;

	if (!JB_ROOT_IS_OBJECT(headers) || JB_ROOT_IS_SCALAR(headers))
		return NULL;
	k.type = jbvString;
	k.val.string.val = (char *) name;
	k.val.string.len = strlen(name);
	v = findJsonbValueFromContainer(&headers->root, JB_FOBJECT, &k);
	if (v == NULL || v->type != jbvString)
		return NULL;
	return pnstrdup(v->val.string.val, v->val.string.len);
}

/*
 * met_headers sets a met message's delivery time and past deliveries from
 * its headers.  A header a producer got wrong is passed over: the message
 * is delivered as if it had none.
 */
static void
met_headers(MetMessage *m, Datum headers)
{
	Jsonb	   *jb = DatumGetJsonbP(headers);
	char	   *at = header_text(jb, NOT_BEFORE_HEADER);
	char	   *n = header_text(jb, DELIVERIES_HEADER);

	if (at != NULL)
		(void) parse_timestamptz(at, &m->not_before);
	if (n != NULL)
	{
		char	   *end;
		long		v;

		errno = 0;
		v = strtol(n, &end, 10);
		if (errno == 0 && *end == '\0' && v > 0 && v <= PG_INT32_MAX)
			m->deliveries = (int32) v;
	}
}

/*
 * window_meet reads the messages of offsets [from, below) from the log and
 * adds them to the window, unless another read did; below is at most the
 * LSO.  Caller holds no window lock.
 */
static void
window_meet(Topic *topic, QueueWindow *w, int partition, int64 from,
			int64 below)
{
	FetchReader *reader = fetch_reader_begin(topic, partition, from, below,
											 (int) (below - from));
	MetMessage *met = palloc(sizeof(MetMessage) * (below - from));
	int			n = 0;
	Datum		values[Natts_message];
	bool		isnull[Natts_message];
	ItemPointerData tid;
	int64		o;
	int			i = 0;

	while (fetch_reader_row(reader, values, isnull, &tid))
	{
		MetMessage *m = &met[n++];
		bytea	   *key;

		m->offset = DatumGetInt64(values[Anum_message_offset - 1]);
		m->tid = tid;
		m->has_key = !isnull[Anum_message_key - 1];
		m->keyhash = 0;
		if (m->has_key)
		{
			key = DatumGetByteaPP(values[Anum_message_key - 1]);
			m->keyhash = hash_bytes((unsigned char *) VARDATA_ANY(key),
									VARSIZE_ANY_EXHDR(key));
		}
		m->not_before = DT_NOBEGIN;
		m->deliveries = 0;
		if (!isnull[Anum_message_headers - 1])
			met_headers(m, values[Anum_message_headers - 1]);
	}
	fetch_reader_end(reader);

	LWLockAcquire(&w->lock, LW_EXCLUSIVE);
	for (o = from; o < below; o++)
	{
		DeliverySlot *slot;

		while (i < n && met[i].offset < o)
			i++;
		if (o < w->frontier)
			continue;
		slot = window_slot(w, o);
		if (slot->offset != o)
		{
			/* never delivered (a slot loaded from its row keeps its state) */
			slot->offset = o;
			slot->state = DELIVERY_NEW;
			slot->at = DT_NOBEGIN;
			slot->deliveries = 0;
			slot->receipt = 0;
			slot->receipt_pending = false;
			slot->xid = InvalidFullTransactionId;
			slot->made_by = InvalidFullTransactionId;
			slot->prepared = false;
			slot->dead_letter = false;
			slot->reserver = 0;
		}
		slot->known = true;
		if (i < n && met[i].offset == o)
		{
			slot->tid = met[i].tid;
			slot->has_key = met[i].has_key;
			slot->keyhash = met[i].keyhash;
			/* (a slot loaded from its row keeps what the row says) */
			if (slot->state == DELIVERY_NEW &&
				!FullTransactionIdIsValid(slot->xid))
				slot->at = met[i].not_before;
			slot->deliveries = Max(slot->deliveries, met[i].deliveries);
		}
		else
		{
			/* rolled back: nothing to deliver */
			ItemPointerSetInvalid(&slot->tid);
			slot->has_key = false;
			slot->state = DELIVERY_DONE;
		}
		w->frontier = o + 1;
	}
	delivery_advance_start(w);
	LWLockRelease(&w->lock);
	pfree(met);
}

/*
 * queue_window_meet reads the messages of a window that it has not met,
 * up to the LSO, so that its start and counts are up to date.
 */
void
queue_window_meet(Topic *topic, QueueWindow *w, int partition)
{
	PartitionBounds bounds;
	int64		from;
	int64		below;

	topic_bounds(topic, partition, &bounds);
	LWLockAcquire(&w->lock, LW_EXCLUSIVE);
	delivery_advance_start(w);
	from = w->frontier;
	below = Min(bounds.lso, w->start + w->size);
	LWLockRelease(&w->lock);
	if (from < below)
		window_meet(topic, w, partition, from, below);
}

/*
 * KeySet: the hashes of the keys that block their later messages in a
 * fifo = key read of one window, open addressing on twice the window.
 */
typedef struct KeySet
{
	int			size;
	uint32	   *hashes;
	bool	   *used;
} KeySet;

static bool
keyset_add(KeySet *ks, uint32 hash)
{
	int			i = hash % ks->size;

	while (ks->used[i])
	{
		if (ks->hashes[i] == hash)
			return false;
		i = (i + 1) % ks->size;
	}
	ks->used[i] = true;
	ks->hashes[i] = hash;
	return true;
}

static bool
keyset_has(KeySet *ks, uint32 hash)
{
	int			i = hash % ks->size;

	while (ks->used[i])
	{
		if (ks->hashes[i] == hash)
			return true;
		i = (i + 1) % ks->size;
	}
	return false;
}

/*
 * window_defer reserves, for deferring, the messages at the head of a full
 * window that wait for a time still far off (delayed, or given back with
 * a delay), as long as the messages beyond the window cannot be reached
 * otherwise: moved to the log's end, they wait there without holding the
 * window.  In a fifo = key queue, a message with a key stays.  Returns how
 * many it added to cands at n.  Caller holds the window lock exclusively.
 */
static int
window_defer(QueueWindow *w, int partition, DeliveryQuery *q, int64 lso,
			 bool fifo_key, TimestampTz now, Candidate *cands, int n)
{
	FullTransactionId mine = GetTopFullTransactionIdIfAny();
	int			added = 0;
	int64		o;

	if (w->frontier < w->start + w->size || lso <= w->start + w->size)
		return 0;
	for (o = w->start; o < w->frontier && added < MAX_DEFERRED_PER_READ; o++)
	{
		DeliverySlot *slot = window_slot(w, o);
		Candidate  *c;

		if (!FullTransactionIdIsValid(slot->xid) && slot->reserver == 0 &&
			slot->state == DELIVERY_DONE)
			continue;
		/* what this transaction took already lets the start move at commit */
		if (FullTransactionIdIsValid(slot->xid) &&
			FullTransactionIdEquals(slot->xid, mine) &&
			slot->pending == DELIVERY_DONE)
			continue;
		/*
		 * (a message of a key in a fifo = key queue stays: its later
		 * messages wait behind it, where they are)
		 */
		if (FullTransactionIdIsValid(slot->xid) || slot->reserver != 0 ||
			slot->state == DELIVERY_LEASED || (fifo_key && slot->has_key) ||
			slot->at <= now ||
			slot->at - now < (TimestampTz) DEFER_AFTER_MS * 1000)
			break;
		c = &cands[n + added];
		c->r = delivery_reserve(q, w, partition, slot);
		c->r->use = USE_DEFER;
		added++;
		c->tid = slot->tid;
		c->deliveries = slot->deliveries;
		c->at = slot->at;
	}
	return added;
}

/*
 * window_reserve reserves up to want free messages of a window for the
 * query, in offset order, and returns how many, in cands; lowers
 * *next_due to the earliest time a held or delayed message of the window
 * becomes free.
 */
static int
window_reserve(Topic *topic, QueueConfig *cfg, QueueWindow *w, int partition,
			   DeliveryQuery *q, int want, TimestampTz now,
			   TimestampTz *next_due, Candidate *cands)
{
	PartitionBounds bounds;
	KeySet		keys;
	int			n = 0;

	topic_bounds(topic, partition, &bounds);
	delivery_query_room(q, want);
	/* the keys of a read of a fifo = key queue (sized for a window) */
	keys.size = cfg->fifo_key ? 2 * w->size : 0;
	keys.hashes = cfg->fifo_key ? palloc(sizeof(uint32) * keys.size) : NULL;
	keys.used = cfg->fifo_key ? palloc(sizeof(bool) * keys.size) : NULL;
	for (;;)
	{
		int64		limit;
		int64		o;
		int64		from;
		int64		below;
		int64		scan_from;
		int64		first_free;

		if (cfg->fifo_key)
			memset(keys.used, 0, sizeof(bool) * keys.size);
		LWLockAcquire(&w->lock, LW_EXCLUSIVE);
		delivery_advance_start(w);
		limit = Min(w->frontier, w->start + w->size);

		/*
		 * Many consumers of a partition hold most of its window's head: a
		 * read starts where a slot may be free.  A fifo = key read looks at
		 * every key from the start.
		 */
		scan_from = cfg->fifo_key ? w->start : Max(w->scan_from, w->start);
		first_free = -1;
		for (o = scan_from; o < limit && n < want; o++)
		{
			DeliverySlot *slot = window_slot(w, o);
			bool		held;

			delivery_settle(w, slot, now);
			if (slot->state == DELIVERY_DONE &&
				!FullTransactionIdIsValid(slot->xid))
				continue;
			held = FullTransactionIdIsValid(slot->xid) || slot->reserver != 0 ||
				slot->state == DELIVERY_LEASED || slot->at > now;
			/*
			 * a lease or a delay may run out, and a prepared transaction end
			 * with no backend of its own to give its slots back: not held
			 * for good
			 */
			if (first_free < 0 &&
				(!held || (slot->reserver == 0 &&
						   (!FullTransactionIdIsValid(slot->xid) ||
							slot->prepared))))
				first_free = o;
			if (held && (slot->state == DELIVERY_LEASED || slot->at > now) &&
				!FullTransactionIdIsValid(slot->xid) && slot->reserver == 0)
				*next_due = Min(*next_due, slot->at);
			if (cfg->fifo_key && slot->has_key)
			{
				if (keyset_has(&keys, slot->keyhash))
					continue;
				keyset_add(&keys, slot->keyhash);
			}
			if (held)
				continue;
			cands[n].r = delivery_reserve(q, w, partition, slot);
			if (cands[n].r == NULL)
				break;
			cands[n].tid = slot->tid;
			cands[n].deliveries = slot->deliveries + 1;
			cands[n].at = slot->at;
			if (slot->deliveries >= cfg->max_deliveries)
				cands[n].r->use = USE_DEAD_LETTER;
			if (first_free == o)
				first_free = -1;	/* reserved now: held */
			n++;
		}
		/* below first_free (or where the scan stopped) all is held or done */
		if (!cfg->fifo_key)
			w->scan_from = first_free >= 0 ? first_free : o;
		from = w->frontier;
		below = Min(bounds.lso, w->start + w->size);
		LWLockRelease(&w->lock);
		if (n >= want || from >= below)
			break;
		window_meet(topic, w, partition, from, below);
	}
	if (cfg->fifo_key)
	{
		pfree(keys.hashes);
		pfree(keys.used);
	}
	return n;
}

/*
 * headers_with returns a message's headers (values and isnull as stored)
 * with the given names set to the given string values.
 */
static Jsonb *
headers_with(Datum *values, bool *isnull, const char *const *names,
			 char *const *texts, int n)
{
	JsonbParseState *state = NULL;
	JsonbValue *res;
	JsonbValue	v;
	int			i;

	pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	if (!isnull[Anum_message_headers - 1])
	{
		JsonbIterator *it;
		JsonbIteratorToken tok;
		bool		skip = false;

		it = JsonbIteratorInit(&DatumGetJsonbP(values[Anum_message_headers - 1])->root);
		tok = JsonbIteratorNext(&it, &v, true);
		if (tok == WJB_BEGIN_OBJECT)
			while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_END_OBJECT &&
				   tok != WJB_DONE)
			{
				if (tok == WJB_KEY)
				{
					skip = false;
					for (i = 0; i < n && !skip; i++)
						skip = v.val.string.len == strlen(names[i]) &&
							strncmp(v.val.string.val, names[i], v.val.string.len) == 0;
				}
				if (!skip)
					pushJsonbValue(&state, tok, &v);
			}
	}
	for (i = 0; i < n; i++)
	{
		v.type = jbvString;
		v.val.string.val = (char *) names[i];
		v.val.string.len = strlen(names[i]);
		pushJsonbValue(&state, WJB_KEY, &v);
		v.val.string.val = texts[i];
		v.val.string.len = strlen(texts[i]);
		pushJsonbValue(&state, WJB_VALUE, &v);
	}
	res = pushJsonbValue(&state, WJB_END_OBJECT, NULL);
	return JsonbValueToJsonb(res);
}

/*
 * produce_copy produces a copy of a message, as stored in values and
 * isnull, to a partition of topic, with headers.
 */
static void
produce_copy(Topic *topic, int partition, Datum *values, bool *isnull,
			 Jsonb *headers)
{
	ProduceMessage msg;

	/* as a producer would lock it */
	LockRelationOid(topic->relid, RowExclusiveLock);
	memset(&msg, 0, sizeof(msg));
	msg.partition = partition;
	msg.key = isnull[Anum_message_key - 1] ? NULL :
		DatumGetByteaPP(values[Anum_message_key - 1]);
	msg.value = isnull[Anum_message_value - 1] ? NULL :
		DatumGetByteaPP(values[Anum_message_value - 1]);
	msg.headers = JsonbPGetDatum(headers);
	msg.timestamp = DatumGetTimestampTz(values[Anum_message_timestamp - 1]);
	produce_check_message(topic, &msg);
	produce_messages(topic, &msg, 1, false);
}

/*
 * defer produces a copy of a message waiting for its time at the end of
 * its partition, with that time and its deliveries in its headers.
 */
static void
defer(Topic *topic, int partition, Candidate *c, Datum *values, bool *isnull)
{
	static const char *const names[] = {NOT_BEFORE_HEADER, DELIVERIES_HEADER};
	char	   *texts[2];

	/* in ISO 8601, as jsonb writes a timestamp, whatever the DateStyle */
	texts[0] = JsonEncodeDateTime(NULL, TimestampTzGetDatum(c->at),
								  TIMESTAMPTZOID, NULL);
	texts[1] = psprintf("%d", c->deliveries);
	produce_copy(topic, partition, values, isnull,
				 headers_with(values, isnull, names, texts,
							  c->deliveries > 0 ? 2 : 1));
}

/*
 * dead_letter produces a copy of a message to the queue's dead-letter
 * topic, with headers that say why and where from, and returns true; false
 * if there is no such topic.
 */
static bool
dead_letter(Topic *topic, QueueConfig *cfg, int partition, int64 offset,
			int32 deliveries, Datum *values, bool *isnull)
{
	static const char *const names[] = {
		"dead_letter.reason", "dead_letter.topic", "dead_letter.partition",
		"dead_letter.offset", "dead_letter.deliveries"
	};
	char	   *texts[5];
	Topic	   *dlt;
	Oid			owner;
	int			partitions;

	if (!topic_lookup_row(cfg->dead_letter_topic, &owner, &partitions))
	{
		/* a queue whose dead-letter topic is gone goes on delivering */
		ereport(WARNING,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("dead-letter topic \"%s\" of queue \"%s\" does not exist",
						cfg->dead_letter_topic, topic->name),
				 errdetail("Message %lld of partition %d was delivered %d times, the queue's max.deliveries, and is delivered again.",
						   (long long) offset, partition, deliveries - 1),
				 errhint("Create the topic with topics.create_topic().")));
		return false;
	}
	dlt = topic_open(cfg->dead_letter_topic, RowExclusiveLock);
	texts[0] = "max.deliveries";
	texts[1] = topic->name;
	texts[2] = psprintf("%d", partition);
	texts[3] = psprintf("%lld", (long long) offset);
	texts[4] = psprintf("%d", deliveries - 1);
	produce_copy(dlt, partition % dlt->npartitions, values, isnull,
				 headers_with(values, isnull, names, texts, 5));
	return true;
}

/*
 * hand_out fetches the rows of a window's candidates and puts them in the
 * store, or dead-letters them (taking those); returns how many it put.
 */
static int
hand_out(Topic *topic, QueueConfig *cfg, int partition, DeliveryQuery *q,
		 Candidate *cands, int n, Tuplestorestate *store, TupleDesc desc)
{
	Snapshot	snapshot = RegisterSnapshot(GetLatestSnapshot());
	Relation	rel = NULL;
	int			put = 0;
	int			i;

	for (i = 0; i < n; i++)
	{
		Candidate  *c = &cands[i];
		const LogSegment *seg = topic_find_segment(topic, partition, c->r->offset);
		HeapTupleData tuple;
		Buffer		buf;
		Oid			relid;
		Datum		values[Natts_queue_row];
		bool		isnull[Natts_queue_row];

		if (seg == NULL)
			elog(ERROR, "no segment holds offset %lld of partition %d of topic \"%s\"",
				 (long long) c->r->offset, partition, topic->name);
		relid = OidIsValid(seg->relid) ? seg->relid :
			topic_table_relid(topic->name, partition, seg->base);
		if (rel == NULL || RelationGetRelid(rel) != relid)
		{
			if (rel != NULL)
				table_close(rel, NoLock);
			rel = table_open(relid, AccessShareLock);
			topic_table_check(rel, topic->name);
		}
		tuple.t_self = c->tid;
		if (!heap_fetch(rel, snapshot, &tuple, &buf, false))
			elog(ERROR, "message %lld of partition %d of topic \"%s\" is gone",
				 (long long) c->r->offset, partition, topic->name);
		heap_deform_tuple(&tuple, RelationGetDescr(rel), values, isnull);
		if (DatumGetInt64(values[Anum_message_offset - 1]) != c->r->offset)
			elog(ERROR, "message %lld of partition %d of topic \"%s\" moved",
				 (long long) c->r->offset, partition, topic->name);
		if (c->r->use == USE_DEAD_LETTER &&
			!dead_letter(topic, cfg, partition, c->r->offset, c->deliveries,
						 values, isnull))
			c->r->use = USE_HAND_OUT;
		else if (c->r->use == USE_DEFER)
			defer(topic, partition, c, values, isnull);
		if (c->r->use != USE_HAND_OUT)
		{
			ReleaseBuffer(buf);
			delivery_take(q, partition, c->r->offset);
			continue;
		}
		values[Natts_message] = Int64GetDatum(q->lease ?
											  ((int64) partition << DELIVERY_RECEIPT_BITS) |
											  (c->r->receipt & DELIVERY_RECEIPT_MASK) : 0);
		isnull[Natts_message] = !q->lease;
		values[Natts_message + 1] = Int32GetDatum(c->deliveries);
		isnull[Natts_message + 1] = false;
		tuplestore_putvalues(store, desc, values, isnull);
		ReleaseBuffer(buf);
		put++;
	}
	if (rel != NULL)
		table_close(rel, NoLock);
	UnregisterSnapshot(snapshot);
	return put;
}

/*
 * queue_defer_waiting defers the messages at the head of a full window that
 * wait for a time still far off (window_defer), in the caller's
 * transaction, and returns how many.  The database worker runs it: once it
 * commits, the window moves past them.
 */
int
queue_defer_waiting(Topic *topic, QueueWindow *w, int partition)
{
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext,
											  "pg_topics deferral",
											  ALLOCSET_SMALL_SIZES);
	DeliveryQuery *q = delivery_query_begin(cxt, topic->name, false, 0);
	Candidate	cands[MAX_DEFERRED_PER_READ];
	PartitionBounds bounds;
	QueueConfig cfg;
	int			n;

	queue_config_read(topic, &cfg);
	queue_window_meet(topic, w, partition);
	topic_bounds(topic, partition, &bounds);
	delivery_query_room(q, MAX_DEFERRED_PER_READ);
	LWLockAcquire(&w->lock, LW_EXCLUSIVE);
	delivery_advance_start(w);
	n = window_defer(w, partition, q, bounds.lso, cfg.fifo_key,
					 GetCurrentTimestamp(), cands, 0);
	LWLockRelease(&w->lock);
	if (n > 0)
		(void) hand_out(topic, &cfg, partition, q, cands, n, NULL, NULL);
	MemoryContextDelete(cxt);
	return n;
}

/*
 * queue_read reserves up to qty free messages of a queue for the query q
 * and puts them in store, waiting until deadline for the first; returns
 * how many it put.
 */
int
queue_read(Topic *topic, DeliveryQuery *q, int qty, TimestampTz deadline,
		   Tuplestorestate *store, TupleDesc desc)
{
	QueueConfig cfg;
	Candidate  *cands = palloc(sizeof(Candidate) *
							   (Min(qty, QUEUE_WINDOW_MAX) + MAX_DEFERRED_PER_READ));
	bool		waiting = false;
	bool		dead_lettered = false;
	int			found = 0;
	QueueWindow *head;

	queue_config_read(topic, &cfg);
	head = delivery_window(topic, 0);
	for (;;)
	{
		TimestampTz now = GetCurrentTimestamp();
		TimestampTz next_due = DT_NOEND;
		uint32		first = pg_atomic_fetch_add_u32(&head->reads, 1);
		bool		moved = false;
		int			i;

		if (waiting)
			partition_wait_arm(1);
		if (q->lease)
			q->lease_until = pg_topics_deadline(q->lease_ms);

		/*
		 * From one partition, and the next ones only when it has too few: a
		 * read spread over every partition would meet every other consumer
		 * under each window's lock.  Each read of the topic starts at the
		 * partition after the one the read before started at, so that
		 * consumers at the same time read different partitions, and the
		 * partitions go down together.
		 */
		for (i = 0; i < topic->npartitions && found < qty; i++)
		{
			int			p = (first + i) % topic->npartitions;
			int			want = Min(qty - found, QUEUE_WINDOW_MAX);
			QueueWindow *w;
			int			n;

			if (topic_partition_pending(topic, p))
				continue;
			w = delivery_window(topic, p);
			if (waiting)
				partition_wait_for(w->log);
			/* again while some of what it reserved went to the dead letters */
			for (;;)
			{
				int			put;

				if (q->lease)
					delivery_store_mark_receipts(w, want);
				n = window_reserve(topic, &cfg, w, p, q, want, now, &next_due,
								   cands);
				if (n == 0)
					break;
				moved = true;
				put = hand_out(topic, &cfg, p, q, cands, n, store, desc);
				found += put;
				if (put == n || found >= qty)
					break;
				want = Min(qty - found, QUEUE_WINDOW_MAX);
			}
		}
		/*
		 * Only dead letters: look again; but when this read's own dead
		 * letters are all that holds the window, nothing but its commit
		 * makes room, so return (with nothing).
		 */
		if (found > 0 || (!moved && (now >= deadline || dead_lettered)))
			break;
		if (moved)
		{
			dead_lettered = true;
			continue;
		}
		if (!waiting)
		{
			waiting = true;
			continue;			/* registered: look once more, then sleep */
		}
		partition_wait_sleep(0, TimestampDifferenceMilliseconds(now,
																Min(deadline, next_due)));
	}
	partition_wait_done();
	pfree(cands);
	return found;
}

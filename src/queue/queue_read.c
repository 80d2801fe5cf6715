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
#include "common/hashfn.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "log/fetch.h"
#include "log/produce.h"
#include "log/topic_tables.h"
#include "queue/delivery_query.h"
#include "queue/queue_read.h"

/* The header that holds a message's delivery time (topics.send). */
#define NOT_BEFORE_HEADER	"pg_topics.not_before"

/* The columns of a queue read's rows. */
#define Natts_queue_row		(Natts_message + 2)

/* Reads rotate the partition they read first, for fairness. */
static uint32 read_rotation = 0;

/* What a read needs of a message the window had not met. */
typedef struct MetMessage
{
	int64		offset;
	ItemPointerData tid;
	bool		has_key;
	uint32		keyhash;
	TimestampTz not_before;
} MetMessage;

/* A message a read reserved, to hand out or to dead-letter. */
typedef struct Candidate
{
	DeliveryReservation *r;
	ItemPointerData tid;
	int32		deliveries;		/* counting this one */
} Candidate;

/*
 * not_before returns the delivery time in a message's headers, or
 * DT_NOBEGIN.
 */
static TimestampTz
not_before(Datum headers)
{
	Jsonb	   *jb = DatumGetJsonbP(headers);
	JsonbValue	k;
	JsonbValue *v;
	char	   *s;

	if (!JB_ROOT_IS_OBJECT(jb) || JB_ROOT_IS_SCALAR(jb))
		return DT_NOBEGIN;
	k.type = jbvString;
	k.val.string.val = NOT_BEFORE_HEADER;
	k.val.string.len = strlen(NOT_BEFORE_HEADER);
	v = findJsonbValueFromContainer(&jb->root, JB_FOBJECT, &k);
	if (v == NULL || v->type != jbvString)
		return DT_NOBEGIN;
	s = pnstrdup(v->val.string.val, v->val.string.len);
	return DatumGetTimestampTz(DirectFunctionCall3(timestamptz_in,
												   CStringGetDatum(s),
												   ObjectIdGetDatum(InvalidOid),
												   Int32GetDatum(-1)));
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
		m->not_before = isnull[Anum_message_headers - 1] ? DT_NOBEGIN :
			not_before(values[Anum_message_headers - 1]);
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
			slot->xid = InvalidFullTransactionId;
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
			if (slot->state == DELIVERY_NEW)
				slot->at = met[i].not_before;
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
 * window_reserve reserves up to want free messages of a window for the
 * query, in offset order, and returns how many, in cands; lowers *next_due
 * to the earliest time a held or delayed message of the window becomes
 * free.
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
	keys.size = 2 * QUEUE_WINDOW_MAX;
	keys.hashes = palloc(sizeof(uint32) * keys.size);
	keys.used = palloc(sizeof(bool) * keys.size);
	for (;;)
	{
		int64		limit;
		int64		o;
		int64		from;
		int64		below;

		memset(keys.used, 0, sizeof(bool) * keys.size);
		LWLockAcquire(&w->lock, LW_EXCLUSIVE);
		delivery_advance_start(w);
		limit = Min(w->frontier, w->start + w->size);
		for (o = w->start; o < limit && n < want; o++)
		{
			DeliverySlot *slot = window_slot(w, o);
			bool		held;

			delivery_settle(w, slot, now);
			if (slot->state == DELIVERY_DONE &&
				!FullTransactionIdIsValid(slot->xid))
				continue;
			held = FullTransactionIdIsValid(slot->xid) || slot->reserver != 0 ||
				slot->state == DELIVERY_LEASED || slot->at > now;
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
			cands[n].tid = slot->tid;
			cands[n].deliveries = slot->deliveries + 1;
			cands[n].r->dead_letter = slot->deliveries >= cfg->max_deliveries;
			n++;
		}
		from = w->frontier;
		below = Min(bounds.lso, w->start + w->size);
		LWLockRelease(&w->lock);
		if (n >= want || from >= below)
			break;
		window_meet(topic, w, partition, from, below);
	}
	pfree(keys.hashes);
	pfree(keys.used);
	return n;
}

/*
 * dead_letter produces a copy of a message to the queue's dead-letter
 * topic, with headers that say why and where from.
 */
static void
dead_letter(Topic *topic, QueueConfig *cfg, int partition, int64 offset,
			int32 deliveries, Datum *values, bool *isnull)
{
	Topic	   *dlt = topic_open(cfg->dead_letter_topic, AccessShareLock);
	ProduceMessage msg;
	JsonbParseState *state = NULL;
	JsonbValue *res;
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	char	   *fields[5][2];
	int			i;

	if (dlt == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("dead-letter topic \"%s\" of queue \"%s\" does not exist",
						cfg->dead_letter_topic, topic->name),
				 errdetail("Message %lld of partition %d was delivered %d times, the queue's max.deliveries.",
						   (long long) offset, partition, deliveries - 1),
				 errhint("Create the topic with topics.create_topic().")));

	fields[0][0] = "dead_letter.reason";
	fields[0][1] = "max.deliveries";
	fields[1][0] = "dead_letter.topic";
	fields[1][1] = topic->name;
	fields[2][0] = "dead_letter.partition";
	fields[2][1] = psprintf("%d", partition);
	fields[3][0] = "dead_letter.offset";
	fields[3][1] = psprintf("%lld", (long long) offset);
	fields[4][0] = "dead_letter.deliveries";
	fields[4][1] = psprintf("%d", deliveries - 1);

	pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	if (!isnull[Anum_message_headers - 1])
	{
		it = JsonbIteratorInit(&DatumGetJsonbP(values[Anum_message_headers - 1])->root);
		tok = JsonbIteratorNext(&it, &v, true);
		if (tok == WJB_BEGIN_OBJECT)
			while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_END_OBJECT &&
				   tok != WJB_DONE)
				pushJsonbValue(&state, tok, tok == WJB_KEY || tok == WJB_VALUE ? &v : NULL);
	}
	for (i = 0; i < 5; i++)
	{
		v.type = jbvString;
		v.val.string.val = fields[i][0];
		v.val.string.len = strlen(fields[i][0]);
		pushJsonbValue(&state, WJB_KEY, &v);
		v.val.string.val = fields[i][1];
		v.val.string.len = strlen(fields[i][1]);
		pushJsonbValue(&state, WJB_VALUE, &v);
	}
	res = pushJsonbValue(&state, WJB_END_OBJECT, NULL);

	memset(&msg, 0, sizeof(msg));
	msg.partition = partition % dlt->npartitions;
	msg.key = isnull[Anum_message_key - 1] ? NULL :
		DatumGetByteaPP(values[Anum_message_key - 1]);
	msg.value = isnull[Anum_message_value - 1] ? NULL :
		DatumGetByteaPP(values[Anum_message_value - 1]);
	msg.headers = JsonbPGetDatum(JsonbValueToJsonb(res));
	msg.timestamp = DatumGetTimestampTz(values[Anum_message_timestamp - 1]);
	produce_check_message(dlt, &msg);
	produce_messages(dlt, &msg, 1, false);
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
		if (c->r->dead_letter)
		{
			dead_letter(topic, cfg, partition, c->r->offset, c->deliveries,
						values, isnull);
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
 * queue_read reserves up to qty free messages of a queue for the query q
 * and puts them in store, waiting until deadline for the first; returns
 * how many it put.
 */
int
queue_read(Topic *topic, DeliveryQuery *q, int qty, TimestampTz deadline,
		   Tuplestorestate *store, TupleDesc desc)
{
	QueueConfig cfg;
	Candidate  *cands = palloc(sizeof(Candidate) * Min(qty, QUEUE_WINDOW_MAX));
	bool		waiting = false;
	int			found = 0;

	queue_config_read(topic, &cfg);
	for (;;)
	{
		TimestampTz now = GetCurrentTimestamp();
		TimestampTz next_due = DT_NOEND;
		uint32		first = read_rotation++;
		bool		moved = false;
		int			pass;
		int			i;

		if (waiting)
			partition_wait_arm(1);

		/* a share of qty from each partition first, then the rest */
		for (pass = 0; pass < 2 && found < qty; pass++)
			for (i = 0; i < topic->npartitions && found < qty; i++)
			{
				int			p = (first + i) % topic->npartitions;
				int			share = pass == 0 ?
					(qty + topic->npartitions - 1) / topic->npartitions :
					qty - found;
				QueueWindow *w;
				int			n;

				if (topic_partition_pending(topic, p))
					continue;
				w = delivery_window(topic, p);
				if (waiting && pass == 0)
					partition_wait_for(w->log);
				n = window_reserve(topic, &cfg, w, p, q,
								   Min(Min(share, qty - found), QUEUE_WINDOW_MAX),
								   now, &next_due, cands);
				if (n == 0)
					continue;
				moved = true;
				found += hand_out(topic, &cfg, p, q, cands, n, store, desc);
			}
		if (found > 0 || (!moved && now >= deadline))
			break;
		if (moved)
			continue;			/* only dead letters: look again */
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

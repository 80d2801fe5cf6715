/*-------------------------------------------------------------------------
 *
 * produce.c
 *	  Appending messages: routing, taking offsets, and writing the rows.
 *
 * This is the hot path, so it does not go through SPI or the executor's
 * tuple routing: it takes the offsets from the partition's shared counter
 * and inserts straight into the segment that holds them, with
 * table_tuple_insert (one message) or table_multi_insert (a batch, which
 * also writes less WAL), then makes the index entries: directly for plain
 * indexes, through ExecInsertIndexTuples for any index a user added on the
 * topic's root that needs the executor.  Triggers and constraints other than NOT NULL on
 * topics_data tables are not run.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "executor/executor.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "nodes/execnodes.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/timestamp.h"

#include "index_entries.h"
#include "guc.h"
#include "log/murmur2.h"
#include "log/produce.h"
#include "log/segment.h"
#include "log/segment_cache.h"
#include "log/segment_maker.h"
#include "log/topic_tables.h"

/* Rows written to one segment in one go, at most. */
#define PRODUCE_FLUSH_ROWS	1000

/*
 * Memory of one produce call: its slots, the heap tuples that
 * table_multi_insert forms, index tuples.  A batch of 1000 messages of a
 * few hundred bytes needs about half a megabyte.  In a context that a call
 * makes and frees, that memory went back to malloc, and malloc gave it back
 * to the kernel (trimming the heap or unmapping) often enough that, on some
 * connections, every batch faulted in its pages again: produce_batch of
 * 1000 messages took a quarter longer.  This context keeps its first block
 * for the life of the backend and is reset at every call; a call that
 * needed more makes the first block larger, up to PRODUCE_MEMORY_MAX.
 */
#define PRODUCE_MEMORY		(1024 * 1024)
#define PRODUCE_MEMORY_MAX	ALLOCSET_DEFAULT_MAXSIZE

static MemoryContext produce_context = NULL;
static Size produce_memory = PRODUCE_MEMORY;
static bool produce_context_busy = false;

/*
 * An open segment being written.  The slots outlive it, for every segment
 * written by one call: they are made from a copy of the first segment's
 * descriptor (all segments have the same shape), which is not reference
 * counted, so that a thousand slots cost no resource owner bookkeeping.
 */
typedef struct SegmentWriter
{
	Relation	rel;
	ResultRelInfo *rri;
	bool	   *plain;			/* per index of rri: index_is_plain() */
	ResultRelInfo *rest;		/* the other indexes, or NULL */
	EState	   *estate;			/* for rest */
	BulkInsertState bistate;
	TupleDesc	desc;			/* unpinned copy, for the slots */
	TupleTableSlot *slots[PRODUCE_FLUSH_ROWS];
	int			nslots;			/* slots created so far */
	int			nused;			/* slots holding rows not yet written */
} SegmentWriter;

/*
 * produce_utf8_bytes returns a string of the server encoding as a bytea of its
 * UTF-8 bytes, sharing the input when no conversion is needed.
 */
bytea *
produce_utf8_bytes(const char *s, int len, bytea *same)
{
	char	   *conv = pg_server_to_any(s, len, PG_UTF8);
	bytea	   *result;

	if (conv == s && same != NULL)
		return same;
	if (conv != s)
		len = strlen(conv);
	result = palloc(VARHDRSZ + len);
	SET_VARSIZE(result, VARHDRSZ + len);
	memcpy(VARDATA(result), conv, len);
	return result;
}

/*
 * produce_check_message raises 22023 when a message breaks a limit.
 */
void
produce_check_message(Topic *topic, ProduceMessage *msg)
{
	int64		size = 0;

	if (msg->key)
		size += VARSIZE_ANY_EXHDR(msg->key);
	if (msg->value)
		size += VARSIZE_ANY_EXHDR(msg->value);
	if (msg->headers)
		size += VARSIZE_ANY_EXHDR(DatumGetPointer(msg->headers));
	if (size > topic_max_message_bytes(&topic->cfg))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("message of %lld bytes is too large for topic \"%s\"",
						(long long) size, topic->name),
				 errdetail("Key, value and headers together may hold at most %lld bytes.",
						   (long long) topic_max_message_bytes(&topic->cfg)),
				 topic->cfg.max_message_bytes > 0 ?
				 errhint("Raise the topic's \"max.message.bytes\" with topics.alter_topic(), or split the message.") :
				 errhint("Raise \"pg_topics.max_message_bytes\", or split the message.")));
	if (msg->key == NULL && topic->cfg.cleanup_compact)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("topic \"%s\" is compacted: every message needs a key", topic->name),
				 errdetail("Compaction keeps the latest message of each key; a message without a key has none."),
				 errhint("Give the message a key, or set the topic's \"cleanup.policy\" to \"delete\".")));
	if (msg->partition >= 0)
		topic_check_partition(topic, msg->partition);
}

/*
 * route assigns a partition to every message that has none: Kafka's
 * murmur2 of the key, else round robin per message, or one partition for
 * all keyless messages of the call when sticky.
 */
static void
route(Topic *topic, ProduceMessage *msgs, int n, bool sticky)
{
	int			i;
	int			keyless = -1;

	for (i = 0; i < n; i++)
	{
		ProduceMessage *msg = &msgs[i];

		if (msg->partition >= 0)
			continue;
		if (msg->key != NULL)
			msg->partition =
				kafka_partition_for_key(VARDATA_ANY(msg->key),
										VARSIZE_ANY_EXHDR(msg->key),
										topic->npartitions);
		else if (sticky && keyless >= 0)
			msg->partition = keyless;
		else
		{
			msg->partition = topic->next_partition++ % topic->npartitions;
			keyless = msg->partition;
		}
	}
}

/*
 * writer_open opens a segment for writing.  Its plain indexes (the
 * segments' own on msg_offset) get their entries directly: building an
 * executor state for each produced message costs more than its insert.
 * Any other index (one a user added on the topic's root, with expressions,
 * a predicate or deferred checks) goes through ExecInsertIndexTuples, which
 * is handed a ResultRelInfo of those alone.
 */
static void
writer_open(SegmentWriter *w, Oid relid, const char *topic)
{
	ResultRelInfo *rri;
	int			nrest = 0;
	int			i;

	w->rel = table_open(relid, RowExclusiveLock);
	topic_table_check(w->rel, topic);
	rri = w->rri = makeNode(ResultRelInfo);
	InitResultRelInfo(rri, w->rel, 1, NULL, 0);
	ExecOpenIndices(rri, false);
	segment_cache_touch(w->rel);
	w->plain = palloc(sizeof(bool) * Max(rri->ri_NumIndices, 1));
	for (i = 0; i < rri->ri_NumIndices; i++)
	{
		w->plain[i] = index_is_plain(rri->ri_IndexRelationDescs[i],
									 rri->ri_IndexRelationInfo[i]);
		nrest += !w->plain[i];
	}
	w->rest = NULL;
	w->estate = NULL;
	if (nrest > 0)
	{
		w->rest = makeNode(ResultRelInfo);
		*w->rest = *rri;
		w->rest->ri_NumIndices = 0;
		w->rest->ri_IndexRelationDescs = palloc(sizeof(Relation) * nrest);
		w->rest->ri_IndexRelationInfo = palloc(sizeof(IndexInfo *) * nrest);
		for (i = 0; i < rri->ri_NumIndices; i++)
			if (!w->plain[i])
			{
				int			k = w->rest->ri_NumIndices++;

				w->rest->ri_IndexRelationDescs[k] = rri->ri_IndexRelationDescs[i];
				w->rest->ri_IndexRelationInfo[k] = rri->ri_IndexRelationInfo[i];
			}
		w->estate = CreateExecutorState();
	}
	w->bistate = NULL;
	w->nused = 0;
	if (w->desc == NULL)
		w->desc = CreateTupleDescCopy(RelationGetDescr(w->rel));
}

/*
 * writer_index makes the index entries of one written row (see
 * writer_open).
 */
static void
writer_index(SegmentWriter *w, TupleTableSlot *slot)
{
	ResultRelInfo *rri = w->rri;
	int			i;

	for (i = 0; i < rri->ri_NumIndices; i++)
		if (w->plain[i])
			index_entry_insert(w->rel, rri->ri_IndexRelationDescs[i],
							   rri->ri_IndexRelationInfo[i], slot,
							   &slot->tts_tid);
	if (w->rest)
		ExecInsertIndexTuples(w->rest, slot, w->estate, false, false, NULL,
							  NIL);
}

/*
 * writer_flush writes the buffered rows and their index entries.
 */
static void
writer_flush(SegmentWriter *w)
{
	CommandId	cid = GetCurrentCommandId(true);
	int			i;

	if (w->nused == 0)
		return;
	if (w->nused == 1)
		table_tuple_insert(w->rel, w->slots[0], cid, 0, NULL);
	else
	{
		if (w->bistate == NULL)
			w->bistate = GetBulkInsertState();
		table_multi_insert(w->rel, w->slots, w->nused, cid, 0, w->bistate);
	}
	for (i = 0; i < w->nused; i++)
	{
		if (w->rri->ri_NumIndices > 0)
			writer_index(w, w->slots[i]);
		ExecClearTuple(w->slots[i]);
	}
	w->nused = 0;
	if (w->estate)
		ResetPerTupleExprContext(w->estate);
}

static void
writer_close(SegmentWriter *w)
{
	if (w->rel == NULL)
		return;
	writer_flush(w);
	if (w->bistate)
		FreeBulkInsertState(w->bistate);
	/* closes the indexes of rest too: it shares their relations */
	ExecCloseIndices(w->rri);
	pfree(w->plain);
	if (w->rest)
	{
		pfree(w->rest->ri_IndexRelationDescs);
		pfree(w->rest->ri_IndexRelationInfo);
		pfree(w->rest);
		FreeExecutorState(w->estate);
	}
	table_close(w->rel, NoLock);
	w->rel = NULL;
}

/*
 * writer_add buffers one message as a row of the open segment.
 */
static void
writer_add(SegmentWriter *w, ProduceMessage *msg)
{
	TupleTableSlot *slot;

	if (w->nused == PRODUCE_FLUSH_ROWS)
		writer_flush(w);
	if (w->nused == w->nslots)
		w->slots[w->nslots++] = MakeSingleTupleTableSlot(w->desc,
														 &TTSOpsVirtual);
	slot = w->slots[w->nused++];

	slot->tts_values[Anum_message_partition - 1] = Int32GetDatum(msg->partition);
	slot->tts_isnull[Anum_message_partition - 1] = false;
	slot->tts_values[Anum_message_offset - 1] = Int64GetDatum(msg->offset);
	slot->tts_isnull[Anum_message_offset - 1] = false;
	slot->tts_values[Anum_message_timestamp - 1] = TimestampTzGetDatum(msg->timestamp);
	slot->tts_isnull[Anum_message_timestamp - 1] = false;
	slot->tts_values[Anum_message_key - 1] = PointerGetDatum(msg->key);
	slot->tts_isnull[Anum_message_key - 1] = (msg->key == NULL);
	slot->tts_values[Anum_message_value - 1] = PointerGetDatum(msg->value);
	slot->tts_isnull[Anum_message_value - 1] = (msg->value == NULL);
	slot->tts_values[Anum_message_headers - 1] = msg->headers;
	slot->tts_isnull[Anum_message_headers - 1] = (msg->headers == 0);
	ExecStoreVirtualTuple(slot);
}

/*
 * precreate_next asks, without waiting, for the segment after the last one
 * once a producer passes its middle, so that producers rarely wait for one.
 */
static void
precreate_next(Topic *topic, int partition, int64 last_offset)
{
	TopicPartition *part = &topic->partitions[partition];
	LogSegment *last = &part->segments[part->nsegments - 1];
	PartitionState *state;

	/* no worker can see a partition created by this transaction */
	if (last_offset < last->base + (last->end - last->base) / 2 ||
		topic_partition_created_here(topic, partition))
		return;
	state = topic_partition_state(topic, partition);
	if (partition_segment_wanted(state, last->end) &&
		segment_request(topic, partition, last->end, 0) != MAKER_ASKED)
	{
		/* the maker could not be asked: let a later producer ask again */
		partition_segment_unwanted(state);
	}
}

/*
 * ensure_segment waits, before any offset is taken, for a segment to hold
 * the count offsets a producer is about to take.  A producer that waits
 * here holds no offset, so it holds back no reader, and if no segment can
 * be added it fails without having used up offsets.  Offsets taken by
 * others meanwhile can still carry it past the segment; produce_messages
 * then waits again.
 */
static void
ensure_segment(Topic **topicp, int partition, int64 count)
{
	PartitionState *state;
	TopicPartition *part;
	int64		need;

	/* a partition not made yet gets its first segment first */
	if (topic_partition_pending(*topicp, partition))
		(void) segment_wait_for(topicp, partition, 0, 0);
	state = topic_partition_state(*topicp, partition);
	part = &(*topicp)->partitions[partition];
	need = partition_log_end(state) + count - 1;

	if (need >= part->segments[part->nsegments - 1].end)
		segment_wait_for(topicp, partition, need, need);
}

/*
 * by_partition orders the indexes of messages by partition, and in the
 * order given within a partition.
 */
static int
by_partition(const void *a, const void *b, void *arg)
{
	const ProduceMessage *msgs = arg;
	int			ia = *(const int *) a;
	int			ib = *(const int *) b;

	if (msgs[ia].partition != msgs[ib].partition)
		return msgs[ia].partition < msgs[ib].partition ? -1 : 1;
	return ia < ib ? -1 : (ia > ib ? 1 : 0);
}

/*
 * order_by_partition sets order to the indexes of msgs sorted by_partition:
 * by counting when the partitions are few against the messages (a batch),
 * which costs a pass over them instead of a comparison sort.
 */
static void
order_by_partition(Topic *topic, const ProduceMessage *msgs, int n, int *order)
{
	int		   *next;
	int			p;
	int			i;

	if (n < 64 || topic->npartitions > 4 * n)
	{
		for (i = 0; i < n; i++)
			order[i] = i;
		qsort_arg(order, n, sizeof(int), by_partition, (void *) msgs);
		return;
	}
	next = palloc0(sizeof(int) * (topic->npartitions + 1));
	for (i = 0; i < n; i++)
		next[msgs[i].partition + 1]++;
	for (p = 0; p < topic->npartitions; p++)
		next[p + 1] += next[p];
	for (i = 0; i < n; i++)
		order[next[msgs[i].partition]++] = i;
	pfree(next);
}

/*
 * run_end returns where the run of messages of one partition that starts
 * at order[start] ends, in order sorted by_partition.
 */
static int
run_end(const ProduceMessage *msgs, const int *order, int n, int start)
{
	int			end = start + 1;

	while (end < n && msgs[order[end]].partition == msgs[order[start]].partition)
		end++;
	return end;
}

/*
 * write_messages is produce_messages in its memory context.  The messages
 * are taken partition by partition, in an order sorted once, so that a
 * message costs the same whatever the number of partitions of the topic
 * or of the batch.
 */
static void
write_messages(Topic *topic, ProduceMessage *msgs, int n, bool sticky)
{
	int		   *order = palloc(sizeof(int) * n);
	int			start;
	int			end;
	int			i;
	SegmentWriter w;

	route(topic, msgs, n, sticky);
	order_by_partition(topic, msgs, n, order);

	/* room in a segment for each partition's messages, then their offsets */
	for (start = 0; start < n; start = end)
	{
		int			p = msgs[order[start]].partition;

		end = run_end(msgs, order, n, start);
		ensure_segment(&topic, p, end - start);
	}
	for (start = 0; start < n; start = end)
	{
		int			p = msgs[order[start]].partition;
		int64		next;

		end = run_end(msgs, order, n, start);
		next = partition_reserve(topic_partition_state(topic, p), end - start);
		for (i = start; i < end; i++)
			msgs[order[i]].offset = next++;
	}

	/* write partition by partition, switching segments as offsets cross */
	memset(&w, 0, sizeof(w));
	for (start = 0; start < n; start = end)
	{
		int			p = msgs[order[start]].partition;
		const LogSegment *seg = NULL;
		int64		last;

		end = run_end(msgs, order, n, start);
		last = msgs[order[end - 1]].offset;
		for (i = start; i < end; i++)
		{
			ProduceMessage *msg = &msgs[order[i]];

			if (seg == NULL || msg->offset >= seg->end || msg->offset < seg->base)
			{
				writer_close(&w);
				seg = topic_find_segment(topic, p, msg->offset);
				if (seg == NULL)
					seg = segment_wait_for(&topic, p, msg->offset, last);
				writer_open(&w, segment_relid(topic->name, p, seg), topic->name);
			}
			writer_add(&w, msg);
		}
		writer_close(&w);
		precreate_next(topic, p, last);
	}
	for (i = 0; i < w.nslots; i++)
		ExecDropSingleTupleTableSlot(w.slots[i]);
}

/*
 * produce_context_release empties the produce context after a call, or
 * frees it so that the next call makes it with a first block large enough
 * for this one.
 */
static void
produce_context_release(void)
{
	Size		used = MemoryContextMemAllocated(produce_context, true);

	/* more than the first block means at least as much again */
	if (used >= 2 * produce_memory && produce_memory < PRODUCE_MEMORY_MAX)
	{
		MemoryContextDelete(produce_context);
		produce_context = NULL;
		while (2 * produce_memory <= used && produce_memory < PRODUCE_MEMORY_MAX)
			produce_memory *= 2;
	}
	else
		MemoryContextReset(produce_context);
	produce_context_busy = false;
}

/*
 * produce_messages appends msgs to an open topic, setting each message's
 * partition and offset.  Messages of one partition get consecutive offsets
 * in the order given.
 */
void
produce_messages(Topic *topic, ProduceMessage *msgs, int n, bool sticky)
{
	MemoryContext cxt;
	MemoryContext old;
	bool		nested = produce_context_busy;

	/*
	 * A produce from inside a produce (an index expression a user added to a
	 * topic's root that calls one) gets a context of its own.
	 */
	if (nested)
		cxt = AllocSetContextCreate(CurrentMemoryContext,
									"pg_topics nested produce",
									ALLOCSET_DEFAULT_SIZES);
	else
	{
		if (produce_context == NULL)
			produce_context = AllocSetContextCreate(TopMemoryContext,
													"pg_topics produce",
													produce_memory,
													produce_memory,
													PRODUCE_MEMORY_MAX);
		cxt = produce_context;
		MemoryContextReset(cxt);
		produce_context_busy = true;
	}
	old = MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		write_messages(topic, msgs, n, sticky);
	}
	PG_FINALLY();
	{
		MemoryContextSwitchTo(old);
		if (nested)
			MemoryContextDelete(cxt);
		else
			produce_context_release();
	}
	PG_END_TRY();
}

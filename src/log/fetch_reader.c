/*-------------------------------------------------------------------------
 *
 * fetch_reader.c
 *	  Handing out the committed messages of a partition one at a time, in
 *	  offset order, as they lie in shared buffers.
 *
 * A reader is begun after its caller has read the partition's last stable
 * offset (LSO), and takes a fresh snapshot (GetLatestSnapshot) then,
 * whatever the caller's isolation level: every offset below the LSO
 * belongs to a transaction that ended before the snapshot, so the rows seen
 * are exactly the committed ones, and no later commit can add a row below
 * the offsets handed out.  The snapshot stays registered until the reader
 * ends, so a reader consumed slowly (a cursor) sees the same rows as one
 * consumed at once.
 *
 * Segments are read straight from the segment tables rather than through
 * the topic's root, which would plan and lock every segment of every
 * partition.  In each segment the index on msg_offset finds the first row;
 * the heap pages that follow give the next ones as long as they lie there
 * in offset order, and the index the rest.  A partition appended to by one
 * producer at a time lies in the heap as it does in the index, and reading
 * the pages in turn costs half as much per row as an index scan.  A page's
 * rows are checked under its lock, as a sequential scan does, and handed
 * out afterwards with only its pin held.
 *
 * Concurrent producers each fill a heap page of their own, so the rows of
 * a busy partition alternate between several pages.  Fetched one at a time
 * through the index, nearly every row would pin, lock and first touch a
 * page other than the last one's: with many groups reading a topic, that
 * was most of their cost.  So the index hands out the row pointers of a
 * batch first, and each heap page of the batch is pinned, locked and
 * checked once, its rows in page order; the rows then go out in offset
 * order.
 *
 * Each row goes out as a tuple in a buffer the reader keeps pinned at least
 * until the next call, so a caller that keeps it longer copies it (a
 * tuplestore does).  Segments stay locked until the transaction ends, so
 * that a TOASTed value can still be read when the caller's query hands the
 * row out.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/heapam.h"
#include "access/relscan.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "utils/fmgroids.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "log/fetch.h"
#include "log/segment_cache.h"
#include "log/topic_tables.h"

typedef enum ReadStep
{
	READ_SEGMENT,				/* open the next segment, find its first row */
	READ_PAGES,					/* the rows that follow it in the heap */
	READ_BATCHES				/* the rest of the segment, by the index */
} ReadStep;

/*
 * A batch holds the rows of at most BATCH_ROWS index entries lying on at
 * most BATCH_PAGES heap pages, which stay pinned until the batch is handed
 * out (or the read ends).  The batches of all the reads a backend has open
 * (cursors) pin at most its share of shared_buffers, NBuffers /
 * MaxBackends, together: past it each batch takes one page, as a read
 * through the index would pin one.  batch_pins counts them, and starts
 * over with each transaction.
 */
#define BATCH_ROWS 256
#define BATCH_PAGES 32

static int	batch_pins = 0;
static bool batch_callback_registered = false;

/*
 * The pages a read's batch pins, kept apart from the reader until the
 * memory of the query goes: a read that an error ends (a cursor of a
 * subtransaction rolled back) leaves its pins to the resource owner and is
 * never ended, and gives its share of batch_pins back then.
 */
typedef struct BatchPins
{
	MemoryContextCallback callback;
	int			npins;
	Buffer		pins[BATCH_PAGES];
} BatchPins;

struct FetchReader
{
	char		topic[NAMEDATALEN];
	int			partition;
	int64		from;
	int64		below;			/* the LSO the read stops at */
	int			max;
	Snapshot	snapshot;
	bool		by_index;		/* serializable: no READ_PAGES */
	int			nsegments;		/* the segments [from, below) spans */
	LogSegment *segments;

	/* where the read is */
	ReadStep	step;
	int			seg;			/* the next segment to open */
	int			left;			/* rows still to hand out */
	int64		next;			/* the offset the next row in the heap must
								 * carry */

	/* the segment open */
	Relation	rel;
	Relation	index;
	IndexScanDesc scan;
	TupleTableSlot *slot;		/* the index scan's */
	ScanKeyData keys[2];		/* [next, seg_below) */
	int64		seg_below;

	/* READ_PAGES: the heap pages after the first row, in turn */
	BlockNumber blkno;			/* the next page to read */
	BlockNumber end_blkno;
	OffsetNumber first_line;	/* where to start on page blkno */
	int			skips_left;		/* rows below next that may be passed over */
	bool		in_order;		/* false once a row out of order was seen */
	Buffer		buffer;			/* the page read last, pinned */
	int			nlines;			/* its rows to hand out */
	int			line;
	OffsetNumber lines[MaxHeapTuplesPerPage];
	HeapTupleData tuple;

	/* READ_BATCHES: the rows of the index entries of a batch */
	bool		index_done;		/* the index scan has returned its last */
	int64		batch_from;		/* the key the batch's entries start at */
	int			nrows;
	int			row;			/* the next to hand out */
	ItemPointerData tids[BATCH_ROWS];	/* in index order */
	uint16		by_page[BATCH_ROWS];	/* tids' indexes grouped by page */
	HeapTupleData rows[BATCH_ROWS]; /* t_data NULL: not visible */
	BatchPins  *pinned;			/* its pages, counted in batch_pins */
};

static void
batch_pins_give_back(void *arg)
{
	BatchPins  *pinned = arg;

	batch_pins = Max(batch_pins - pinned->npins, 0);
	pinned->npins = 0;
}

/*
 * segments_below returns how many of a partition's segments (ordered and
 * disjoint) have their end, or with by_base their base, below offset.
 */
static int
segments_below(const TopicPartition *part, int64 offset, bool by_base)
{
	int			lo = 0;
	int			hi = part->nsegments;

	while (lo < hi)
	{
		int			mid = lo + (hi - lo) / 2;
		const LogSegment *seg = &part->segments[mid];

		if ((by_base ? seg->base : seg->end) < offset)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/*
 * fetch_reader_begin returns a reader of up to max committed messages of a
 * partition with offsets in [from, below).  Caller has read the
 * partition's LSO, which below must not exceed, just before.
 */
FetchReader *
fetch_reader_begin(Topic *topic, int partition, int64 from, int64 below,
				   int max)
{
	FetchReader *r = palloc0(sizeof(FetchReader));
	TopicPartition *part = &topic->partitions[partition];
	int			first;
	int			end;

	/* a read below the log start starts there */
	from = Max(from, topic_log_start(topic, partition));

	/* segments created since the topic was cached hold offsets below the LSO */
	if (part->nsegments == 0 || part->segments[part->nsegments - 1].end < below)
	{
		topic = topic_reload(topic, partition);
		part = &topic->partitions[partition];
	}

	/*
	 * The topic's cache may be rebuilt while a cursor holds the reader: keep
	 * a copy of the segments it reads, found by bisection, so that a read
	 * costs the same at ten segments as at ten thousand.
	 */
	strlcpy(r->topic, topic->name, NAMEDATALEN);
	r->partition = partition;
	/* those that end after from and begin before below */
	first = segments_below(part, from + 1, false);
	end = segments_below(part, below, true);
	r->nsegments = Max(end - first, 0);
	r->segments = palloc(sizeof(LogSegment) * Max(r->nsegments, 1));
	if (r->nsegments > 0)
		memcpy(r->segments, part->segments + first,
			   sizeof(LogSegment) * r->nsegments);
	r->from = from;
	r->below = below;
	r->max = max;
	r->by_index = IsolationIsSerializable();
	r->snapshot = RegisterSnapshot(GetLatestSnapshot());
	r->buffer = InvalidBuffer;
	r->pinned = palloc0(sizeof(BatchPins));
	r->pinned->callback.func = batch_pins_give_back;
	r->pinned->callback.arg = r->pinned;
	MemoryContextRegisterResetCallback(CurrentMemoryContext,
									   &r->pinned->callback);
	fetch_reader_rewind(r);
	return r;
}

static void
batch_xact_callback(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT ||
		event == XACT_EVENT_PREPARE || event == XACT_EVENT_PARALLEL_COMMIT ||
		event == XACT_EVENT_PARALLEL_ABORT)
		batch_pins = 0;
}

static void
reader_release_batch(FetchReader *r)
{
	BatchPins  *pinned = r->pinned;

	batch_pins = Max(batch_pins - pinned->npins, 0);
	while (pinned->npins > 0)
		ReleaseBuffer(pinned->pins[--pinned->npins]);
	r->nrows = r->row = 0;
}

static void
reader_close_segment(FetchReader *r)
{
	if (BufferIsValid(r->buffer))
		ReleaseBuffer(r->buffer);
	r->buffer = InvalidBuffer;
	r->nlines = r->line = 0;
	reader_release_batch(r);
	if (r->rel == NULL)
		return;
	index_endscan(r->scan);
	ExecDropSingleTupleTableSlot(r->slot);
	index_close(r->index, NoLock);
	table_close(r->rel, NoLock);
	r->rel = NULL;
}

/*
 * fetch_reader_rewind starts the read over: the same rows come out again,
 * as the snapshot and bounds are kept.
 */
void
fetch_reader_rewind(FetchReader *r)
{
	reader_close_segment(r);
	r->step = READ_SEGMENT;
	r->seg = 0;
	r->left = r->max;
}

void
fetch_reader_end(FetchReader *r)
{
	reader_close_segment(r);
	UnregisterSnapshot(r->snapshot);
	pfree(r->segments);
	pfree(r);
}

/*
 * reader_open_segment opens the next segment and looks up its first row in
 * [from, seg_below), leaving it in the index scan's slot; returns false
 * when there is none (the segment is then closed again).  The first row is
 * looked for alone first: a scan up to seg_below would check every entry of
 * the first leaf page, where the rows that follow come cheaper from the
 * heap.  Only when from is a gap is the range scanned.
 */
static bool
reader_open_segment(FetchReader *r)
{
	const LogSegment *seg = &r->segments[r->seg++];
	int64		start = Max(r->from, seg->base);
	Oid			relid = OidIsValid(seg->relid) ? seg->relid :
	topic_table_relid(r->topic, r->partition, seg->base);
	bool		found;

	r->seg_below = Min(r->below, seg->end);

	/*
	 * Each segment is locked when the read reaches it, so that a read of a
	 * few messages far behind the LSO locks a few segments.  drop_topic waits
	 * for the lock on the topic.  Retention drops a segment only once every
	 * snapshot sees the log start past it, and never one a reader has
	 * locked, so a read in a segment keeps it whole; a segment missing when
	 * the read reaches it was dropped whole, below the log start as it is
	 * now (this backend's copy of the topic may be older), and holds
	 * nothing to hand out.  Only one dropped by hand is an error.
	 */
	r->rel = OidIsValid(relid) ? try_table_open(relid, AccessShareLock) : NULL;
	if (r->rel == NULL)
	{
		PartitionRecord record;

		partition_read_record(r->topic, r->partition, &record);
		if (record.log_start >= seg->end)
			return false;
	}
	if (r->rel == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("a segment table of partition %d of topic \"%s\" is missing",
						r->partition, r->topic),
				 errdetail("The segment holding offsets %lld to %lld was dropped by hand.",
						   (long long) seg->base, (long long) seg->end - 1),
				 errhint("Topic tables change only through pg_topics functions; drop the topic with topics.drop_topic().")));
	topic_table_check(r->rel, r->topic);
	r->index = index_open(segment_offset_index(r->rel), AccessShareLock);
	segment_cache_touch(r->rel);
	r->slot = table_slot_create(r->rel, NULL);
	ScanKeyInit(&r->keys[0], 1, BTGreaterEqualStrategyNumber, F_INT8GE,
				Int64GetDatum(start));
	ScanKeyInit(&r->keys[1], 1, BTLessStrategyNumber, F_INT8LT,
				Int64GetDatum(start + 1));
	r->scan = index_beginscan(r->rel, r->index, r->snapshot, 2, 0);
	index_rescan(r->scan, r->keys, 2, NULL, 0);
	found = index_getnext_slot(r->scan, ForwardScanDirection, r->slot);
	r->keys[1].sk_argument = Int64GetDatum(r->seg_below);
	if (!found)
	{
		index_rescan(r->scan, r->keys, 2, NULL, 0);
		found = index_getnext_slot(r->scan, ForwardScanDirection, r->slot);
	}
	if (!found)
		reader_close_segment(r);
	return found;
}

/*
 * reader_after_first sets the read of the rest of the segment up, once its
 * first row is out: the heap pages from that row's on, and past them the
 * index from next, in batches.  At most left rows below next are passed
 * over on the pages, and the pages end left pages past the first (left rows
 * in order fit in them), so that a heap laid out otherwise, or rows rolled
 * back in bulk right after the first, cost at most that many pages before
 * the index goes on.
 */
static void
reader_after_first(FetchReader *r)
{
	bool		isnull;
	ItemPointer start = &r->slot->tts_tid;

	r->next = DatumGetInt64(slot_getattr(r->slot, Anum_message_offset,
										 &isnull)) + 1;
	r->blkno = ItemPointerGetBlockNumber(start);
	r->first_line = ItemPointerGetOffsetNumber(start);
	r->end_blkno = (BlockNumber) Min((uint64) r->blkno + r->left,
									 (uint64) RelationGetNumberOfBlocks(r->rel));
	r->skips_left = r->left;
	r->in_order = !r->by_index && r->left > 0 && r->next < r->seg_below;
	r->nlines = r->line = 0;
	r->step = READ_PAGES;
}

/*
 * page_tuple points tuple at the row at line off of the page of buffer,
 * block blkno of the segment open.
 */
static void
page_tuple(FetchReader *r, Buffer buffer, BlockNumber blkno, OffsetNumber off,
		   HeapTuple tuple)
{
	Page		page = BufferGetPage(buffer);
	ItemId		lp = PageGetItemId(page, off);

	tuple->t_data = (HeapTupleHeader) PageGetItem(page, lp);
	tuple->t_len = ItemIdGetLength(lp);
	tuple->t_tableOid = RelationGetRelid(r->rel);
	ItemPointerSet(&tuple->t_self, blkno, off);
}

/*
 * reader_read_page reads the next heap page and notes, in r->lines, the
 * rows on it that carry the offsets next, next + 1, ...; returns false
 * when the run in log order is over: a row out of order (a concurrent
 * producer's, or a gap left by a rollback), enough rows, or the end of the
 * pages allowed.  Rows below next (the first row among them) were handed
 * out already.  The visibility of the rows is checked under the page's
 * lock, as heapgetpage does; they are handed out later, with only the pin.
 */
static bool
reader_read_page(FetchReader *r)
{
	TupleDesc	desc = RelationGetDescr(r->rel);
	Page		page;
	OffsetNumber off;
	OffsetNumber maxoff;
	bool		all_visible;

	/* the first row, handed out from the slot, is past: unpin it */
	ExecClearTuple(r->slot);
	if (BufferIsValid(r->buffer))
		ReleaseBuffer(r->buffer);
	r->buffer = InvalidBuffer;
	r->nlines = r->line = 0;
	if (!r->in_order || r->blkno >= r->end_blkno)
		return false;

	CHECK_FOR_INTERRUPTS();
	r->buffer = ReadBuffer(r->rel, r->blkno);
	heap_page_prune_opt(r->rel, r->buffer);
	LockBuffer(r->buffer, BUFFER_LOCK_SHARE);
	page = BufferGetPage(r->buffer);
	maxoff = PageGetMaxOffsetNumber(page);
	/* as heapgetpage: no row of an all-visible page needs a check */
	all_visible = PageIsAllVisible(page) && !r->snapshot->takenDuringRecovery;
	for (off = r->first_line; r->in_order && off <= maxoff; off++)
	{
		HeapTupleData tuple;
		bool		isnull;
		int64		offset;

		if (!ItemIdIsNormal(PageGetItemId(page, off)))
			continue;
		page_tuple(r, r->buffer, r->blkno, off, &tuple);
		if (!all_visible &&
			!HeapTupleSatisfiesVisibility(&tuple, r->snapshot, r->buffer))
			continue;

		/* the offset lies at a fixed place: no need to take the row apart */
		offset = DatumGetInt64(heap_getattr(&tuple, Anum_message_offset,
											desc, &isnull));
		if (offset < r->next && --r->skips_left >= 0)
			continue;
		if (offset != r->next)
		{
			r->in_order = false;
			break;
		}
		r->lines[r->nlines++] = off;
		r->next++;
		r->in_order = r->nlines < r->left && r->next < r->seg_below;
	}
	LockBuffer(r->buffer, BUFFER_LOCK_UNLOCK);
	r->blkno++;
	r->first_line = FirstOffsetNumber;
	return true;
}

/*
 * reader_kill_dead marks dead in the index the entries of a batch whose
 * rows no transaction can see any more (rolled back, or pruned since), as
 * an index scan does for the rows it fetches: later reads then pass them
 * without visiting the heap.  The batch's own scan has moved past them, and
 * an index scan marks only the entry it returned last; so a second scan
 * walks the batch's entries again, from its first key.  Entries may have
 * gone meanwhile (VACUUM), none can come into the keys walked (below the
 * LSO): each is marked only when it is one of the batch's own found dead.
 * Returns the key past the batch's last entry found, so that the next
 * walk starts past this one's (it would step again over the entries
 * marked, for each batch of a long run of rolled-back rows), or -1.
 */
static int64
reader_kill_dead(FetchReader *r, const bool *dead)
{
	IndexScanDesc scan = index_beginscan(r->rel, r->index, r->snapshot, 2, 0);
	ScanKeyData keys[2];
	int64		past = -1;
	int			j = 0;

	/* a standby cannot mark entries: its scans ignore the marks */
	if (!scan->xactStartedInRecovery)
	{
		/* the entries' keys too */
		scan->xs_want_itup = true;
		memcpy(keys, r->keys, sizeof(keys));
		keys[0].sk_argument = Int64GetDatum(r->batch_from);
		index_rescan(scan, keys, 2, NULL, 0);

		/*
		 * The mark of an entry is taken when the scan moves past it, so the
		 * walk takes one entry more.  Entries of an earlier batch that kept
		 * no mark may come first: it passes at most a batch of them.
		 */
		for (int steps = 0; steps <= r->nrows + BATCH_ROWS; steps++)
		{
			ItemPointer tid = index_getnext_tid(scan, ForwardScanDirection);
			int			k;
			bool		isnull;

			if (tid == NULL || j == r->nrows)
				break;
			for (k = j; k < r->nrows && !ItemPointerEquals(tid, &r->tids[k]); k++)
				;
			if (k == r->nrows)
				continue;
			scan->kill_prior_tuple = dead[k];
			j = k + 1;
			past = DatumGetInt64(index_getattr(scan->xs_itup, 1,
											   scan->xs_itupdesc, &isnull)) + 1;
		}
	}
	index_endscan(scan);
	return past;
}

/*
 * reader_read_batch reads the next batch of the segment's rows through the
 * index, and returns false when the index has no more.  The entries are
 * taken until the batch holds as many as the rows left to hand out, or
 * BATCH_ROWS, or until they lie on BATCH_PAGES pages (see there); then each
 * page is read once, and the rows on it checked against the snapshot under
 * its lock, through heap_hot_search_buffer as an index scan does (so that a
 * serializable read takes the same predicate locks).  Entries of rows not
 * visible, rolled back, stay in the batch with no tuple.
 */
static bool
reader_read_batch(FetchReader *r)
{
	BlockNumber pages[BATCH_PAGES];
	int			on_page[BATCH_PAGES + 1] = {0};
	uint8		page_of[BATCH_ROWS];
	bool		dead[BATCH_ROWS];
	bool		any_dead = false;
	int64		past_row = -1;
	int			npages = 0;
	int			max_pages;
	int			want = Min(r->left, BATCH_ROWS);
	int			i;
	int			k;
	Buffer		buffer = InvalidBuffer;

	reader_release_batch(r);
	if (!batch_callback_registered)
	{
		RegisterXactCallback(batch_xact_callback, NULL);
		batch_callback_registered = true;
	}
	max_pages = Max(1, Min(BATCH_PAGES, NBuffers / MaxBackends - batch_pins));
	while (!r->index_done && r->nrows < want && npages < max_pages)
	{
		ItemPointer tid = index_getnext_tid(r->scan, ForwardScanDirection);
		BlockNumber blkno;

		if (tid == NULL)
		{
			/* a scan asked again after its end would start over */
			r->index_done = true;
			break;
		}
		/* the pages in the order first met: the last met is likeliest */
		blkno = ItemPointerGetBlockNumber(tid);
		for (i = npages - 1; i >= 0 && pages[i] != blkno; i--)
			;
		if (i < 0)
			pages[i = npages++] = blkno;
		page_of[r->nrows] = i;
		on_page[i + 1]++;
		r->tids[r->nrows++] = *tid;
	}
	if (r->nrows == 0)
		return false;

	/* the rows grouped by page, each page's in index order */
	for (i = 1; i < npages; i++)
		on_page[i] += on_page[i - 1];
	for (k = 0; k < r->nrows; k++)
		r->by_page[on_page[page_of[k]]++] = k;

	for (i = 0; i < r->nrows; i++)
	{
		ItemPointerData tid;

		k = r->by_page[i];
		tid = r->tids[k];
		if (i == 0 || page_of[k] != page_of[r->by_page[i - 1]])
		{
			if (BufferIsValid(buffer))
				LockBuffer(buffer, BUFFER_LOCK_UNLOCK);
			CHECK_FOR_INTERRUPTS();
			buffer = ReadBuffer(r->rel, ItemPointerGetBlockNumber(&tid));
			r->pinned->pins[r->pinned->npins++] = buffer;
			batch_pins++;
			heap_page_prune_opt(r->rel, buffer);
			LockBuffer(buffer, BUFFER_LOCK_SHARE);
		}
		if (!heap_hot_search_buffer(&tid, r->rel, buffer, r->snapshot,
									&r->rows[k], &dead[k], true))
		{
			r->rows[k].t_data = NULL;
			any_dead |= dead[k];
		}
	}
	LockBuffer(buffer, BUFFER_LOCK_UNLOCK);

	/* the next batch's entries start past this one's: its last row's */
	for (k = r->nrows - 1; k >= 0; k--)
		if (r->rows[k].t_data != NULL)
		{
			bool		isnull;

			past_row = DatumGetInt64(heap_getattr(&r->rows[k],
												  Anum_message_offset,
												  RelationGetDescr(r->rel),
												  &isnull)) + 1;
			break;
		}
	/* or its last entry's, if its rows end in dead ones */
	if (any_dead)
	{
		int64		past_entry = reader_kill_dead(r, dead);

		past_row = Max(past_row, past_entry);
	}
	r->batch_from = Max(r->batch_from, past_row);
	return true;
}

/*
 * fetch_reader_next sets *tuple to the next message, and returns false
 * when there are no more.  The tuple stays valid until the next call.
 */
bool
fetch_reader_next(FetchReader *r, HeapTuple *tuple)
{
	while (r->left > 0)
	{
		switch (r->step)
		{
			case READ_SEGMENT:
				if (r->seg >= r->nsegments)
					return false;
				if (!reader_open_segment(r))
					continue;
				r->left--;
				reader_after_first(r);
				*tuple = ExecFetchSlotHeapTuple(r->slot, false, NULL);
				return true;

			case READ_PAGES:
				if (r->line < r->nlines)
				{
					page_tuple(r, r->buffer, r->blkno - 1, r->lines[r->line++],
							   &r->tuple);
					r->left--;
					*tuple = &r->tuple;
					return true;
				}
				if (reader_read_page(r))
					continue;
				r->keys[0].sk_argument = Int64GetDatum(r->next);
				index_rescan(r->scan, r->keys, 2, NULL, 0);
				r->index_done = r->next >= r->seg_below;
				r->batch_from = r->next;
				r->step = READ_BATCHES;
				continue;

			case READ_BATCHES:
				while (r->row < r->nrows && r->rows[r->row].t_data == NULL)
					r->row++;
				if (r->row < r->nrows)
				{
					r->left--;
					*tuple = &r->rows[r->row++];
					return true;
				}
				if (reader_read_batch(r))
					continue;
				reader_close_segment(r);
				r->step = READ_SEGMENT;
				continue;
		}
	}
	/* the read is over: its pins go now, not when the caller ends it */
	reader_close_segment(r);
	return false;
}

/*
 * fetch_reader_values is fetch_reader_next with the message taken apart
 * into values and isnull, Natts_message of each.  Values passed by
 * reference point into the buffer, and stay valid until the next call.
 */
bool
fetch_reader_values(FetchReader *r, Datum *values, bool *isnull)
{
	return fetch_reader_row(r, values, isnull, NULL);
}

/*
 * fetch_reader_row is fetch_reader_values that also sets *tid, unless tid
 * is NULL, to where the row lies in its segment table (rows never move: a
 * message is never updated).
 */
bool
fetch_reader_row(FetchReader *r, Datum *values, bool *isnull, ItemPointer tid)
{
	HeapTuple	tuple;

	if (!fetch_reader_next(r, &tuple))
		return false;
	heap_deform_tuple(tuple, RelationGetDescr(r->rel), values, isnull);
	if (tid != NULL)
		*tid = tuple->t_self;
	return true;
}

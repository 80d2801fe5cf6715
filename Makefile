# pg_topics: Kafka-style topics and partitions inside PostgreSQL 15

MODULE_big = pg_topics
OBJS = \
	$(WIN32RES) \
	src/args.o \
	src/bgworker.o \
	src/capture/capture_encode.o \
	src/capture/capture_event.o \
	src/capture/capture_order.o \
	src/capture/capture_rel.o \
	src/capture/capture_setup.o \
	src/capture/capture_trigger.o \
	src/groups/consume.o \
	src/groups/group.o \
	src/groups/group_catalog.o \
	src/groups/group_funcs.o \
	src/groups/heartbeat.o \
	src/groups/join_window.o \
	src/groups/positions.o \
	src/guc.o \
	src/index_entries.o \
	src/log/fetch.o \
	src/log/fetch_funcs.o \
	src/log/fetch_reader.o \
	src/log/fetch_scan.o \
	src/log/murmur2.o \
	src/log/partition.o \
	src/log/produce.o \
	src/log/produce_funcs.o \
	src/log/segment.o \
	src/log/segment_cache.o \
	src/log/segment_maker.o \
	src/log/topic.o \
	src/log/topic_admin.o \
	src/log/topic_config.o \
	src/log/topic_funcs.o \
	src/log/topic_tables.o \
	src/pg_topics.o \
	src/position_commit.o \
	src/preload.o \
	src/queue/delivery.o \
	src/queue/delivery_query.o \
	src/queue/delivery_store.o \
	src/queue/queue_config.o \
	src/queue/queue_funcs.o \
	src/queue/queue_maintain.o \
	src/queue/queue_read.o \
	src/queue/queue_topic.o \
	src/relids.o \
	src/retention/compaction.o \
	src/retention/log_start.o \
	src/retention/maintenance.o \
	src/retention/reclaim.o \
	src/retention/retention.o \
	src/retention/retention_funcs.o \
	src/retention/roll.o \
	src/shmem.o \
	src/subxact.o \
	src/taking_loop.o \
	src/utility.o \
	src/workers/launcher.o \
	src/workers/worker.o \
	src/workers/worker_state.o

EXTENSION = pg_topics
DATA = sql/pg_topics--0.1.sql $(wildcard sql/pg_topics--*--*.sql)
PGFILEDESC = "pg_topics - Kafka-style topics and partitions"

PG_CPPFLAGS = -I$(srcdir)/include

REGRESS = topics capture queue retention compaction produce fetch fetch_scan murmur2 privileges errors groups positions search_path upgrade cursor_repoll hold_cursor max_wait_overflow superuser_constraints leaky_views longpoll_expiry procedure_commit old_objects drop_after_poll scroll_savepoint lateral_poll procedure_rollback loop_exit recreate_after_poll produce_nested segment_cache
REGRESS_OPTS = --temp-config=$(srcdir)/pg_topics.conf \
	--temp-instance=./tmp_check_regress

ISOLATION = capture_snapshot retention_reader retention_snapshots queue_competing queue_vt_deadletter queue_fifo_key queue_delay lso_out_of_order lso_rollback_gap lso_savepoint lso_prepared group_rebalance group_rebalance_wake group_stale_commit group_poll_rollback group_longpoll drop_savepoint drop_lock_queue add_partitions_segment create_race fetch_cursor positions_index_concurrently
ISOLATION_OPTS = --temp-config=$(srcdir)/pg_topics.conf \
	--temp-instance=./tmp_check_iso --inputdir=test \
	--outputdir=output_iso

TAP_TESTS = 1

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

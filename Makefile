# pg_topics: Kafka-style topics and partitions inside PostgreSQL 15

MODULE_big = pg_topics
OBJS = \
	$(WIN32RES) \
	src/consume.o \
	src/fetch.o \
	src/fetch_funcs.o \
	src/group.o \
	src/group_catalog.o \
	src/group_state.o \
	src/guc.o \
	src/index_entries.o \
	src/launcher.o \
	src/murmur2.o \
	src/offsets.o \
	src/pg_topics.o \
	src/produce.o \
	src/produce_funcs.o \
	src/segment.o \
	src/shmem.o \
	src/topic.o \
	src/topic_cache.o \
	src/topic_funcs.o

EXTENSION = pg_topics
DATA = sql/pg_topics--0.1.sql
PGFILEDESC = "pg_topics - Kafka-style topics and partitions"

PG_CPPFLAGS = -I$(srcdir)/include

REGRESS = topics produce fetch murmur2 privileges errors groups
REGRESS_OPTS = --temp-config=$(srcdir)/pg_topics.conf \
	--temp-instance=./tmp_check_regress

ISOLATION = lso_out_of_order lso_rollback_gap lso_savepoint lso_prepared group_rebalance group_stale_commit group_poll_rollback group_longpoll
ISOLATION_OPTS = --temp-config=$(srcdir)/pg_topics.conf \
	--temp-instance=./tmp_check_iso --inputdir=test \
	--outputdir=output_iso

TAP_TESTS = 1

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

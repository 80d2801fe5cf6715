/*
 * longpoll.c: commit -> wake-up latency of a waiting topics.poll(), and of
 * a LISTENing client for NOTIFY, on the same server, interleaved.
 *
 * usage: longpoll CONNINFO SAMPLES
 *
 * Three connections: a consumer, a producer and a watcher.  One sample of
 * each kind:
 *
 *   poll:   the consumer sends (asynchronously, autocommit)
 *             SELECT msg_offset FROM topics.poll('lg', 'lt', 'm', 10, '10 s')
 *           the watcher waits until pg_stat_activity shows the consumer's
 *           backend in the wait of the poll (wait_event_type Extension);
 *           the producer runs BEGIN; SELECT topics.produce('lt', 'x');
 *           t0 is taken right before it sends COMMIT, t1 when the
 *           consumer's result (one row) has arrived: the wake-up, the read
 *           and the consumer's commit of its new position.
 *   notify: the consumer has LISTENed on channel lp; the watcher waits
 *           until its backend is idle (wait_event ClientRead); the
 *           producer runs BEGIN; NOTIFY lp; t0 right before COMMIT, t1 when
 *           PQnotifies() returns the notification.
 * and the two kinds test/bench/run reports as the headline, since they
 * compare the wake-ups under the same producer commit:
 *   poll_in_xact: as poll, but the consumer polls inside BEGIN ... COMMIT,
 *           so its result arrives before its own commit (sent after t1);
 *   notify_wal: as notify, but the producer also runs
 *           SELECT topics.produce('nt', 'x') (a topic nobody polls) before
 *           NOTIFY, so its commit waits for the WAL flush as the poll's
 *           producer's does (NOTIFY alone writes only a commit record, and
 *           such a commit does not wait for the flush).
 * and a floor for any SQL statement woken by a commit:
 *   lock_in_xact: the producer runs BEGIN; SELECT pg_advisory_xact_lock(k);
 *           SELECT topics.produce('nt', 'x'); the consumer, inside BEGIN,
 *           sends SELECT pg_advisory_xact_lock(k) and waits for the lock
 *           (wait_event advisory); t0 right before the producer's COMMIT,
 *           t1 when the consumer's one-row result has arrived.  The same
 *           flush as notify_wal and poll_in_xact, a wake-up by the commit
 *           (at lock release), and a statement that reads nothing.
 *
 * Kinds rotate (sample i starts with kind i % 5), so that drift and noise
 * hit all of them.  With a third argument "members", a run takes two kinds
 * (--scale, members: members_64_wake_p50_over_1): poll, and
 *   poll_64: as poll, by member m00 of group lg64 of topic lt64 (64
 *           partitions), whose 63 other members long-poll their own
 *           partitions meanwhile (the caller runs them); the producer
 *           writes to partition 0, m00's.  The caller has created topics lt and nt and made member
 * m of group lg join lt, with a session timeout longer than the run.
 *
 * stdout, one line per kind: "<kind> <p50 ms> <p99 ms> <mean ms> <max ms>".
 */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "libpq-fe.h"

#define POLL_SQL "SELECT msg_offset FROM topics.poll('lg', 'lt', 'm', 10, '10 s')"
#define POLL_64_SQL "SELECT msg_offset FROM topics.poll('lg64', 'lt64', 'm00', 10, '10 s')"
#define LOCK_KEY "29809"

static PGconn *consumer;
static PGconn *producer;
static PGconn *watcher;
static int	consumer_pid;

static void
die(const char *what, PGconn *conn)
{
	fprintf(stderr, "longpoll: %s%s%s\n", what, conn ? ": " : "",
			conn ? PQerrorMessage(conn) : "");
	exit(1);
}

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

static void
sleep_us(long us)
{
	struct timespec ts = {us / 1000000, (us % 1000000) * 1000};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* run a command that returns no rows or rows we ignore; die on error */
static void
exec_ok(PGconn *conn, const char *sql)
{
	PGresult   *res = PQexec(conn, sql);
	ExecStatusType st = PQresultStatus(res);

	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
	{
		fprintf(stderr, "longpoll: %s: %s", sql, PQerrorMessage(conn));
		exit(1);
	}
	PQclear(res);
}

/* wait (blocking) until the socket of conn is readable */
static void
wait_readable(PGconn *conn)
{
	struct pollfd pfd = {PQsocket(conn), POLLIN, 0};

	while (poll(&pfd, 1, -1) < 0)
		if (errno != EINTR)
			die("poll() failed", NULL);
}

/*
 * wait_state waits until the consumer's backend shows wait event type
 * (and event, if not NULL) in pg_stat_activity: first a short sleep, then
 * checks every 100 us, so the watcher does not take the CPU from it.
 */
static void
wait_state(const char *type, const char *event)
{
	char		sql[256];
	int			tries;

	snprintf(sql, sizeof(sql),
			 "SELECT wait_event_type = '%s'%s%s%s FROM pg_stat_activity WHERE pid = %d",
			 type, event ? " AND wait_event = '" : "", event ? event : "",
			 event ? "'" : "", consumer_pid);
	sleep_us(300);
	for (tries = 0; tries < 100000; tries++)
	{
		PGresult   *res;
		int			ok;

		/* each query is a transaction: a fresh view of pg_stat_activity */
		res = PQexec(watcher, sql);
		if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
			die("pg_stat_activity query failed", watcher);
		ok = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
		PQclear(res);
		if (ok)
			return;
		/* a poll that ended already (an error?) would never wait */
		if (!PQconsumeInput(consumer))
			die("consumer connection failed", consumer);
		if (PQtransactionStatus(consumer) == PQTRANS_ACTIVE && !PQisBusy(consumer))
		{
			PGresult   *r = PQgetResult(consumer);

			fprintf(stderr, "longpoll: the poll ended before waiting: %s rows %d %s",
					PQresStatus(PQresultStatus(r)), PQntuples(r),
					PQresultErrorMessage(r));
			exit(1);
		}
		sleep_us(100);
	}
	fprintf(stderr, "longpoll: the consumer never reached wait %s\n", type);
	exit(1);
}

/* producer: COMMIT was sent at t0; collect its result */
static void
finish_commit(void)
{
	PGresult   *res;

	while ((res = PQgetResult(producer)) != NULL)
	{
		if (PQresultStatus(res) != PGRES_COMMAND_OK)
			die("COMMIT failed", producer);
		PQclear(res);
	}
}

/*
 * commit_and_wake: the producer sends COMMIT (t0), and the consumer wakes
 * up (t1): its pending query's result is complete or, with notification,
 * a notification has come.  Returns t1 - t0 in ms.
 */
static double
commit_and_wake(bool notification)
{
	PGnotify   *n = NULL;
	double		t0,
				t1;

	t0 = now_ms();
	if (!PQsendQuery(producer, "COMMIT"))
		die("could not send COMMIT", producer);
	for (;;)
	{
		if (!PQconsumeInput(consumer))
			die("consumer connection failed", consumer);
		if (notification ? (n = PQnotifies(consumer)) != NULL :
			!PQisBusy(consumer))
			break;
		wait_readable(consumer);
	}
	t1 = now_ms();
	if (n != NULL)
		PQfreemem(n);
	return t1 - t0;
}

/*
 * commit_and_await: commit_and_wake for a consumer's query that must
 * return one row; what names the query in errors.
 */
static double
commit_and_await(const char *what)
{
	PGresult   *res;
	double		latency = commit_and_wake(false);

	res = PQgetResult(consumer);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		die(what, consumer);
	if (PQntuples(res) != 1)
	{
		fprintf(stderr, "longpoll: %s returned %d rows, not 1 (did it time out?)\n",
				what, PQntuples(res));
		exit(1);
	}
	PQclear(res);
	while ((res = PQgetResult(consumer)) != NULL)
		PQclear(res);
	finish_commit();
	return latency;
}

/*
 * sample_poll: one poll sample.  in_xact: the consumer polls inside an
 * explicit transaction, so its result arrives before its own commit (the
 * COMMIT is sent after t1); otherwise the poll is autocommit and its result
 * arrives after the commit that writes the new position (the measure).
 */
static double
sample_poll_of(const char *poll_sql, const char *produce_sql, bool in_xact)
{
	double		latency;

	if (in_xact)
		exec_ok(consumer, "BEGIN");
	if (!PQsendQuery(consumer, poll_sql))
		die("could not send the poll", consumer);
	wait_state("Extension", NULL);
	exec_ok(producer, produce_sql);
	latency = commit_and_await("the poll");
	if (in_xact)
		exec_ok(consumer, "COMMIT");
	return latency;
}

static double
sample_poll(bool in_xact)
{
	return sample_poll_of(POLL_SQL, "BEGIN; SELECT topics.produce('lt', 'x')",
						  in_xact);
}

/*
 * sample_poll_64: a poll sample of member m00 of group lg64, whose 63 other
 * members poll topic lt64 meanwhile (the caller runs them): the producer
 * writes to partition 0, m00's.
 */
static double
sample_poll_64(void)
{
	return sample_poll_of(POLL_64_SQL,
						  "BEGIN; SELECT topics.produce('lt64', 'x', partition => 0)",
						  false);
}

/*
 * sample_notify: one NOTIFY sample.  with_wal: the producer's transaction
 * also produces a message (into topic nt, which nobody polls), so its
 * commit flushes the WAL as the poll's producer's does; a transaction whose
 * only WAL is its commit record (NOTIFY alone) commits without waiting for
 * the flush.
 */
static double
sample_notify(bool with_wal)
{
	double		latency;

	wait_state("Client", "ClientRead");
	exec_ok(producer, with_wal ?
			"BEGIN; SELECT topics.produce('nt', 'x'); NOTIFY lp" :
			"BEGIN; NOTIFY lp");
	latency = commit_and_wake(true);
	finish_commit();
	return latency;
}

/*
 * sample_lock: one lock_in_xact sample: a statement woken by the
 * producer's commit releasing the advisory lock it waits for.
 */
static double
sample_lock(void)
{
	double		latency;

	exec_ok(producer, "BEGIN; SELECT pg_advisory_xact_lock(" LOCK_KEY "); "
			"SELECT topics.produce('nt', 'x')");
	exec_ok(consumer, "BEGIN");
	if (!PQsendQuery(consumer, "SELECT pg_advisory_xact_lock(" LOCK_KEY ")"))
		die("could not send the lock request", consumer);
	wait_state("Lock", "advisory");
	latency = commit_and_await("the lock request");
	exec_ok(consumer, "COMMIT");
	return latency;
}

/* The kinds of samples, in the order of the output lines. */
#define NKINDS 6
static const char *const kind_names[NKINDS] = {
	"poll", "notify", "poll_in_xact", "notify_wal", "lock_in_xact", "poll_64"
};

/* The kinds a run takes: the first five, or with "members" poll and poll_64. */
static int	run_kinds[NKINDS] = {0, 1, 2, 3, 4};
static int	nrun = 5;

static double
sample(int kind)
{
	switch (kind)
	{
		case 0:
			return sample_poll(false);
		case 1:
			return sample_notify(false);
		case 2:
			return sample_poll(true);
		case 3:
			return sample_notify(true);
		case 4:
			return sample_lock();
		default:
			return sample_poll_64();
	}
}

static int
cmp_double(const void *a, const void *b)
{
	double		x = *(const double *) a,
				y = *(const double *) b;

	return (x > y) - (x < y);
}

/* nearest-rank percentile of a sorted array */
static double
percentile(const double *v, int n, double p)
{
	int			rank = (int) (p / 100.0 * n + 0.999999);

	if (rank < 1)
		rank = 1;
	if (rank > n)
		rank = n;
	return v[rank - 1];
}

static void
report(const char *kind, double *v, int n)
{
	double		sum = 0;
	int			i;

	qsort(v, n, sizeof(double), cmp_double);
	for (i = 0; i < n; i++)
		sum += v[i];
	printf("%s %.4f %.4f %.4f %.4f\n", kind, percentile(v, n, 50),
		   percentile(v, n, 99), sum / n, v[n - 1]);
}

int
main(int argc, char **argv)
{
	int			samples,
				warmup,
				i,
				k;
	double	   *lat[NKINDS];

	if (argc < 3 || argc > 4 || (samples = atoi(argv[2])) < 1 ||
		(argc == 4 && strcmp(argv[3], "members") != 0))
	{
		fprintf(stderr, "usage: %s CONNINFO SAMPLES [members]\n", argv[0]);
		return 2;
	}
	if (argc == 4)
	{
		run_kinds[0] = 0;
		run_kinds[1] = 5;
		nrun = 2;
	}
	consumer = PQconnectdb(argv[1]);
	producer = PQconnectdb(argv[1]);
	watcher = PQconnectdb(argv[1]);
	if (PQstatus(consumer) != CONNECTION_OK)
		die("consumer connection", consumer);
	if (PQstatus(producer) != CONNECTION_OK)
		die("producer connection", producer);
	if (PQstatus(watcher) != CONNECTION_OK)
		die("watcher connection", watcher);
	consumer_pid = PQbackendPID(consumer);
	exec_ok(consumer, "LISTEN lp");

	for (k = 0; k < NKINDS; k++)
		if ((lat[k] = malloc(sizeof(double) * samples)) == NULL)
			die("out of memory", NULL);

	/* warm-up: caches, plans, the code paths of every kind; discarded */
	warmup = samples / 10 < 20 ? 20 : samples / 10;
	for (i = 0; i < warmup; i++)
		for (k = 0; k < nrun; k++)
			sample(run_kinds[k]);
	/* sample i runs the kinds in a rotated order, starting with kind i % nrun */
	for (i = 0; i < samples; i++)
		for (k = 0; k < nrun; k++)
		{
			int			kind = run_kinds[(i + k) % nrun];

			lat[kind][i] = sample(kind);
		}
	for (k = 0; k < nrun; k++)
		report(kind_names[run_kinds[k]], lat[run_kinds[k]], samples);
	PQfinish(consumer);
	PQfinish(producer);
	PQfinish(watcher);
	return 0;
}

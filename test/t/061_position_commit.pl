
# Copyright (c) 2025, pg_topics contributors

# A transaction that only moves consumer group positions commits without
# waiting for its WAL to be flushed (pg_topics.synchronous_positions off,
# the default); one that writes anything else, or any with the setting on,
# waits as synchronous_commit says.
#
# The WAL writer here sleeps 10 s between rounds and nothing else writes
# WAL (wal_level = minimal: no snapshots of running transactions, which
# would wake the WAL writer), so after an asynchronous commit the WAL
# flushed stays behind the WAL inserted, and after a synchronous one it
# does not.  A crash right after
# an asynchronous poll makes the group read the same messages again (never
# skip one); a crash after a transaction that consumed and wrote its own
# table keeps both.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;

my $node = PostgreSQL::Test::Cluster->new('position_commit');

# a library that writes at pre-commit, loaded before pg_topics
my $writer = "$FindBin::RealBin/../modules/pre_commit_writer";
my $pg_config = $node->config_data('--bindir') . '/pg_config';
system("make -s -C '$writer' PG_CONFIG='$pg_config' >/dev/null") == 0
  or die 'could not build test/modules/pre_commit_writer';

$node->init;
$node->append_conf(
	'postgresql.conf', qq{
shared_preload_libraries = '$writer/pre_commit_writer, pg_topics'
max_prepared_transactions = 2
wal_level = minimal
max_wal_senders = 0
autovacuum = off
wal_writer_delay = 10s
checkpoint_timeout = 1h
pg_topics.worker_naptime = 1h
pg_topics.rebalance_delay = 0
});
$node->start;
$node->safe_psql(
	'postgres', q{
CREATE EXTENSION pg_topics;
SELECT topics.create_topic('pc', 1);
SELECT count(*) FROM generate_series(1, 100) i,
       LATERAL topics.produce('pc', convert_to('m' || i, 'UTF8'));
SELECT topics.join('g', 'pc', 'm', session_timeout => '1 hour',
                   auto_offset_reset => 'earliest');
CREATE TABLE done (msg_offset bigint);
CHECKPOINT;
});

# unflushed(SQL): runs SQL, each statement in its own transaction, then
# tells whether the WAL flushed is behind the WAL inserted ('t' or 'f').
sub unflushed
{
	my ($sql) = @_;
	my $out = $node->safe_psql('postgres',
		$sql . "\nSELECT pg_current_wal_flush_lsn() < pg_current_wal_insert_lsn();");
	my @lines = split /\n/, $out;
	return $lines[-1];
}

sub position
{
	return $node->safe_psql('postgres',
		"SELECT committed FROM topics.committed_offset WHERE group_name = 'g'");
}

sub poll_offsets
{
	my ($n) = @_;
	return $node->safe_psql('postgres',
		"SELECT string_agg(msg_offset::text, ',' ORDER BY msg_offset) FROM topics.poll('g', 'pc', 'm', $n)"
	);
}

# the first poll sets the group's first position (to the start, and then
# past what it read): lost, auto_offset_reset would decide again
is( unflushed(
		"SELECT count(*) FROM topics.poll('g', 'pc', 'm', 5);"),
	'f',
	'the poll that makes a first position waits for the flush');
is( unflushed(
		"SELECT count(*) FROM topics.poll('g', 'pc', 'm', 5);"),
	't',
	'a poll alone that moves a position forward does not wait');
is($node->safe_psql('postgres', 'SHOW synchronous_commit'),
	'on', 'synchronous_commit is as before after it');
is( unflushed(
		"SET synchronous_commit = local;\nSELECT count(*) FROM topics.poll('g', 'pc', 'm', 10);\nSHOW synchronous_commit;"
	),
	't',
	'with synchronous_commit = local too');
like(
	$node->safe_psql(
		'postgres',
		"SET synchronous_commit = local;\nSELECT count(*) FROM topics.poll('g', 'pc', 'm', 1);\nSHOW synchronous_commit;"
	),
	qr/\nlocal$/,
	'and the session keeps its own setting');

is( unflushed(
		"SET pg_topics.synchronous_positions = on;\nSELECT count(*) FROM topics.poll('g', 'pc', 'm', 10);"
	),
	'f',
	'pg_topics.synchronous_positions = on: the poll waits for the flush');
is( unflushed(
		"BEGIN;\nSELECT count(*) FROM topics.poll('g', 'pc', 'm', 10);\nINSERT INTO done VALUES (0);\nCOMMIT;"
	),
	'f',
	'a poll and a write after it: waits');
is( unflushed(
		"BEGIN;\nINSERT INTO done VALUES (0);\nSELECT count(*) FROM topics.poll('g', 'pc', 'm', 10);\nCOMMIT;"
	),
	'f',
	'a write and a poll after it: waits');
is( unflushed(
		"BEGIN;\nSAVEPOINT s;\nSELECT count(*) FROM topics.poll('g', 'pc', 'm', 1);\nRELEASE s;\nCOMMIT;"
	),
	't',
	'a poll in a subtransaction alone: does not wait');
is( unflushed(
		"SELECT topics.commit('g', 'pc', 0, 45);"),
	'f',
	'topics.commit back from 52 to 45 waits: lost, it would skip 45 to 51');
is( unflushed("SELECT topics.seek('g', 'pc', 0, 40);"),
	'f', 'so does a seek back');
is( unflushed("SELECT topics.commit('g', 'pc', 0, 46);"),
	't', 'a commit forward alone does not wait');
$node->safe_psql('postgres', "SELECT topics.seek('g', 'pc', 0, 45)");
is( unflushed(
		"BEGIN;\nSELECT count(*) FROM topics.poll('g', 'pc', 'm', 5);\nPREPARE TRANSACTION 'p';"
	),
	'f',
	'PREPARE TRANSACTION of a poll waits, as always');
$node->safe_psql('postgres', "COMMIT PREPARED 'p'");
is(position(), '50',
	'the prepared poll moved the position');

# a consumer that records what it read in the same transaction: a crash
# right after keeps both
$node->safe_psql(
	'postgres', q{
INSERT INTO done SELECT msg_offset FROM topics.poll('g', 'pc', 'm', 10);
});
$node->stop('immediate');
$node->start;
is(position(), '60',
	'after a crash, the position of a poll that wrote its own table stays');
is($node->safe_psql('postgres', 'SELECT count(*), max(msg_offset) FROM done WHERE msg_offset > 0'),
	'10|59', 'and so do its rows');

# a seek back, then a crash at once: the position stays where the seek
# put it
$node->safe_psql('postgres', "SELECT topics.seek('g', 'pc', 0, 30)");
$node->stop('immediate');
$node->start;
is(position(), '30',
	'after a crash, a seek back stays');
$node->safe_psql('postgres', "SELECT topics.seek('g', 'pc', 0, 60)");

# a superuser's trigger on the positions' table fires when a poll makes a
# partition's first position row: that commit waits, so the trigger's
# write survives a crash
$node->safe_psql(
	'postgres', q{
CREATE TABLE audit (committed bigint);
CREATE FUNCTION audit_position() RETURNS trigger LANGUAGE plpgsql AS
  $$BEGIN INSERT INTO public.audit VALUES (NEW.committed); RETURN NEW; END$$;
CREATE TRIGGER audit_position AFTER INSERT ON topics.committed_offset
  FOR EACH ROW EXECUTE FUNCTION audit_position();
SELECT topics.create_topic('pc2', 1);
SELECT topics.produce('pc2', 'x');
SELECT topics.join('g2', 'pc2', 'm', session_timeout => '1 hour',
                   auto_offset_reset => 'earliest');
DELETE FROM topics.committed_offset WHERE group_name = 'g2';
CHECKPOINT;
});
is( unflushed("SELECT count(*) FROM topics.poll('g2', 'pc2', 'm', 10);"),
	'f', 'a poll that inserts a position row waits');
$node->stop('immediate');
$node->start;
is($node->safe_psql('postgres', 'SELECT count(*) FROM audit WHERE committed = 1'),
	'1', 'after a crash, the row the trigger wrote for the poll is there');
$node->safe_psql('postgres',
	'DROP TRIGGER audit_position ON topics.committed_offset');

# a library loaded before pg_topics writes at pre-commit, after pg_topics
# decided that the poll's commit need not wait: the commit flushes anyway
$node->safe_psql('postgres', 'CREATE TABLE ledger (n integer); CHECKPOINT');
is( unflushed(
		"SET pre_commit_writer.sql = 'INSERT INTO public.ledger VALUES (1)';\nSELECT count(*) FROM topics.poll('g', 'pc', 'm', 1);"
	),
	'f',
	'a poll whose commit another library writes to after pg_topics waits');
$node->stop('immediate');
$node->start;
is($node->safe_psql('postgres', 'SELECT count(*) FROM ledger'),
	'3', 'after a crash, that library\'s rows are there (of the SET, the poll and the look)');
$node->safe_psql('postgres', 'SELECT topics.seek(\'g\', \'pc\', 0, 60)');

# a poll alone, then a crash before the WAL writer flushed it: the group
# reads the same messages again, and then goes on
$node->safe_psql('postgres', 'CHECKPOINT');
is( unflushed("SELECT count(*) FROM topics.poll('g', 'pc', 'm', 10);"),
	't', 'a poll alone, not flushed yet');
$node->stop('immediate');
$node->start;
is(position(), '60',
	'after a crash the position is where it was before that poll');
is(poll_offsets(10), join(',', 60 .. 69),
	'the group reads the same messages again, skipping none');
is(poll_offsets(10), join(',', 70 .. 79), 'and goes on from there');

$node->stop;
done_testing();

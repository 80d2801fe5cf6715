
# Copyright (c) 2025, pg_topics contributors

# A member's long poll that began before its group was rebalanced ends
# soon after the rebalance (within about a second, with what it read:
# nothing here), so that the member learns of it and the new owner of its
# partitions does not wait out the rest of the old owner's max_wait for
# the position locks the waiting poll holds.  A long poll also keeps its
# member alive: a wait longer than the session timeout does not expire it
# (sql/longpoll_expiry.sql checks that on its own).

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);

my $node = PostgreSQL::Test::Cluster->new('longpoll_rebalance');
$node->init;
$node->append_conf('postgresql.conf', q{
shared_preload_libraries = 'pg_topics'
max_worker_processes = 16
});
$node->start;
$node->safe_psql('postgres', q{
CREATE EXTENSION pg_topics;
SELECT topics.create_topic('lr', 2);
});
is( $node->safe_psql('postgres',
		q{SELECT partitions FROM topics.join('g', 'lr', 'a', auto_offset_reset => 'earliest')}),
	'{0,1}', 'a joins alone and owns both partitions');

# a long-polls the empty topic for up to 60 s, in autocommit
my $a = $node->background_psql('postgres');
my $a_pid = $a->query_safe('SELECT pg_backend_pid()');
my $started = time;
$a->query_until(qr/polling/, q{
\echo polling
SELECT count(*) AS got, round(extract(epoch FROM clock_timestamp() - statement_timestamp())) AS waited
  FROM topics.poll('g', 'lr', 'a', max_wait => '60 s');
});
ok( $node->poll_query_until('postgres',
		"SELECT wait_event = 'Extension' FROM pg_stat_activity WHERE pid = $a_pid"),
	'a sleeps in its long poll');

# b joins: the group is rebalanced and b gets one of a's partitions
my $b_parts = $node->safe_psql('postgres',
	q{SELECT array_length(partitions, 1) FROM topics.join('g', 'lr', 'b', auto_offset_reset => 'earliest')});
is($b_parts, '1', 'b joins and gets one partition');

# b polls its partition at once: it waits only until a's poll has ended
my $t0 = time;
is( $node->safe_psql('postgres',
		q{SELECT count(*) FROM topics.poll('g', 'lr', 'b', max_wait => '0')}),
	'0', 'b polls its partition');
my $b_waited = time - $t0;
cmp_ok($b_waited, '<', 20, "b did not wait out a's max_wait of 60 s (waited ${b_waited}s)");

# a's long poll ended after the rebalance, empty, well before its 60 s
$a->{stdin} .= "\\echo done\n";
$a->{run}->pump until $a->{stdout} =~ /done/;
my $a_out = $a->{stdout};
like($a_out, qr/^0\|(\d+)$/m, 'a\'s long poll returned nothing');
my ($a_waited) = $a_out =~ /^0\|(\d+)$/m;
cmp_ok($a_waited, '<', 20, "a's long poll ended after the rebalance (waited ${a_waited}s)");
cmp_ok(time - $started, '<', 40, 'well before its max_wait');

# a must join again; then both poll as usual
$a->{stdout} = '';
my ($ret, $out, $err) = $node->psql('postgres',
	q{SELECT count(*) FROM topics.poll('g', 'lr', 'a')});
like($err, qr/has generation 1, the group is at 2/, 'a is told to join again');
$a->quit;

$node->stop;
done_testing();

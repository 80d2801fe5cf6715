
# Copyright (c) 2025, pg_topics contributors

=pod

=head1 NAME

ReadmeCheck - run the examples of a markdown file and compare what they print
with what the file shows

=head1 THE CONVENTION

Fenced code blocks are told apart by their info string (the word after the
opening fence) and their first line:

=over

=item ```sql whose first line is a function name and "(" (such as
C<topics.fetch(topic text, ...)>): a B<signature>.  Not run.  It must name
what the function returns (C<RETURNS>).

=item every other ```sql block: an B<example>.  Its first line (after blank and
C<-- comment> lines) is an SQL statement (C<SELECT>, C<BEGIN>, C<CREATE> ...) or
a psql meta-command (C<\x>).  It runs with psql, as C<psql -X -a -q> with
C<-P footer=off>: in its own session, in the order of the file, in one database
(created empty, in UTF8), so an example may use what earlier ones made.

A statement may be followed directly, with no blank line in between, by its
output the way psql prints it: a table (header, dashes line, rows; no
C<(N rows)> footer), C<NOTICE:>/C<ERROR:> ... lines, or C<-[ RECORD 1 ]>
records.  The output ends at the next blank line.  Shown output is compared
with what psql prints for that statement (trailing spaces and blank lines do
not count); a statement that shows no output must not fail.

=item ```js / ```javascript and ```python / ```py: B<driver examples>, run with
node and Debian's python3, against the same database, connecting through the
environment (PGHOST, PGPORT, PGDATABASE, PGUSER).  A ```js block that uses
C<import> runs as an ES module.  If the next code block is a ```text block, it
is what the example must print (stdout).  The example must exit with 0.

=item any other block (```sh, plain ```, ```text not after a driver example):
not run.

=back

=cut

package ReadmeCheck;

use strict;
use warnings;

use Exporter 'import';
use File::Copy qw(copy);
use File::Path qw(make_path);
use File::Temp qw(tempfile);
use IPC::Run;
use PostgreSQL::Test::Utils;

our @EXPORT_OK = qw(parse_markdown check_markdown install_node_pg);

my $KEYWORDS = join '|', qw(
  ABORT ALTER ANALYZE BEGIN CALL CHECKPOINT CLOSE CLUSTER COMMENT COMMIT COPY
  CREATE DEALLOCATE DECLARE DELETE DISCARD DO DROP END EXECUTE EXPLAIN FETCH
  GRANT IMPORT INSERT LISTEN LOAD LOCK MERGE MOVE NOTIFY PREPARE REASSIGN
  REFRESH REINDEX RELEASE RESET REVOKE ROLLBACK SAVEPOINT SECURITY SELECT SET
  SHOW START TABLE TRUNCATE UNLISTEN UPDATE VACUUM VALUES WITH);

my %DRIVER_LANG = (
	js => 'node',
	javascript => 'node',
	python => 'python',
	py => 'python');

# The fenced code blocks of a markdown file, in order: hashes with lang (the
# first word of the info string, lower case), line (of the opening fence,
# 1-based), lines (the content), heading (the last heading above it).
sub parse_markdown
{
	my ($path) = @_;
	open my $fh, '<:encoding(UTF-8)', $path or die "could not open $path: $!";
	my @lines = <$fh>;
	close $fh;
	chomp @lines;

	my (@blocks, $cur, $fence, $heading);
	for my $i (0 .. $#lines)
	{
		my $l = $lines[$i];
		if ($cur)
		{
			if ($l =~ /^ {0,3}(\Q$fence\E+)\s*$/ && length($1) >= length($fence))
			{
				push @blocks, $cur;
				undef $cur;
			}
			else
			{
				push @{ $cur->{lines} }, $l;
			}
			next;
		}
		if ($l =~ /^ {0,3}(`{3,}|~{3,})\s*([^\s`]*)/)
		{
			$fence = $1;
			$cur = {
				lang => lc($2),
				line => $i + 1,
				lines => [],
				heading => $heading // ''
			};
			next;
		}
		$heading = $1 if $l =~ /^#+\s+(.*?)\s*$/;
	}
	die "$path: the code block opened at line $cur->{line} is not closed\n"
	  if $cur;
	return @blocks;
}

# "signature", "example" or a message saying why the block is neither.
sub classify_sql
{
	my ($block) = @_;
	my ($first) = grep { /\S/ && !/^\s*--/ } @{ $block->{lines} };

	return 'the block is empty' unless defined $first;
	if ($first =~ /^\s*[A-Za-z_][\w.]*\s*\(/)
	{
		return 'signature' if grep { /\bRETURNS\b/ } @{ $block->{lines} };
		return
		  "it starts like a signature (a function name and '(') but does not say what it RETURNS";
	}
	return 'example' if $first =~ /^\s*(?:$KEYWORDS)\b/i || $first =~ /^\s*\\/;
	return
	  "its first line is neither an SQL statement or psql command (an example: SELECT ...) "
	  . "nor a function name and '(' (a signature: topics.fetch(topic text, ...) RETURNS ...)";
}

# Lexer state of SQL text across lines: are we inside a quoted string, a
# quoted identifier, a dollar quote or a block comment, and does the text so
# far end a statement?  Returns the new state; $state->{ends} is true when
# the line leaves no statement pending (it ended with ";" or was a psql
# meta-command outside a statement).
sub scan_sql_line
{
	my ($state, $line) = @_;
	my %s = %$state;
	$s{pending} //= 0;

	if (!$s{pending} && !$s{in} && $line =~ /^\s*\\/)
	{
		$s{ends} = 1;
		return \%s;
	}
	my $pos = 0;
	my $len = length $line;
	while ($pos < $len)
	{
		my $rest = substr($line, $pos);
		if ($s{in})
		{
			if ($s{in} eq "'" && $rest =~ /^((?:[^']|'')*)'(?!')/s)
			{
				$pos += length($1) + 1;
				delete $s{in};
			}
			elsif ($s{in} eq '"' && $rest =~ /^((?:[^"]|"")*)"(?!")/s)
			{
				$pos += length($1) + 1;
				delete $s{in};
			}
			elsif ($s{in} eq '/*' && $rest =~ m{^(.*?)(/\*|\*/)}s)
			{
				$pos += length($1) + 2;
				if ($2 eq '/*') { $s{depth}++ }
				elsif (--$s{depth} == 0) { delete $s{in} }
			}
			elsif ($s{in} =~ /^\$/ && (my $at = index($rest, $s{in})) >= 0)
			{
				$pos += $at + length $s{in};
				delete $s{in};
			}
			else
			{
				$pos = $len;
			}
			next;
		}
		if ($rest =~ /^--/) { last }
		if ($rest =~ m{^/\*}) { @s{qw(in depth)} = ('/*', 1); $pos += 2; next }
		if ($rest =~ /^(\$(?:[A-Za-z_]\w*)?\$)/)
		{
			$s{in} = $1;
			$pos += length $1;
			$s{pending} = 1;
			next;
		}
		my $c = substr($rest, 0, 1);
		if ($c eq "'" || $c eq '"') { $s{in} = $c; $s{pending} = 1; $pos++; next }
		if ($c eq ';') { $s{pending} = 0; $pos++; next }
		$s{pending} = 1 if $c =~ /\S/;
		$pos++;
	}
	$s{ends} = !$s{in} && !$s{pending};
	return \%s;
}

# Does line $i of @$lines start output the way psql prints it?
sub output_starts
{
	my ($lines, $i) = @_;
	my $l = $lines->[$i];
	return 1 if $l =~ /^(ERROR|WARNING|NOTICE|INFO|HINT|DETAIL|CONTEXT):\s/;
	return 1 if $l =~ /^-\[ RECORD \d+ \]/;
	return 1
	  if $l =~ /\S/
	  && $i < $#$lines
	  && $lines->[ $i + 1 ] =~ /^\s*-+(?:\+-+)*\s*$/;
	return 0;
}

# Split an example block into statements, each with the lines psql reads and
# the output the block shows after it (undef if none).  Dies with a message
# if the block breaks the convention.
sub split_example
{
	my ($block) = @_;
	my @lines = @{ $block->{lines} };
	my (@stmts, $cur);
	my $state = {};
	my $after_end = 0;

	for (my $i = 0; $i <= $#lines; $i++)
	{
		my $l = $lines[$i];
		if ($after_end && !$state->{in} && output_starts(\@lines, $i))
		{
			my @out;
			my $start = $i;
			while ($i <= $#lines && $lines[$i] =~ /\S/)
			{
				die sprintf(
					"line %d looks like a statement inside the output that starts at line %d: "
					  . "leave a blank line after a statement's output\n",
					$block->{line} + 1 + $i,
					$block->{line} + 1 + $start)
				  if $i > $start
				  && $lines[$i] =~ /^(?:$KEYWORDS)\b.*;\s*(?:--.*)?$/i;
				push @out, $lines[ $i++ ];
			}
			$stmts[-1]{output} = [ @{ $stmts[-1]{output} // [] }, @out ];
			$after_end = 0;
			next;
		}
		if ($l !~ /\S/ && !$state->{in} && !$state->{pending})
		{
			$after_end = 0;
			next;
		}
		$cur //= { input => [], line => $block->{line} + 1 + $i };
		push @{ $cur->{input} }, $l;
		$state = scan_sql_line($state, $l);
		if ($state->{ends})
		{
			push @stmts, $cur;
			undef $cur;
			$after_end = 1;
		}
		else
		{
			$after_end = 0;
		}
	}
	die "the statement at line $cur->{line} does not end with ';'\n" if $cur;
	return @stmts;
}

# Lines without trailing spaces, blank lines dropped.
sub normalized
{
	return grep { /\S/ } map { (my $x = $_) =~ s/\s+$//; $x } @_;
}

# A unified diff of two lists of lines, with labels.
sub diff_lines
{
	my ($exp, $act, $exp_label, $act_label) = @_;
	my $dir = PostgreSQL::Test::Utils::tempdir();
	my %f = (exp => "$dir/expected", act => "$dir/actual");
	PostgreSQL::Test::Utils::append_to_file($f{exp}, join('', map { "$_\n" } @$exp));
	PostgreSQL::Test::Utils::append_to_file($f{act}, join('', map { "$_\n" } @$act));
	my ($out, $err) = ('', '');
	IPC::Run::run [
		'diff', '-U5', '--label', $exp_label, '--label', $act_label,
		$f{exp}, $f{act}
	  ],
	  '>', \$out, '2>', \$err;
	return $out . $err;
}

# Run one example block with psql; return (ok, message).  When it passes,
# the message says which statements print output that the block does not
# show (it need not show it).
sub run_sql_example
{
	my ($node, $db, $path, $block) = @_;
	my @stmts = eval { split_example($block) };
	return (0, "$path:$block->{line}: $@") if $@;

	my $input = join '', map { "$_\n" } map { @{ $_->{input} } } @stmts;
	my ($out, $timedout) = ('', 0);
	my $h = IPC::Run::start(
		[
			$node->installed_command('psql'), '-X', '-a', '-q',
			'-P', 'footer=off', '-d', $node->connstr($db)
		],
		'<', \$input, '>&', \$out,
		IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default));
	eval { $h->finish; };
	if ($@)
	{
		$h->kill_kill;
		return (0, "$path:$block->{line}: psql did not finish: $@\n$out");
	}
	my @act = split /\n/, $out, -1;
	pop @act if @act && $act[-1] eq '';

	# Walk psql's transcript: an echoed input line is ours, anything else is
	# output of the statement whose last line was echoed before it.
	my @want = map {
		my $s = $_;
		map { { stmt => $s, text => $_ } } grep { /\S/ } @{ $s->{input} }
	} @stmts;
	my $k = 0;
	my $owner;
	for my $l (@act)
	{
		if ($k < @want && $l eq $want[$k]{text})
		{
			$owner = $want[ $k++ ]{stmt};
			next;
		}
		if (!$owner)
		{
			return (0, "$path:$block->{line}: psql printed before any statement:\n$out");
		}
		push @{ $owner->{actual} }, $l;
	}
	return (0,
		"$path:$block->{line}: psql stopped before the line \"$want[$k]{text}\":\n$out")
	  if $k < @want;

	my (@exp_t, @act_t, @errors, @unshown);
	for my $s (@stmts)
	{
		my @a = normalized(@{ $s->{actual} // [] });
		push @exp_t, @{ $s->{input} };
		push @act_t, @{ $s->{input} };
		if (defined $s->{output})
		{
			push @exp_t, normalized(@{ $s->{output} });
			push @act_t, @a;
		}
		elsif (my @e = grep { /^(ERROR|FATAL|PANIC):/ } @a)
		{
			push @errors, "the statement at line $s->{line} fails: @e";
			push @act_t, @a;
		}
		elsif (@a)
		{
			push @unshown,
			  "$path:$s->{line}: prints output that is not shown:\n"
			  . join('', map { "    $_\n" } @a);
		}
	}
	@exp_t = normalized(@exp_t);
	@act_t = normalized(@act_t);
	return (1, join('', @unshown))
	  if !@errors && join("\n", @exp_t) eq join("\n", @act_t);
	return (0,
		join('', map { "$path:$block->{line}: $_\n" } @errors)
		  . diff_lines(\@exp_t, \@act_t, "$path:$block->{line} (shown)",
			'psql (printed)'));
}

# Install node-postgres (test/drivers/package.json and its lock file) into
# $dir with "npm ci", unless it is there already.  Returns $dir.
sub install_node_pg
{
	my ($srcdir, $dir) = @_;
	return $dir if -e "$dir/node_modules/pg/package.json";
	make_path($dir);
	for my $f ('package.json', 'package-lock.json')
	{
		copy("$srcdir/test/drivers/$f", "$dir/$f")
		  or die "could not copy $srcdir/test/drivers/$f: $!";
	}
	my ($out, $err) = ('', '');
	IPC::Run::run [ 'npm', 'ci', '--no-audit', '--no-fund', '--prefix', $dir ],
	  '>', \$out, '2>', \$err
	  or die "npm ci in $dir failed:\n$out$err";
	return $dir;
}

# Run one driver example; return (ok, message).
sub run_driver_example
{
	my ($node, $db, $path, $block, $expected, $workdir) = @_;
	my $kind = $DRIVER_LANG{ $block->{lang} };
	my $code = join '', map { "$_\n" } @{ $block->{lines} };
	my ($file, @cmd);
	if ($kind eq 'node')
	{
		my $ext = $code =~ /^\s*import\s/m ? 'mjs' : 'js';
		$file = "$workdir/readme-line-$block->{line}.$ext";
		@cmd = ('node', $file);
	}
	else
	{
		$file = "$workdir/readme-line-$block->{line}.py";
		# Debian's python3, where python3-psycopg2 is, whatever else is on PATH
		@cmd = (-x '/usr/bin/python3' ? '/usr/bin/python3' : 'python3', $file);
	}
	unlink $file;
	PostgreSQL::Test::Utils::append_to_file($file, $code);

	my ($out, $err) = ('', '');
	my $ok = eval {
		local %ENV = (
			%ENV,
			PGHOST => $node->host,
			PGPORT => $node->port,
			PGDATABASE => $db,
			PGUSER => scalar(getpwuid($<)));
		IPC::Run::run \@cmd, '<', \'', '>', \$out, '2>', \$err,
		  IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default);
	};
	my $where = "$path:$block->{line} ($block->{lang})";
	return (0, "$where: @cmd did not finish: $@\n$out$err") if $@;
	return (0, "$where: exits with " . ($? >> 8) . ":\n$err$out") unless $ok;
	return (1, '') unless $expected;

	my @exp = map { s/\s+$//r } @{ $expected->{lines} };
	my @act = map { s/\s+$//r } split /\n/, $out;
	pop @exp while @exp && $exp[-1] eq '';
	pop @act while @act && $act[-1] eq '';
	return (1, '') if join("\n", @exp) eq join("\n", @act);
	return (0,
		diff_lines(\@exp, \@act, "$path:$expected->{line} (shown)",
			"$block->{lang} (printed)")
		  . ($err ne '' ? "stderr:\n$err" : ''));
}

# Check every block of the markdown file $path against database $db of
# $node (which must exist); name is how messages call the file.  Returns a
# list of results, one per block that runs or breaks the convention: hashes
# with name, ok and message (why it failed, or notes when it passed).
#   srcdir: where test/drivers/package.json is (for the node examples)
#   workdir: where node-postgres is installed and examples are written
sub check_markdown
{
	my (%a) = @_;
	my ($node, $db, $path) = @a{qw(node db path)};
	my @blocks = parse_markdown($path);
	my @results;

	# how the file is named in messages
	$path = $a{name} if defined $a{name};

	for my $i (0 .. $#blocks)
	{
		my $b = $blocks[$i];
		my $name = "$path:$b->{line}";
		$name .= " ($b->{heading})" if $b->{heading} ne '';
		if ($b->{lang} eq 'sql')
		{
			my $kind = classify_sql($b);
			next if $kind eq 'signature';
			if ($kind ne 'example')
			{
				push @results,
				  {
					name => "$name: sql block follows the convention",
					ok => 0,
					message =>
					  "$path:$b->{line}: this ```sql block is neither an example nor a signature: $kind\n"
				  };
				next;
			}
			my ($ok, $msg) = run_sql_example($node, $db, $path, $b);
			push @results,
			  { name => "$name: sql example", ok => $ok, message => $msg };
		}
		elsif ($DRIVER_LANG{ $b->{lang} })
		{
			my $next = $blocks[ $i + 1 ];
			my $expected = $next && $next->{lang} eq 'text' ? $next : undef;
			my ($ok, $msg) = eval {
				my $dir = $DRIVER_LANG{ $b->{lang} } eq 'node'
				  ? install_node_pg($a{srcdir}, "$a{workdir}/node")
				  : $a{workdir};
				run_driver_example($node, $db, $path, $b, $expected, $dir);
			};
			($ok, $msg) = (0, "$name: $@") if $@;
			push @results,
			  { name => "$name: $b->{lang} example", ok => $ok, message => $msg };
		}
	}
	return @results;
}

1;

#!/usr/bin/perl
# Load `tend-bench generate --format peers` JSON Lines into Request Tracker 5 through RT's own
# Perl API (RT::Ticket->Create, the code path REST2 uses), in-process, without HTTP.
#
#   perl bench/peers/rt-load-jsonl.pl FILE [TIME_LIMIT_S]
#
# The same tickets Tend imports: queue General, Subject, the first message as the create
# content, Requestor, Status/Priority mapped below, Created = created_at; each reply as
# Correspond (customer and public agent replies) or Comment (internal agent notes).
# Scrips (mail) are off, as for RT's importers; 500 tickets per DB transaction.
use strict;
use warnings;
use lib '/usr/share/request-tracker5/lib';
use lib '/usr/local/share/request-tracker5/lib';
use RT -init;
use JSON::PP;
use MIME::Entity;
use Time::HiRes qw(time);

my ($file, $limit) = @ARGV;
die "usage: $0 FILE [TIME_LIMIT_S]\n" unless $file;
$limit ||= 1800;
{
    no warnings 'redefine';
    my $orig = \&RT::Transaction::Create;
    *RT::Transaction::Create = sub { my $self = shift; $orig->($self, @_, ActivateScrips => 0) };
}
my %status = (new => 'new', open => 'open', pending => 'stalled', on_hold => 'stalled',
              solved => 'resolved', closed => 'resolved');
my %priority = (urgent => 90, high => 70, normal => 50, low => 20);
my $root = RT::CurrentUser->new(RT->SystemUser);
$root->Load('root');
my $json = JSON::PP->new->utf8;
sub iso { my $s = shift; $s =~ s/T/ /; $s =~ s/(\.\d+)?(Z|[+-]00:00)$//; $s }
sub mime { MIME::Entity->build(Type => 'text/plain', Charset => 'UTF-8', Data => [Encode::encode('UTF-8', shift)]) }

open(my $fh, '<', $file) or die "cannot open $file: $!";
my $t0 = time; my $done = 0; my $batch = 500;
$RT::Handle->BeginTransaction;
while (my $line = <$fh>) {
    last if time - $t0 > $limit;
    my $r = $json->decode($line);
    my $t = RT::Ticket->new($root);
    my ($id, undef, $msg) = $t->Create(
        Queue => 'General', Subject => $r->{subject}, Requestor => [$r->{requester}],
        Priority => $priority{$r->{priority}} // 50, Created => iso($r->{created_at}),
        MIMEObj => mime($r->{body}));
    die "create failed: $msg" unless $id;
    for my $m (@{$r->{replies}}) {
        if ($m->{agent} && !$m->{public}) { $t->Comment(MIMEObj => mime($m->{body})) }
        else { $t->Correspond(MIMEObj => mime($m->{body})) }
    }
    my $st = $status{$r->{status}} // 'open';
    $t->SetStatus(Status => $st, Force => 1) if $st ne 'new' && $t->Status ne $st;
    $done++;
    if ($done % $batch == 0) {
        $RT::Handle->Commit;
        printf STDERR "%d tickets, %.1f/s\n", $done, $done / (time - $t0);
        $RT::Handle->BeginTransaction;
    }
}
$RT::Handle->Commit;
printf "loaded %d tickets in %.1f s (%.1f/s)\n", $done, time - $t0, $done / (time - $t0);

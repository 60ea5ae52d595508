#!/usr/bin/perl
# Pipe command of test 0202: count the header and body lines of the message read on
# stdin and append the counts to the file named by the first argument.
use strict;
my ($headers, $body, $in_body) = (0, 0, 0);
while (<STDIN>) {
  if ($in_body) { $body++ } elsif (/^$/) { $in_body = 1 } else { $headers++ }
}
open(my $out, ">>", $ARGV[0]) or die "$ARGV[0]: $!";
print $out "perl: $ENV{LOCAL_PART} got $headers header lines and $body body lines\n";
exit 0;

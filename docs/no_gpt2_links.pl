#!/usr/bin/perl
# Doxygen input filter (FILTER_PATTERNS in Doxyfile.in): the word "gpt2" in the pages and in the
# comments of the headers is the name of the program, the data folder or the model, not the C++
# namespace, so it gets Doxygen's "%", which stops a word becoming a link to namespace gpt2.
# Left alone: "gpt2::" (a real C++ name), parts of longer names (12_gpt2, download_gpt2.sh,
# models/gpt2), text in double quotes (Doxygen links nothing there and would show the "%"), code
# blocks (``` ... ``` in Markdown, @code ... @endcode in comments) and the C++ code itself.
# Lines are never added or removed, so Doxygen's warnings keep their line numbers.
use strict;
use warnings;

my $markdown = ($ARGV[0] // '') =~ /\.md$/;
my $in_code = 0;

# Marks the word outside double-quoted stretches of one line of text.
sub unlink_gpt2 {
  my @parts = split /(")/, $_[0], -1;
  my $quoted = 0;
  for my $part (@parts) {
    if ($part eq '"') {
      $quoted = !$quoted;
    } elsif (!$quoted) {
      $part =~ s/(?<![%\w\/.:-])gpt2(?![\w:])/%gpt2/g;
    }
  }
  return join '', @parts;
}

while (my $line = <>) {
  if ($markdown) {
    if ($line =~ /^\s*(```|~~~)/) {
      $in_code = !$in_code;
    } elsif (!$in_code) {
      $line = unlink_gpt2($line);
    }
  } elsif ($line =~ m{^(.*?//[/!]<?)(.*)$}s) {  # a documentation comment (///, //!, ///<)
    my ($lead, $text) = ($1, $2);
    if ($text =~ /[\@\\]code\b/) {
      $in_code = 1;
    } elsif ($text =~ /[\@\\]endcode\b/) {
      $in_code = 0;
    } elsif (!$in_code) {
      $line = $lead . unlink_gpt2($text);
    }
  }
  print $line;
}

# Sieve filter
# mailrig test 1001: a Sieve filter tried with exim -bf
require ["fileinto", "envelope"];

# Spam marked by a header test is thrown away (Exim's Sieve has no "reject").
if header :contains "X-Spam-Flag" "YES" {
  discard;
  stop;
}

# Address tests look at parts of addresses in headers.
if address :domain :is "from" "lists.example.com" {
  fileinto "lists";
} elsif address :localpart :matches ["to", "cc"] "*-owner" {
  fileinto "owners";
}

# Envelope tests look at the SMTP envelope: the sender given with -f.
if envelope :all :is "from" "boss@test.ex" {
  redirect "assistant@test.ex";
  keep;
}

# Subject tests with wildcards and size tests.
if anyof (header :matches "subject" "*[weekly]*", size :over 1K) {
  fileinto "later";
}

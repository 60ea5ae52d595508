; mailrig suite: the zone test.ex, served by fakens (DNS names the tests may look up).
; V4NET is substituted when the workspace is made.

test.ex.     NS      ns.test.ex.
test.ex.     SOA     ns.test.ex. hostmaster.test.ex. 1 1200 120 604800 3000
test.ex.     MX      10 mail.test.ex.

ns           A       V4NET.0.0.53
mail         A       V4NET.0.0.1
mail2        A       V4NET.0.0.2

; a remote domain with two MX hosts of different preference
remote       MX      10 mail.test.ex.
remote       MX      20 mail2.test.ex.

; a host name that resolves to the loopback address, for tests with a scripted server
loopback     A       127.0.0.1

txt          TXT     "a TXT record for txt.test.ex"

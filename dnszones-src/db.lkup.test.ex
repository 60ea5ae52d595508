; mailrig suite: the zone lkup.test.ex, for the dnsdb tests 0101 and 0102 (fakens).
; V4NET is substituted when the workspace is made.

lkup.test.ex.   NS      ns.test.ex.
lkup.test.ex.   SOA     ns.test.ex. hostmaster.test.ex. 1 1200 120 604800 3000

; Mail domains: one with two MX hosts, one with none (only an A record)
good            MX      10 mx1.lkup.test.ex.
good            MX      20 mx2.lkup.test.ex.
mx1             A       V4NET.10.0.1
mx2             A       V4NET.10.0.2
nomx            A       V4NET.10.0.3

; Several addresses for one name, and an alias for it
multi           A       V4NET.10.0.4
multi           A       V4NET.10.0.5
alias           CNAME   multi.lkup.test.ex.

; Policy records of sender domains, looked up by the ACL of 0101
good            TXT     "policy=ok"
bad             TXT     "policy=block" "spam source"
bad             MX      10 mx1.lkup.test.ex.

; Local users who exist, for the router condition of 0101
userx.users     A       127.0.0.2
usery.users     A       127.0.0.2

; A service record and a TXT record with several strings
_smtp._tcp.good SRV     0 5 25 mx1.lkup.test.ex.
_smtp._tcp.good SRV     10 5 587 mx2.lkup.test.ex.
strings         TXT     "first part" "second part" "third"

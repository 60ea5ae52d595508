; mailrig suite: the zone route.test.ex, for the routing tests 0300-0309 (dnslookup
; through fakens). V4NET is substituted when the workspace is made.

route.test.ex.   NS      ns.route.test.ex.
route.test.ex.   SOA     ns.route.test.ex. hostmaster.route.test.ex. 1 1200 120 604800 3000

ns               A       V4NET.10.0.53

; three mail hosts
mx1              A       V4NET.10.0.1
mx2              A       V4NET.10.0.2
mx3              A       V4NET.10.0.3
mx3              A       V4NET.10.0.4

; a domain with three MX records of different preferences (listed out of order)
multi            MX      30 mx3.route.test.ex.
multi            MX      10 mx1.route.test.ex.
multi            MX      20 mx2.route.test.ex.

; a domain with no MX record, only an address: the A record is used
aonly            A       V4NET.10.0.9

; a domain whose only MX host has no address
nohost           MX      10 missing.route.test.ex.

; a domain whose MX points at this machine's own loopback address
self             MX      5 loop.route.test.ex.
loop             A       127.0.0.1

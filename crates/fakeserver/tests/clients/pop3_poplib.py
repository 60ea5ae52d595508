"""Drive fakeserver's POP3 with Python's poplib: every poplib command (rpop aside).

Usage: pop3_poplib.py PORT CAFILE|-

The maildrop of alice (password "secret") holds two messages loaded by the Rust test:
1.eml ("Subject: first", a body line starting with a dot) and 2.eml ("Subject: second").
Prints "ok <step>" lines; any failure raises (non-zero exit, traceback on stderr).
"""
import hashlib
import poplib
import re
import ssl
import sys

port = int(sys.argv[1])
cafile = sys.argv[2] if len(sys.argv) > 2 and sys.argv[2] != "-" else None


def step(name):
    print("ok", name, flush=True)


def expect_error(fn, needle):
    try:
        fn()
    except poplib.error_proto as e:
        assert needle in str(e), (needle, str(e))
        return
    raise AssertionError(f"expected -ERR containing {needle!r}")


p = poplib.POP3("127.0.0.1", port, timeout=10)
welcome = p.getwelcome()
assert welcome.startswith(b"+OK "), welcome
assert re.search(rb"<[^>]+@[^>]+>", welcome), welcome
step("welcome")

caps = p.capa()
for c in ("TOP", "UIDL", "USER", "SASL"):
    assert c in caps, caps
assert "CRAM-MD5" in caps["SASL"], caps
step("capa")

if cafile:
    assert "STLS" in caps, caps
    ctx = ssl.create_default_context(cafile=cafile)
    p.stls(context=ctx)
    assert "STLS" not in p.capa()
    step("stls")

expect_error(p.stat, "-ERR")  # not logged in yet
p.user("alice")
expect_error(lambda: p.pass_("wrong"), "[AUTH]")
p.user("alice")
resp = p.pass_("secret")
assert resp.startswith(b"+OK"), resp
step("user/pass")

count, size = p.stat()
assert count == 2, (count, size)
resp, listing, octets = p.list()
sizes = [int(l.split()[1]) for l in listing]
assert len(listing) == 2 and sum(sizes) == size, (listing, size)
assert p.list(2).split()[2] == str(sizes[1]).encode()
step("stat/list")

resp, uidls, _ = p.uidl()
uid2 = uidls[1].split()[1]
assert p.uidl(2).split()[2] == uid2
step("uidl")

resp, lines, octets = p.top(1, 0)
assert b"Subject: first" in lines and lines[-1] == b"", lines
resp, lines, octets = p.top(1, 2)
assert lines[-2:] == [b"hello", b".dot line"], lines  # poplib undoes the byte-stuffing
step("top")

resp, lines, octets = p.retr(1)
assert octets == sizes[0], (octets, sizes)
assert b".dot line" in lines and b"last line" in lines, lines
resp, lines, _ = p.retr(2)
assert b"Subject: second" in lines
expect_error(lambda: p.retr(3), "-ERR")
step("retr")

p.dele(1)
expect_error(lambda: p.retr(1), "-ERR")
assert p.stat()[0] == 1
p.rset()
assert p.stat()[0] == 2
p.dele(1)
assert p.noop().startswith(b"+OK")
expect_error(p.utf8, "-ERR")  # RFC 6856 UTF8 is not offered
p.quit()
step("dele/rset/noop/quit")

# The UPDATE state removed message 1; message 2 kept its UIDL. APOP this time.
p = poplib.POP3("127.0.0.1", port, timeout=10)
ts = re.search(rb"<[^>]+>", p.getwelcome()).group(0)
expect_error(lambda: p.apop("alice", "wrong"), "[AUTH]")
p = poplib.POP3("127.0.0.1", port, timeout=10)
p.apop("alice", "secret")
assert p.stat()[0] == 1
assert p.uidl(1).split()[2] == uid2
step("apop, stable uidl after update")

# A second session on the same maildrop is refused while the first holds it.
q = poplib.POP3("127.0.0.1", port, timeout=10)
q.user("alice")
expect_error(lambda: q.pass_("secret"), "[IN-USE]")
q.quit()
p.quit()
step("in-use")

# AUTH PLAIN, by hand through poplib's _shortcmd (poplib has no AUTH helper).
import base64
p = poplib.POP3("127.0.0.1", port, timeout=10)
token = base64.b64encode(b"\0alice\0secret").decode()
assert p._shortcmd("AUTH PLAIN " + token).startswith(b"+OK")
assert p.stat()[0] == 1
p.quit()
step("auth plain")

"""Drive fakeserver's IMAP with Python's imaplib: every command imaplib 3.11 has that the
server offers (ACL, QUOTA, ANNOTATION and PROXYAUTH aside: not advertised), over STARTTLS or
IMAP4_SSL, with every login method imaplib knows.

Usage: imap_imaplib.py PORT CAFILE MODE LOGIN
  MODE:  starttls | ssl
  LOGIN: login | cram-md5 | plain | xoauth2
alice's password is "s3cret". The Rust test has delivered three messages to INBOX (subjects
"alpha", "beta", "gamma", the last one MIME multipart) and checks the server's state after.
Prints "ok <step>" lines; any failure raises (non-zero exit, traceback on stderr).
"""
import base64
import imaplib
import re
import ssl
import sys
import time

port, cafile, mode, login = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
ctx = ssl.create_default_context(cafile=cafile)  # host name checked too (127.0.0.1 is in the cert)


def step(name):
    print("ok", name, flush=True)


def ok(r):
    typ, data = r
    assert typ == "OK", (typ, data)
    return data


def fails(fn, *args):
    """The command must not succeed: imaplib raises, or the answer is NO/BAD."""
    try:
        typ, data = fn(*args)
    except imaplib.IMAP4.error as e:
        return str(e)
    assert typ in ("NO", "BAD"), f"{fn.__name__}{args} should fail, got {typ} {data}"
    return typ


if mode == "ssl":
    M = imaplib.IMAP4_SSL("127.0.0.1", port, ssl_context=ctx, timeout=20)
else:
    M = imaplib.IMAP4("127.0.0.1", port, timeout=20)
    assert "STARTTLS" in M.capabilities, M.capabilities
    M.starttls(ssl_context=ctx)
    step("starttls")
caps = ok(M.capability())[0].split()
assert b"STARTTLS" not in caps and b"IMAP4rev1" in caps, caps
step("capability")

# a wrong password first: imaplib's error, the session stays usable
fails(M.login, "alice", "wrong")
assert M.state == "NONAUTH"
if login == "login":
    ok(M.login("alice", "s3cret"))
elif login == "cram-md5":
    ok(M.login_cram_md5("alice", "s3cret"))
elif login == "plain":
    ok(M.authenticate("PLAIN", lambda _: b"\0alice\0s3cret"))
elif login == "xoauth2":
    ok(M.authenticate("XOAUTH2", lambda _: b"user=alice\x01auth=Bearer s3cret\x01\x01"))
assert M.state == "AUTH"
step("login " + login)

ok(M.noop())
ns = ok(M.namespace())[0]
assert ns.startswith(b'(("" "/"))'), ns
typ, data = M.xatom("ID", '("name" "imaplib")')
assert typ == "OK", (typ, data)
assert M.response("ID")[1][0].startswith(b"("), M.untagged_responses
step("noop namespace id")

ok(M.create("Work"))
ok(M.create("Work/Projects"))
ok(M.create("Trash"))
assert fails(M.create, "Work") == "NO"
listed = b"\n".join(ok(M.list()))
for name in (b"INBOX", b"Work", b"Work/Projects", b"Trash"):
    assert re.search(rb'"/" "?' + re.escape(name) + rb'"?$', listed, re.M), (name, listed)
assert re.search(rb'\\HasChildren[^)]*\) "/" "?Work"?$', listed, re.M), listed
only = ok(M.list('""', "Work/%"))  # imaplib sends arguments as given: quote the empty one
assert len(only) == 1 and b"Work/Projects" in only[0], only
ok(M.subscribe("Work/Projects"))
subs = b"\n".join(ok(M.lsub()))
assert b"Work/Projects" in subs and b"Trash" not in subs, subs
ok(M.unsubscribe("Work/Projects"))
assert b"Work/Projects" not in b"\n".join(x or b"" for x in ok(M.lsub()))
ok(M.rename("Work/Projects", "Work/Done"))
assert b"Work/Done" in b"\n".join(ok(M.list()))
ok(M.delete("Work/Done"))
assert b"Work/Done" not in b"\n".join(ok(M.list()))
step("create list lsub subscribe rename delete")

st = ok(M.status("INBOX", "(MESSAGES RECENT UIDNEXT UIDVALIDITY UNSEEN)"))[0]
assert re.search(rb"MESSAGES 3 RECENT 3 UIDNEXT 4 UIDVALIDITY \d+ UNSEEN 3", st), st
step("status")

body = b"From: carol@example.test\r\nSubject: appended\r\n\r\nappended text\r\n"
date = imaplib.Time2Internaldate(time.mktime((2020, 5, 17, 12, 0, 0, 0, 0, -1)))
data = ok(M.append("Work", "(\\Seen $Label)", date, body))
assert re.search(rb"\[APPENDUID \d+ 1\]", data[0]), data
step("append")

# EXAMINE: read-only, no \Recent claimed, STORE refused
data = ok(M.select("INBOX", readonly=True))
assert data == [b"3"], data
assert M.store("1", "+FLAGS", "\\Seen")[0] == "NO"
ok(M.close())
step("examine")

assert ok(M.select("INBOX")) == [b"3"]
assert ok(M.recent()) == [b"3"], "this session claims \\Recent"
ok(M.check())
step("select recent check")

assert ok(M.search(None, "ALL")) == [b"1 2 3"]
assert ok(M.search(None, "UNSEEN", "SUBJECT", "beta")) == [b"2"]
assert ok(M.search(None, "OR", "FROM", "dave", "LARGER", "1000")) == [b"3"]
assert ok(M.search(None, "NOT", "HEADER", "X-Tag", "keep")) == [b"2 3"]
assert ok(M.search(None, "SINCE", "1-Jan-2020", "BEFORE", "1-Jan-2100")) == [b"1 2 3"]
assert ok(M.search(None, "2:*", "TEXT", "attachment")) == [b"3"]
M.literal = "gr\u00fc\u00dfe".encode()
assert ok(M.search("UTF-8", "BODY")) == [b"1"]
step("search")

data = ok(M.fetch("1:3", "(UID FLAGS INTERNALDATE RFC822.SIZE)"))
assert len(data) == 3 and all(b"UID" in d and b"RFC822.SIZE" in d for d in data), data
data = ok(M.fetch("3", "(BODYSTRUCTURE)"))[0]
low = data.lower()
assert b'("text" "plain"' in low and b'"mixed"' in low and b'"application" "octet-stream"' in low, data
typ, data = M.fetch("3", "(BODY.PEEK[2.MIME] BODY.PEEK[1])")
assert typ == "OK" and b"Content-Type: application/octet-stream" in data[0][1], data
assert data[1][1].strip() == b"see the attachment", data
typ, data = M.fetch("1", "(RFC822.HEADER)")
assert data[0][1].startswith(b"From: ") and data[0][1].endswith(b"\r\n\r\n"), data
# imaplib's partial() sends IMAP2bis's PARTIAL, which IMAP4rev1 removed: the FETCH form instead
typ, data = M.fetch("1", "(BODY[TEXT]<0.6>)")
assert typ == "OK" and data[0][1] == "Gr\u00fc\u00dfe".encode()[:6], data
assert b"\\Seen" in ok(M.fetch("1", "(FLAGS)"))[0], "BODY[] sets \\Seen"
step("fetch partial")

ok(M.store("2", "+FLAGS", "(\\Flagged $Important)"))
assert b"$Important" in ok(M.fetch("2", "(FLAGS)"))[0]
ok(M.store("2", "-FLAGS.SILENT", "($Important)"))
data = ok(M.store("2", "FLAGS", "(\\Answered)"))
assert b"FLAGS (\\Answered" in data[0], data
step("store")

ok(M.copy("1:2", "Trash"))
assert ok(M.status("Trash", "(MESSAGES)"))[0].endswith(b"(MESSAGES 2)")
step("copy")

uids = ok(M.uid("SEARCH", "ALL"))[0].split()
assert uids == [b"1", b"2", b"3"], uids
data = ok(M.uid("FETCH", "2:3", "(FLAGS)"))
assert b"UID 2" in data[0] and b"UID 3" in data[1], data
ok(M.uid("STORE", "3", "+FLAGS", "(\\Deleted)"))
ok(M.uid("COPY", "3", "Trash"))
ok(M.uid("MOVE", "2", "Work"))
assert M.response("EXPUNGE")[1] == [b"2"], "MOVE's EXPUNGE"
ok(M.uid("EXPUNGE", "3"))  # imaplib's uid() returns the FETCH responses: EXPUNGE is kept
assert M.response("EXPUNGE")[1] == [b"2"], "UID EXPUNGE removed UID 3, now message 2"
assert ok(M.search(None, "ALL")) == [b"1"]
step("uid search fetch store copy move expunge")

ok(M.select("Trash"))
assert ok(M.sort("(REVERSE SUBJECT)", "UTF-8", "ALL")) == [b"3 2 1"]
assert ok(M.uid("SORT", "(SUBJECT)", "UTF-8", "ALL")) == [b"1 2 3"]
thr = ok(M.thread("REFERENCES", "UTF-8", "ALL"))[0]
assert thr.count(b"(") == 2 and b"(1 2)" in thr, thr
thr = ok(M.uid("THREAD", "ORDEREDSUBJECT", "UTF-8", "ALL"))[0]
assert b"(3)" in thr, thr
step("sort thread")

assert ok(M.search(None, "DELETED")) == [b"3"], "COPY kept gamma's \\Deleted"
ok(M.store("1", "+FLAGS", "\\Deleted"))
data = ok(M.expunge())
assert data == [b"3", b"1"], data
assert ok(M.search(None, "ALL")) == [b"1"]
ok(M.append("Trash", None, None, b"Subject: spare\r\n\r\nx\r\n"))
assert ok(M.noop()) and M.response("EXISTS")[1][-1] == b"2", "the APPEND was announced"
ok(M.store("1", "+FLAGS", "\\Deleted"))
ok(M.close())  # expunges silently
assert ok(M.status("Trash", "(MESSAGES)"))[0].endswith(b"(MESSAGES 1)")
step("expunge close")

ok(M.enable("CONDSTORE"))
assert b"CONDSTORE" in M.response("ENABLED")[1][0], "ENABLED CONDSTORE"
M.select("Work")
data = ok(M.fetch("1:*", "(MODSEQ)"))
assert all(b"MODSEQ (" in d for d in data), data
ok(M.unselect())
assert M.state == "AUTH"
step("enable unselect")

assert M.logout()[0] == "BYE"
step("logout")

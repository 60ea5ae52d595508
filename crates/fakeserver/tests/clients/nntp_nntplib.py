"""Drive fakeserver's NNTP with Python's nntplib: every nntplib command.

Usage: nntp_nntplib.py PORT CAFILE|-

The server was loaded with misc.test (two articles, <a1@test> and <a2@test>, the second
replying to the first and having a body line starting with a dot) and alt.empty (none);
user fred, password "pw".  Prints "ok <step>" lines; any failure raises.
"""
import datetime
import io
import ssl
import sys
import warnings

warnings.simplefilter("ignore", DeprecationWarning)
import nntplib  # noqa: E402

port = int(sys.argv[1])
cafile = sys.argv[2] if len(sys.argv) > 2 and sys.argv[2] != "-" else None


def step(name):
    print("ok", name, flush=True)


def expect(exc, code, fn):
    try:
        fn()
    except exc as e:
        assert str(e).startswith(code), (code, str(e))
        return
    raise AssertionError(f"expected {code}")


s = nntplib.NNTP("127.0.0.1", port, readermode=True, timeout=10)
assert s.getwelcome().startswith("200 "), s.getwelcome()
caps = s.getcapabilities()
assert "READER" in caps and "OVER" in caps and "POST" in caps, caps
step("welcome/capabilities")

if cafile:
    assert "STARTTLS" in caps, caps
    s.starttls(ssl.create_default_context(cafile=cafile))
    assert "STARTTLS" not in s.getcapabilities()
    step("starttls")

s.login("fred", "pw")
assert "AUTHINFO" not in s.getcapabilities()
step("login")

resp, groups = s.list()
names = {g.group: g for g in groups}
assert int(names["misc.test"].last) == 2 and int(names["misc.test"].first) == 1, groups
assert names["misc.test"].flag == "y"
resp, groups = s.list("misc.*")
assert [g.group for g in groups] == ["misc.test"], groups
step("list")

resp, descs = s.descriptions("*")
assert descs.get("misc.test") == "Testing group", descs
assert s.description("misc.test") == "Testing group"
step("descriptions")

resp, count, first, last, name = s.group("misc.test")
assert (count, first, last, name) == (2, 1, 2, "misc.test"), (count, first, last, name)
expect(nntplib.NNTPTemporaryError, "411", lambda: s.group("no.such"))
step("group")

resp, overviews = s.over((1, 2))
assert [n for n, _ in overviews] == [1, 2], overviews
ov2 = overviews[1][1]
assert ov2["subject"] == "Re: hello" and ov2["references"] == "<a1@test>", ov2
assert int(ov2[":lines"]) == 2, ov2
resp, xo = s.xover(1, 2)
assert len(xo) == 2
step("over/xover")

resp, hdrs = s.xhdr("subject", "1-2")
assert hdrs == [("1", "hello"), ("2", "Re: hello")], hdrs
step("xhdr")

resp, n, mid = s.stat()
assert (n, mid) == (1, "<a1@test>"), (n, mid)
resp, n, mid = s.next()
assert (n, mid) == (2, "<a2@test>"), (n, mid)
expect(nntplib.NNTPTemporaryError, "421", s.next)
resp, n, mid = s.last()
assert (n, mid) == (1, "<a1@test>")
step("stat/next/last")

resp, info = s.article(2)
assert info.number == 2 and info.message_id == "<a2@test>"
assert b".starts with a dot" in info.lines, info.lines
resp, info = s.head("<a1@test>")
assert b"Subject: hello" in info.lines and b"" not in info.lines, info.lines
resp, info = s.body(1)
assert info.lines == [b"first body"], info.lines
expect(nntplib.NNTPTemporaryError, "430", lambda: s.article("<none@test>"))
expect(nntplib.NNTPTemporaryError, "423", lambda: s.article(99))
step("article/head/body")

article = (
    b"From: poster@test\r\nNewsgroups: misc.test\r\nSubject: posted\r\n"
    b"Message-ID: <posted@test>\r\n\r\n.a line with a dot\r\nend\r\n"
)
resp = s.post(io.BytesIO(article))
assert resp.startswith("240"), resp
expect(nntplib.NNTPTemporaryError, "441",
       lambda: s.post(io.BytesIO(b"From: p@test\r\nNewsgroups: misc.test\r\n\r\nno subject\r\n")))
resp, info = s.body("<posted@test>")
assert info.lines == [b".a line with a dot", b"end"], info.lines
step("post")

ih = b"From: feed@test\r\nNewsgroups: misc.test\r\nSubject: fed\r\nMessage-ID: <fed@test>\r\n\r\nfed\r\n"
resp = s.ihave("<fed@test>", io.BytesIO(ih))
assert resp.startswith("235"), resp
expect(nntplib.NNTPTemporaryError, "435", lambda: s.ihave("<fed@test>", io.BytesIO(ih)))
resp, count, first, last, name = s.group("misc.test")
assert (count, last) == (4, 4), (count, last)
step("ihave")

resp, now = s.date()
assert resp.startswith("111 ") and isinstance(now, datetime.datetime), (resp, now)
assert abs((now - datetime.datetime.utcnow()).total_seconds()) < 120, now
since = datetime.datetime(2000, 1, 1)
resp, groups = s.newgroups(since)
assert {g.group for g in groups} >= {"misc.test", "alt.empty"}, groups
resp, ids = s.newnews("misc.*", since)
assert set(ids) >= {"<a1@test>", "<a2@test>", "<posted@test>", "<fed@test>"}, ids
resp, ids = s.newnews("alt.*", since)
assert ids == [], ids
step("date/newgroups/newnews")

resp, lines = s.help()
assert any("ARTICLE" in l for l in lines), lines
expect(nntplib.NNTPPermanentError, "500", s.slave)
step("help/slave")

resp = s.quit()
assert resp.startswith("205"), resp
step("quit")

"""An IMAP client with COMPRESS=DEFLATE (RFC 4978) on a raw socket: Python's imaplib has no
COMPRESS, so this speaks the protocol itself and compresses with zlib (raw DEFLATE,
wbits=-15), a DEFLATE implementation independent of the server's.

usage: imap_compress.py PORT CA|implicit:CA|-   (a CA file: STARTTLS first, checked against
it; implicit:CA: TLS from the first byte, as IMAPS)
Prints "ok STEP" for each step; exits non-zero (with the reason) on the first failure.
"""
import socket
import ssl
import sys
import zlib

port, ca = int(sys.argv[1]), sys.argv[2]
sock = socket.create_connection(("127.0.0.1", port), timeout=15)


def tls_context(cafile):
    ctx = ssl.create_default_context(cafile=cafile)
    ctx.check_hostname = False
    return ctx


if ca.startswith("implicit:"):
    sock = tls_context(ca[len("implicit:") :]).wrap_socket(sock)
    print("ok implicit tls", sock.version())
    ca = "-"


def fail(why):
    sys.exit("FAIL: " + why)


def plain_line():
    """One line before compression, read byte by byte so nothing after it is consumed."""
    b = b""
    while not b.endswith(b"\r\n"):
        c = sock.recv(1)
        if not c:
            fail("connection closed; got %r" % b)
        b += c
    return b[:-2].decode()


def plain_cmd(tag, cmd):
    sock.sendall(("%s %s\r\n" % (tag, cmd)).encode())
    while True:
        line = plain_line()
        if line.startswith(tag + " "):
            return line


greeting = plain_line()
sock.sendall(b"c1 CAPABILITY\r\n")
caps = plain_line()
if "COMPRESS=DEFLATE" not in caps.split():
    fail("no COMPRESS=DEFLATE in " + caps)
if not plain_line().startswith("c1 OK"):
    fail("CAPABILITY")
print("ok capability")

if ca != "-":
    if not plain_cmd("t", "STARTTLS").startswith("t OK"):
        fail("STARTTLS refused")
    sock = tls_context(ca).wrap_socket(sock)
    print("ok starttls", sock.version())

r = plain_cmd("b0", "COMPRESS DEFLATE")
if not r.startswith("b0 BAD "):
    fail("COMPRESS before login: " + r)
if not plain_cmd("l", "LOGIN alice secret").startswith("l OK"):
    fail("LOGIN")
r = plain_cmd("b1", "COMPRESS LZW")
if not r.startswith("b1 BAD "):
    fail("unknown mechanism: " + r)
r = plain_cmd("z", "COMPRESS DEFLATE")
if r != "z OK DEFLATE active":
    fail("COMPRESS: " + r)
print("ok compress")

comp = zlib.compressobj(wbits=-15)
decomp = zlib.decompressobj(wbits=-15)
inflated = b""
wire_in = 0


def send(data):
    sock.sendall(comp.compress(data) + comp.flush(zlib.Z_SYNC_FLUSH))


def fill():
    global inflated, wire_in
    chunk = sock.recv(65536)
    if not chunk:
        fail("connection closed while reading; have %r" % inflated[-200:])
    wire_in += len(chunk)
    inflated += decomp.decompress(chunk)


def line():
    global inflated
    while b"\r\n" not in inflated:
        fill()
    head, inflated = inflated.split(b"\r\n", 1)
    return head


def exactly(n):
    global inflated
    while len(inflated) < n:
        fill()
    head, inflated = inflated[:n], inflated[n:]
    return head


def response(tag):
    """Untagged lines (literals read whole) up to the tagged one."""
    got = []
    while True:
        l = line()
        while l.endswith(b"}") and b"{" in l:
            n = int(l[l.rindex(b"{") + 1 : -1].rstrip(b"+"))
            l = l + b"\r\n" + exactly(n) + line()
        if l.startswith(tag.encode() + b" "):
            return got, l.decode(errors="replace")
        got.append(l)


def cmd(tag, text):
    send(("%s %s\r\n" % (tag, text)).encode())
    return response(tag)


_, r = cmd("a1", "SELECT INBOX")
if not r.startswith("a1 OK"):
    fail("SELECT: " + r)
print("ok select")

body = b"".join(b"line %06d of a message long enough to take several reads\r\n" % i for i in range(6000))
msg = b"From: c@example.test\r\nSubject: compressed\r\n\r\n" + body
send(b"a2 APPEND INBOX (\\Flagged) {%d}\r\n" % len(msg))
cont = line()
if not cont.startswith(b"+"):
    fail("APPEND continuation: %r" % cont)
send(msg[: len(msg) // 2])
send(msg[len(msg) // 2 :] + b"\r\n")
_, r = response("a2")
if not r.startswith("a2 OK"):
    fail("APPEND: " + r)
print("ok append", len(msg))

got, r = cmd("a3", "UID FETCH 1:* (FLAGS BODY.PEEK[])")
if not r.startswith("a3 OK") or len(got) != 1:
    fail("FETCH: %s %r" % (r, [g[:80] for g in got]))
if msg not in got[0] or b"\\Flagged" not in got[0]:
    fail("FETCH returned other bytes")
print("ok fetch %d bytes inflated from %d on the wire" % (len(got[0]), wire_in))

# Two commands in one compressed write, then the second COMPRESS.
send(b"p1 NOOP\r\np2 SEARCH SUBJECT compressed\r\n")
_, r = response("p1")
got, r2 = response("p2")
if not (r.startswith("p1 OK") and r2.startswith("p2 OK") and got == [b"* SEARCH 1"]):
    fail("pipelined: %s %s %r" % (r, r2, got))
print("ok pipelined")

_, r = cmd("y", "COMPRESS DEFLATE")
if not r.startswith("y NO [COMPRESSIONACTIVE]"):
    fail("second COMPRESS: " + r)
print("ok compressionactive")

got, r = cmd("q", "LOGOUT")
if not (r.startswith("q OK") and got and got[0].startswith(b"* BYE")):
    fail("LOGOUT: %s %r" % (r, got))
print("ok logout")

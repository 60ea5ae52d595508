"""Independent decoder for fakens replies (used by tests/fakens.rs).

Reads a DNS message from the file named in argv[1] and prints one line per header,
question and record. Uses dnspython when it is installed; otherwise a small decoder
written here on the standard library only, which prints the same format. The first line
says which decoder ran.
"""
import ipaddress
import struct
import sys

ESCAPED = b'"().;\\@$'
TYPES = {1: "A", 2: "NS", 5: "CNAME", 6: "SOA", 12: "PTR", 15: "MX", 16: "TXT",
         28: "AAAA", 33: "SRV", 52: "TLSA", 99: "SPF"}


def label_text(label):
    out = []
    for b in label:
        if b in ESCAPED:
            out.append("\\" + chr(b))
        elif 0x20 < b < 0x7F:
            out.append(chr(b))
        else:
            out.append("\\%03d" % b)
    return "".join(out)


def strings_text(strings):
    return "|".join(s.decode("latin-1") for s in strings)


def with_dnspython(data):
    import dns.message
    import dns.rdatatype

    def name(n):
        return "." if len(n.labels) <= 1 else ".".join(label_text(l) for l in n.labels[:-1]) + "."

    def rdata(rd):
        t = rd.rdtype
        if t in (1, 28):
            return rd.address
        if t in (2, 5, 12):
            return name(rd.target)
        if t == 15:
            return "%d %s" % (rd.preference, name(rd.exchange))
        if t == 33:
            return "%d %d %d %s" % (rd.priority, rd.weight, rd.port, name(rd.target))
        if t == 6:
            return "%s %s %d %d %d %d %d" % (name(rd.mname), name(rd.rname), rd.serial,
                                           rd.refresh, rd.retry, rd.expire, rd.minimum)
        if t in (16, 99):
            return strings_text(rd.strings)
        if t == 52:
            return "%d %d %d %s" % (rd.usage, rd.selector, rd.mtype, rd.cert.hex())
        return "?"

    m = dns.message.from_wire(data, one_rr_per_rrset=True)
    f = m.flags
    lines = ["decoder dnspython",
             "header id=%d qr=%d opcode=%d aa=%d tc=%d rd=%d ra=%d ad=%d cd=%d rcode=%d" % (
                 m.id, f >> 15 & 1, f >> 11 & 15, f >> 10 & 1, f >> 9 & 1, f >> 8 & 1,
                 f >> 7 & 1, f >> 5 & 1, f >> 4 & 1, m.rcode())]
    for q in m.question:
        lines.append("question %s %s %d" % (name(q.name), TYPES.get(q.rdtype, q.rdtype), q.rdclass))
    for section, rrsets in (("answer", m.answer), ("authority", m.authority),
                            ("additional", m.additional)):
        for rrset in rrsets:
            for rd in rrset:
                lines.append("%s %s %d %d %s %s" % (section, name(rrset.name), rrset.ttl,
                                                    rrset.rdclass, TYPES.get(rd.rdtype, rd.rdtype),
                                                    rdata(rd)))
    return lines


def with_stdlib(data):
    def read_name(pos):
        labels, jumped, end = [], False, None
        for _ in range(128):
            n = data[pos]
            if n == 0:
                pos += 1
                break
            if n & 0xC0 == 0xC0:
                if not jumped:
                    end = pos + 2
                jumped = True
                pos = struct.unpack("!H", data[pos:pos + 2])[0] & 0x3FFF
                continue
            labels.append(data[pos + 1:pos + 1 + n])
            pos += 1 + n
        else:
            raise ValueError("name too long")
        text = ".".join(label_text(l) for l in labels) + "." if labels else "."
        return text, end if jumped else pos

    def rdata(t, start, length):
        end = start + length
        body = data[start:end]
        if t == 1:
            return str(ipaddress.IPv4Address(body))
        if t == 28:
            return str(ipaddress.IPv6Address(body))
        if t in (2, 5, 12):
            n, p = read_name(start)
            assert p == end, "name does not fill rdata"
            return n
        if t == 15:
            n, p = read_name(start + 2)
            assert p == end
            return "%d %s" % (struct.unpack("!H", body[:2])[0], n)
        if t == 33:
            prio, weight, port = struct.unpack("!HHH", body[:6])
            n, p = read_name(start + 6)
            assert p == end
            return "%d %d %d %s" % (prio, weight, port, n)
        if t == 6:
            m, p = read_name(start)
            r, p = read_name(p)
            nums = struct.unpack("!IIIII", data[p:p + 20])
            assert p + 20 == end
            return "%s %s %d %d %d %d %d" % ((m, r) + nums)
        if t in (16, 99):
            strings, p = [], 0
            while p < len(body):
                strings.append(body[p + 1:p + 1 + body[p]])
                p += 1 + body[p]
            assert p == len(body)
            return strings_text(strings)
        if t == 52:
            return "%d %d %d %s" % (body[0], body[1], body[2], body[3:].hex())
        return "?"

    ident, flags, qd, an, ns, ar = struct.unpack("!HHHHHH", data[:12])
    f = flags
    lines = ["decoder stdlib",
             "header id=%d qr=%d opcode=%d aa=%d tc=%d rd=%d ra=%d ad=%d cd=%d rcode=%d" % (
                 ident, f >> 15 & 1, f >> 11 & 15, f >> 10 & 1, f >> 9 & 1, f >> 8 & 1,
                 f >> 7 & 1, f >> 5 & 1, f >> 4 & 1, f & 15)]
    pos = 12
    for _ in range(qd):
        n, pos = read_name(pos)
        t, c = struct.unpack("!HH", data[pos:pos + 4])
        pos += 4
        lines.append("question %s %s %d" % (n, TYPES.get(t, t), c))
    for section, count in (("answer", an), ("authority", ns), ("additional", ar)):
        for _ in range(count):
            n, pos = read_name(pos)
            t, c, ttl, length = struct.unpack("!HHIH", data[pos:pos + 10])
            pos += 10
            lines.append("%s %s %d %d %s %s" % (section, n, ttl, c, TYPES.get(t, t),
                                                rdata(t, pos, length)))
            pos += length
    if pos != len(data):
        raise ValueError("%d trailing bytes" % (len(data) - pos))
    return lines


def main():
    data = open(sys.argv[1], "rb").read()
    force_stdlib = len(sys.argv) > 2 and sys.argv[2] == "--stdlib"
    try:
        if force_stdlib:
            raise ImportError
        import dns.message  # noqa: F401
        lines = with_dnspython(data)
    except ImportError:
        lines = with_stdlib(data)
    print("\n".join(lines))


main()

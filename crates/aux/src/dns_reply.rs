//! Turns a fakens [`Reply`] into the DNS packet Exim reads, using hickory-proto's types
//! and encoder.
//!
//! Layout, as Exim 4.96 expects from fakens: id 0, QR set, opcode QUERY, AA and AD from
//! the reply, RCODE NXDOMAIN for HOST_NOT_FOUND and NOERROR otherwise, one question (Exim
//! accepts a negative answer's SOA only when QDCOUNT is 1), the answers, then the
//! authority records. Names are written uncompressed and exactly as in the zone file
//! (case, raw UTF-8). A reply too large for one hickory encoder (only
//! `manyhome.test.ex`) is written section by section with the same encoder; Exim reads
//! as much as fits its buffer.

use hickory_proto::op::{Header, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::tlsa::{CertUsage, Matching, Selector};
use hickory_proto::rr::rdata::{self, NULL, SOA, SRV, TLSA, TXT};
use hickory_proto::rr::{DNSClass, RData, Record, RecordType};
use hickory_proto::serialize::binary::{BinEncodable, BinEncoder, EncodeMode};
use hickory_proto::ProtoError;

use crate::fakens::{Reply, ReplyRecord, Status};
use crate::zone::{RecordData, RecordKind};

/// Where [`emit_uncompressed`] starts writing: the first offset a 14-bit compression
/// pointer cannot reach.
const BEYOND_POINTERS: usize = 0x4000;

/// The largest message [`emit_uncompressed`] can write in one go (hickory's encoders stop
/// at 65535 bytes, and the first 16 KiB are the unused lead-in).
const MAX_UNCOMPRESSED_MESSAGE: usize = u16::MAX as usize - BEYOND_POINTERS;

/// The packet for `reply`; empty for outcomes Exim reads no packet for.
pub fn encode(reply: &Reply) -> Result<Vec<u8>, ProtoError> {
    if !reply.status.has_packet() {
        return Ok(Vec::new());
    }
    let message = to_message(reply)?;
    if estimated_len(reply) <= MAX_UNCOMPRESSED_MESSAGE {
        emit_uncompressed(&message)
    } else {
        encode_by_parts(&message)
    }
}

/// The hickory message for `reply`.
pub fn to_message(reply: &Reply) -> Result<Message, ProtoError> {
    let mut message = Message::new();
    message
        .set_id(0)
        .set_message_type(MessageType::Response)
        .set_op_code(OpCode::Query)
        .set_authoritative(reply.authoritative)
        .set_authentic_data(reply.authentic_data)
        .set_response_code(match reply.status {
            Status::HostNotFound => ResponseCode::NXDomain,
            _ => ResponseCode::NoError,
        });
    if let Some((name, kind)) = &reply.question {
        let mut query = Query::query(name.to_hickory()?, record_type(*kind));
        query.set_query_class(DNSClass::IN);
        message.add_query(query);
    }
    for record in &reply.answers {
        message.add_answer(to_record(record)?);
    }
    for record in &reply.authority {
        message.add_name_server(to_record(record)?);
    }
    Ok(message)
}

/// The hickory type code for a fakens kind (SPF has no hickory type of its own).
pub fn record_type(kind: RecordKind) -> RecordType {
    match kind {
        RecordKind::A => RecordType::A,
        RecordKind::Aaaa => RecordType::AAAA,
        RecordKind::Ns => RecordType::NS,
        RecordKind::Cname => RecordType::CNAME,
        RecordKind::Soa => RecordType::SOA,
        RecordKind::Ptr => RecordType::PTR,
        RecordKind::Mx => RecordType::MX,
        RecordKind::Txt => RecordType::TXT,
        RecordKind::Srv => RecordType::SRV,
        RecordKind::Tlsa => RecordType::TLSA,
        RecordKind::Spf => RecordType::Unknown(kind.code()),
    }
}

fn to_record(record: &ReplyRecord) -> Result<Record, ProtoError> {
    let rdata = match &record.data {
        RecordData::A(ip) => RData::A((*ip).into()),
        RecordData::Aaaa(ip) => RData::AAAA((*ip).into()),
        RecordData::Ns(name) => RData::NS(rdata::NS(name.to_hickory()?)),
        RecordData::Cname(name) => RData::CNAME(rdata::CNAME(name.to_hickory()?)),
        RecordData::Ptr(name) => RData::PTR(rdata::PTR(name.to_hickory()?)),
        RecordData::Mx {
            preference,
            exchange,
        } => RData::MX(rdata::MX::new(*preference, exchange.to_hickory()?)),
        RecordData::Srv {
            priority,
            weight,
            port,
            target,
        } => RData::SRV(SRV::new(*priority, *weight, *port, target.to_hickory()?)),
        RecordData::Soa {
            mname,
            rname,
            serial,
            refresh,
            retry,
            expire,
            minimum,
        } => {
            // hickory types the three intervals as i32; the wire bits are the same.
            RData::SOA(SOA::new(
                mname.to_hickory()?,
                rname.to_hickory()?,
                *serial,
                *refresh as i32,
                *retry as i32,
                *expire as i32,
                *minimum,
            ))
        }
        RecordData::Txt(strings) => {
            RData::TXT(TXT::from_bytes(strings.iter().map(Vec::as_slice).collect()))
        }
        RecordData::Spf(strings) => RData::Unknown {
            code: record_type(RecordKind::Spf),
            rdata: NULL::with(character_strings(strings)),
        },
        RecordData::Tlsa {
            usage,
            selector,
            matching,
            data,
        } => RData::TLSA(TLSA::new(
            CertUsage::from(*usage),
            Selector::from(*selector),
            Matching::from(*matching),
            data.clone(),
        )),
    };
    let mut out = Record::from_rdata(record.owner.to_hickory()?, record.ttl, rdata);
    out.set_dns_class(DNSClass::IN);
    Ok(out)
}

/// TXT-style RDATA: each string preceded by its length.
fn character_strings(strings: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for s in strings {
        out.push(s.len() as u8);
        out.extend_from_slice(s);
    }
    out
}

/// An upper bound of the packet size (names are never compressed, so it is exact for
/// everything but RDATA, which this over-estimates).
fn estimated_len(reply: &Reply) -> usize {
    let question = reply.question.as_ref().map_or(0, |(n, _)| n.wire_len() + 4);
    let records: usize = reply
        .answers
        .iter()
        .chain(&reply.authority)
        .map(|r| r.owner.wire_len() + 10 + rdata_bound(&r.data))
        .sum();
    12 + question + records
}

fn rdata_bound(data: &RecordData) -> usize {
    match data {
        RecordData::A(_) => 4,
        RecordData::Aaaa(_) => 16,
        RecordData::Ns(n) | RecordData::Cname(n) | RecordData::Ptr(n) => n.wire_len(),
        RecordData::Mx { exchange, .. } => 2 + exchange.wire_len(),
        RecordData::Srv { target, .. } => 6 + target.wire_len(),
        RecordData::Soa { mname, rname, .. } => mname.wire_len() + rname.wire_len() + 20,
        RecordData::Txt(s) | RecordData::Spf(s) => s.iter().map(|s| s.len() + 1).sum(),
        RecordData::Tlsa { data, .. } => 3 + data.len(),
    }
}

/// Encodes header, question and records one by one: the same bytes [`Message::emit`]
/// produces without compression, but not limited to 65535 bytes in total.
fn encode_by_parts(message: &Message) -> Result<Vec<u8>, ProtoError> {
    let count = |n: usize| u16::try_from(n).unwrap_or(u16::MAX);
    let mut header: Header = *message.header();
    header
        .set_query_count(count(message.queries().len()))
        .set_answer_count(count(message.answers().len()))
        .set_name_server_count(count(message.name_servers().len()))
        .set_additional_count(0);
    let mut out = emit_uncompressed(&header)?;
    for query in message.queries() {
        out.extend(emit_uncompressed(query)?);
    }
    for record in message.answers().iter().chain(message.name_servers()) {
        out.extend(emit_uncompressed(record)?);
    }
    Ok(out)
}

/// Encodes `item` with hickory, without name compression and with names exactly as given.
///
/// hickory offers no "uncompressed but case-preserving" switch: its canonical mode stops
/// compression but lower-cases the names inside RDATA (`ten-99.TEST.EX` in an MX record
/// must stay as written). A DNS compression pointer holds a 14-bit offset, and hickory
/// neither records nor uses names written at offsets beyond that range, so writing after a
/// 16 KiB lead-in gives plain names; the lead-in is then dropped.
fn emit_uncompressed<T: BinEncodable>(item: &T) -> Result<Vec<u8>, ProtoError> {
    let mut buf = vec![0u8; BEYOND_POINTERS];
    {
        let mut encoder =
            BinEncoder::with_offset(&mut buf, BEYOND_POINTERS as u32, EncodeMode::Normal);
        item.emit(&mut encoder)?;
    }
    Ok(buf.split_off(BEYOND_POINTERS))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dns_name::DnsName;
    use crate::zone::DEFAULT_TTL;
    use hickory_proto::rr::Name;

    fn name(s: &str) -> DnsName {
        DnsName::parse(s.as_bytes()).unwrap()
    }

    fn rec(owner: &str, data: RecordData) -> ReplyRecord {
        ReplyRecord {
            owner: name(owner),
            ttl: DEFAULT_TTL,
            data,
        }
    }

    fn reply(status: Status, kind: RecordKind, answers: Vec<ReplyRecord>) -> Reply {
        Reply {
            status,
            question: Some((name("q.test.ex"), kind)),
            answers,
            authority: Vec::new(),
            authoritative: false,
            authentic_data: false,
        }
    }

    fn decode(bytes: &[u8]) -> Message {
        Message::from_vec(bytes).expect("hickory decodes the packet")
    }

    fn soa() -> RecordData {
        RecordData::Soa {
            mname: name("exim.test.ex"),
            rname: name("hostmaster.exim.test.ex"),
            serial: 1430683638,
            refresh: 1200,
            retry: 120,
            expire: 604800,
            minimum: 3000,
        }
    }

    #[test]
    fn header_and_question() {
        let mut r = reply(
            Status::Found,
            RecordKind::A,
            vec![rec("q.test.ex", RecordData::A([1, 2, 3, 4].into()))],
        );
        r.authentic_data = true;
        let bytes = encode(&r).unwrap();
        // id 0; QR, opcode 0, AA 0, TC 0, RD 0 | RA 0, Z 0, AD 1, CD 0, RCODE 0.
        assert_eq!(&bytes[..12], &[0, 0, 0x80, 0x20, 0, 1, 0, 1, 0, 0, 0, 0]);
        let m = decode(&bytes);
        assert_eq!(m.message_type(), MessageType::Response);
        assert!(m.authentic_data() && !m.authoritative());
        assert_eq!(
            m.queries()[0].name(),
            &Name::from_ascii("q.test.ex.").unwrap()
        );
        assert_eq!(m.queries()[0].query_type(), RecordType::A);
        assert_eq!(m.answers()[0].ttl(), DEFAULT_TTL);
    }

    #[test]
    fn negative_replies() {
        let mut r = reply(Status::HostNotFound, RecordKind::Mx, vec![]);
        r.authority = vec![rec("test.ex", soa())];
        let m = decode(&encode(&r).unwrap());
        assert_eq!(m.response_code(), ResponseCode::NXDomain);
        assert_eq!(m.query_count(), 1);
        assert_eq!(m.answer_count(), 0);
        match m.name_servers()[0].data() {
            RData::SOA(soa) => assert_eq!(soa.minimum(), 3000),
            other => panic!("{other:?}"),
        }
        r.status = Status::NoData;
        r.authoritative = true;
        let m = decode(&encode(&r).unwrap());
        assert_eq!(m.response_code(), ResponseCode::NoError);
        assert!(m.authoritative());
        for status in [Status::TryAgain, Status::NoRecovery, Status::PassOn] {
            r.status = status;
            assert!(encode(&r).unwrap().is_empty());
        }
    }

    #[test]
    fn every_record_type_decodes() {
        let answers = vec![
            rec("a.test.ex", RecordData::A([10, 0, 0, 1].into())),
            rec("a.test.ex", RecordData::Aaaa("ff00::1".parse().unwrap())),
            rec("test.ex", RecordData::Ns(name("exim.test.ex"))),
            rec("c.test.ex", RecordData::Cname(name("a.test.ex"))),
            rec(
                "1.0.0.224.in-addr.arpa",
                RecordData::Ptr(name("ten-1.test.ex")),
            ),
            rec(
                "m.test.ex",
                RecordData::Mx {
                    preference: 5,
                    exchange: name("ten-99.TEST.EX"),
                },
            ),
            rec(
                "_smtp._tcp.s.test.ex",
                RecordData::Srv {
                    priority: 1,
                    weight: 3,
                    port: 99,
                    target: name("ten-1.test.ex"),
                },
            ),
            rec("test.ex", soa()),
            rec(
                "t.test.ex",
                RecordData::Txt(vec![b"v=spf1 -all".to_vec(), b"x".to_vec()]),
            ),
            rec("t.test.ex", RecordData::Spf(vec![b"v=spf1 +all".to_vec()])),
            rec(
                "_1225._tcp.d.test.ex",
                RecordData::Tlsa {
                    usage: 3,
                    selector: 1,
                    matching: 2,
                    data: vec![0xc6, 0x7e],
                },
            ),
            rec("dud.test.ex", RecordData::Ptr(DnsName::root())),
        ];
        let m = decode(&encode(&reply(Status::Found, RecordKind::A, answers)).unwrap());
        let a = m.answers();
        assert_eq!(a.len(), 12);
        assert_eq!(
            a[0].data(),
            &RData::A(std::net::Ipv4Addr::new(10, 0, 0, 1).into())
        );
        assert_eq!(
            a[1].data(),
            &RData::AAAA("ff00::1".parse::<std::net::Ipv6Addr>().unwrap().into())
        );
        assert_eq!(
            a[2].data(),
            &RData::NS(rdata::NS(Name::from_ascii("exim.test.ex.").unwrap()))
        );
        assert_eq!(a[3].record_type(), RecordType::CNAME);
        assert_eq!(a[4].name().to_ascii(), "1.0.0.224.in-addr.arpa.");
        match a[5].data() {
            RData::MX(mx) => {
                assert_eq!(mx.preference(), 5);
                // Case preserved on the wire.
                assert_eq!(mx.exchange().to_ascii(), "ten-99.TEST.EX.");
            }
            other => panic!("{other:?}"),
        }
        match a[6].data() {
            RData::SRV(srv) => assert_eq!((srv.priority(), srv.weight(), srv.port()), (1, 3, 99)),
            other => panic!("{other:?}"),
        }
        match a[7].data() {
            RData::SOA(soa) => {
                assert_eq!(soa.serial(), 1430683638);
                assert_eq!(soa.expire(), 604800);
                assert_eq!(soa.rname().to_ascii(), "hostmaster.exim.test.ex.");
            }
            other => panic!("{other:?}"),
        }
        match a[8].data() {
            RData::TXT(txt) => {
                let parts: Vec<&[u8]> = txt.iter().map(|s| &**s).collect();
                assert_eq!(parts, vec![&b"v=spf1 -all"[..], b"x"]);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(a[9].record_type(), RecordType::Unknown(99));
        match a[9].data() {
            RData::Unknown { rdata, .. } => assert_eq!(rdata.anything(), b"\x0bv=spf1 +all"),
            other => panic!("{other:?}"),
        }
        match a[10].data() {
            RData::TLSA(t) => {
                assert_eq!(u8::from(t.cert_usage()), 3);
                assert_eq!(u8::from(t.selector()), 1);
                assert_eq!(u8::from(t.matching()), 2);
                assert_eq!(t.cert_data(), &[0xc6, 0x7e]);
            }
            other => panic!("{other:?}"),
        }
        match a[11].data() {
            RData::PTR(p) => assert!(p.0.is_root()),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn names_are_not_compressed() {
        let answers = vec![
            rec(
                "mx.test.ex",
                RecordData::Mx {
                    preference: 1,
                    exchange: name("a.test.ex"),
                },
            ),
            rec(
                "mx.test.ex",
                RecordData::Mx {
                    preference: 2,
                    exchange: name("a.test.ex"),
                },
            ),
        ];
        let bytes = encode(&reply(Status::Found, RecordKind::Mx, answers)).unwrap();
        // No byte pair starting with the 0b11 pointer marker anywhere a name could be.
        assert!(!bytes.iter().any(|&b| b & 0xC0 == 0xC0), "{bytes:?}");
        let plain = b"\x02mx\x04test\x02ex\x00";
        assert_eq!(bytes.windows(plain.len()).filter(|w| w == plain).count(), 2);
    }

    #[test]
    fn utf8_labels_go_out_raw() {
        let answers = vec![rec(
            "xn--1xa.test.ex",
            RecordData::Mx {
                preference: 0,
                exchange: name("mx.π.test.ex"),
            },
        )];
        let bytes = encode(&reply(Status::Found, RecordKind::Mx, answers)).unwrap();
        let raw = [b"\x02mx\x02".as_slice(), "π".as_bytes(), b"\x04test"].concat();
        assert!(bytes.windows(raw.len()).any(|w| w == raw.as_slice()));
    }

    #[test]
    fn by_parts_matches_a_whole_message() {
        let mut r = reply(Status::NoData, RecordKind::Txt, vec![]);
        r.answers = vec![rec("t.test.ex", RecordData::Txt(vec![b"abc".to_vec()]))];
        r.authority = vec![rec("test.ex", soa())];
        r.authoritative = true;
        let whole = encode(&r).unwrap();
        assert_eq!(encode_by_parts(&to_message(&r).unwrap()).unwrap(), whole);
    }

    #[test]
    fn oversized_replies_are_written_whole() {
        let answers: Vec<_> = (0..2048u32)
            .map(|i| rec("manyhome.test.ex", RecordData::A((0x0afa_6800 + i).into())))
            .collect();
        let mut r = reply(Status::Found, RecordKind::A, answers);
        r.question = None;
        let bytes = encode(&r).unwrap();
        // 12 header + 2048 * (18 name + 10 fixed + 4 address), as fakens.c wrote it.
        assert_eq!(bytes.len(), 12 + 2048 * 32);
        assert_eq!(&bytes[4..6], &0u16.to_be_bytes());
        assert_eq!(&bytes[6..8], &2048u16.to_be_bytes());
        assert_eq!(&bytes[bytes.len() - 4..], &[10, 250, 111, 255]);
    }
}

//! fakens's query handling: which zone a name is in, the answer from that zone (CNAME
//! chasing, wildcards, flags), and the reply packet.
//!
//! Input: `FILE NAME TYPE\n` on the first line, then the zone file's text. FILE is the
//! zone file's name in dnszones/ (e.g. `db.test.ex`, `db.ip4.10`); a second file
//! `qualify.test.ex` is always present.
#![no_main]

use std::path::PathBuf;

use libfuzzer_sys::fuzz_target;
use mailrig_aux::dns_name::DnsName;
use mailrig_aux::fakens;
use mailrig_aux::zone::ZoneFile;
use mailrig_aux::zone_dir::{origin_for_file_name, ZoneDir, ZoneEntry};

fuzz_target!(|data: &[u8]| {
    let (head, zone_text) = match data.iter().position(|&b| b == b'\n') {
        Some(n) => (&data[..n], &data[n + 1..]),
        None => (data, &[][..]),
    };
    let mut words = head.split(|&b| b == b' ').filter(|w| !w.is_empty());
    let (Some(file), Some(name), Some(qtype)) = (words.next(), words.next(), words.next()) else {
        return;
    };
    let zones = || {
        let mut dir = ZoneDir {
            zones: Vec::new(),
            qualify: DnsName::parse(b"test.ex").ok(),
        };
        if let Some(origin) = origin_for_file_name(file) {
            let path = PathBuf::from(String::from_utf8_lossy(file).into_owned());
            dir.zones.push(ZoneEntry { path, origin });
        }
        Ok(dir)
    };
    let mut load = |entry: &ZoneEntry| ZoneFile::parse(&entry.path, &entry.origin, zone_text);
    let mut pause = |_| {};
    if let Ok(reply) = fakens::answer_from(zones, &mut load, name, qtype, &mut pause) {
        if reply.status.has_packet() {
            let _ = mailrig_aux::dns_reply::encode(&reply);
        }
    }
});

//! fakens zone files (`dnszones-src/db.*`): the zone parser of mailrig-aux.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use mailrig_aux::dns_name::DnsName;
use mailrig_aux::zone::ZoneFile;

fuzz_target!(|data: &[u8]| {
    let origin = DnsName::parse(b"test.ex").expect("a valid origin");
    if let Ok(zone) = ZoneFile::parse(Path::new("dnszones/db.test.ex"), &origin, data) {
        for r in &zone.records {
            let _ = (r.ttl(), r.data.kind().name(), r.owner.wire_len());
        }
    }
});

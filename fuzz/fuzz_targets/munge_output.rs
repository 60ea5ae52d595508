//! The project's own munge.toml applied to arbitrary output text: the munger's line
//! handling (joins, drops, sequences, renumbering, ports). The first byte picks the kind
//! of output and which of eight mixes of named munges and `sortlog` is on.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use mailrig_munge::{Context, Munger, OutputKind, RuleSet};

fn rules() -> &'static RuleSet {
    static R: OnceLock<RuleSet> = OnceLock::new();
    R.get_or_init(|| {
        RuleSet::parse(include_str!("../../munge.toml"), "munge.toml")
            .expect("the project's munge.toml loads")
    })
}

/// Compiling a munger's patterns is slow; each mix is built once and cloned per input.
fn mungers() -> &'static [Munger<'static>] {
    static M: OnceLock<Vec<Munger<'static>>> = OnceLock::new();
    M.get_or_init(|| {
        let set = rules();
        (0..8u8)
            .map(|mix| {
                let ctx = Context {
                    dir: "/work/suite".into(),
                    suite_dir: "/work/suite".into(),
                    hostname: "myhost.test.ex".into(),
                    hostipv4: Some("192.0.2.1".into()),
                    hostipv6: Some("2001:db8::1".into()),
                    caller: "tester".into(),
                    exim_user: "exim".into(),
                    testnum: 1,
                    ports: vec![(24001, 1225), (24002, 1224)],
                    exim_version: "4.96".into(),
                    ..Context::default()
                };
                let mut m = Munger::new(set, ctx);
                for (i, name) in set.named().into_iter().enumerate() {
                    if mix == 7 || (i % 7) as u8 == mix {
                        m.enable_named(&name).expect("a listed name is known");
                    }
                }
                m.set_sortlog(mix % 2 == 1);
                m
            })
            .collect()
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&mix, rest)) = data.split_first() else {
        return;
    };
    let mut m = mungers()[usize::from(mix % 8)].clone();
    let text = String::from_utf8_lossy(rest);
    let kind = OutputKind::ALL[usize::from(mix / 8) % OutputKind::ALL.len()];
    let _ = m.munge(kind, &text);
});

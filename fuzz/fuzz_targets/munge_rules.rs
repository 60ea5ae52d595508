//! munge.toml rule files: loading (TOML, regexes, placeholders, sequences, named munges),
//! then munging the text after the first NUL with the rules loaded, with every named
//! munge and flag turned on.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailrig_fuzz::split2;
use mailrig_munge::{Context, Munger, OutputKind, RuleSet};

fuzz_target!(|data: &[u8]| {
    let (rules, sample) = split2(data);
    let Ok(rules) = std::str::from_utf8(rules) else {
        return;
    };
    let Ok(set) = RuleSet::parse(rules, "fuzz/munge.toml") else {
        return;
    };
    let sample = String::from_utf8_lossy(sample);
    let ctx = Context {
        dir: "/work/suite".into(),
        suite_dir: "/work/suite".into(),
        hostname: "myhost.test.ex".into(),
        hostipv4: Some("192.0.2.1".into()),
        caller: "tester".into(),
        testnum: 1,
        ports: vec![(24001, 1225)],
        exim_version: "4.96".into(),
        ..Context::default()
    };
    let mut m = Munger::new(&set, ctx);
    for name in set.named() {
        m.enable_named(&name).expect("a listed name is known");
    }
    m.set_rmfiltertest(true);
    m.set_sortlog(true);
    for kind in OutputKind::ALL {
        let _ = m.munge(kind, &sample);
    }
    let _ = m.munge_file_name(&sample);
});

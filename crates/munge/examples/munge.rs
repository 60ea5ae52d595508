//! Debugging aid: munge files with a rules file and print the result.
//!
//! `cargo run -p mailrig-munge --example munge -- RULES KIND FILE... [--named NAME]...
//! [--hostname H] [--dir D] [--caller C] [--caller-name N] [--ipv4 A] [--sortlog] [--separator LINE]`
//! (`--kind K` sets the kind of the files after it; `--separator` prints LINE before each file).
//! Files are munged in the order given with one shared Munger, as the runner does for a test.

use std::process::ExitCode;

use anyhow::{bail, Context as _};
use mailrig_munge::{Context, Munger, OutputKind, RuleSet};

fn kind(name: &str) -> anyhow::Result<OutputKind> {
    OutputKind::ALL
        .into_iter()
        .find(|k| k.name() == name)
        .with_context(|| format!("unknown kind {name}"))
}

fn run() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let rules_path = args.next().context("usage: munge RULES KIND FILE...")?;
    let rules = RuleSet::load(rules_path.as_ref())?;
    let mut ctx = Context {
        exim_version: "4.96".into(),
        ..Default::default()
    };
    let mut named = Vec::new();
    let mut files = Vec::new();
    let mut sortlog = false;
    let mut separator: Option<String> = None;
    let mut current = OutputKind::Stdout;
    while let Some(a) = args.next() {
        let mut val = || args.next().with_context(|| format!("{a} needs a value"));
        match a.as_str() {
            "--named" => named.push(val()?),
            "--hostname" => ctx.hostname = val()?,
            "--dir" => ctx.dir = val()?,
            "--caller" => ctx.caller = val()?,
            "--caller-name" => ctx.caller_name = val()?,
            "--caller-uid" => ctx.caller_uid = val()?.parse()?,
            "--caller-gid" => ctx.caller_gid = val()?.parse()?,
            "--exim-user" => ctx.exim_user = val()?,
            "--exim-uid" => ctx.exim_uid = val()?.parse()?,
            "--exim-gid" => ctx.exim_gid = val()?.parse()?,
            "--ipv4" => ctx.hostipv4 = Some(val()?),
            "--ipv6" => ctx.hostipv6 = Some(val()?),
            "--sortlog" => sortlog = true,
            "--separator" => separator = Some(val()?),
            "--kind" => current = kind(&val()?)?,
            s if s.starts_with("--") => bail!("unknown option {s}"),
            _ => files.push((current, a.clone())),
        }
    }
    let mut m = Munger::new(&rules, ctx);
    for n in &named {
        m.enable_named(n)?;
    }
    m.set_sortlog(sortlog);
    for (k, f) in files {
        if let Some(sep) = &separator {
            println!("{sep}");
        }
        let bytes = std::fs::read(&f).with_context(|| format!("cannot read {f}"))?;
        print!("{}", m.munge(k, &String::from_utf8_lossy(&bytes)));
    }
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("munge: {e:#}");
            ExitCode::FAILURE
        }
    }
}

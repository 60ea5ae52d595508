//! After a script: gather every output of the test in the Perl runtest's order (paniclog,
//! rejectlog, mainlog, stdout, stderr, mail files, leftover msglogs), munge each with one
//! Munger (so renumbering is consistent across files), write the `-munged` files, compare
//! them with the saved files and ask what to do about differences.

use super::steps::MungeOptions;
use super::{Outcome, Run};
use crate::report::Verdict;
use crate::review::{write_pending, write_saved, Answer, Prompt};
use crate::script::Script;
use anyhow::{Context, Result};
use mailrig_munge::{Context as MungeContext, Munger, OutputKind};
use std::path::{Path, PathBuf};

fn read_lossy(p: &Path) -> Option<String> {
    std::fs::read(p)
        .ok()
        .map(|b| String::from_utf8_lossy(&b).into_owned())
}

/// One comparison to make.
struct Item {
    kind: OutputKind,
    /// The client-side file and the server-side one (joined with a SERVER line).
    actual: PathBuf,
    server: Option<PathBuf>,
    munged_name: String,
    /// The saved file, relative to the suite (e.g. `stdout/0042`).
    saved_rel: String,
}

/// The saved file to compare with: `N.<flavour>` wins when it exists.
fn saved_path(run: &Run, rel: &str) -> PathBuf {
    if let Some(f) = &run.opts.flavour {
        let p = run.facts.suite.join(format!("{rel}.{f}"));
        if p.exists() {
            return p;
        }
    }
    run.facts.suite.join(rel)
}

fn context(run: &Run, testnum: u32) -> MungeContext {
    let f = &run.facts;
    MungeContext {
        dir: run.ws.dir.display().to_string(),
        suite_dir: f.suite.display().to_string(),
        hostname: f.host.hostname.clone(),
        hostipv4: f.host.ipv4.map(|a| a.to_string()),
        hostipv6: f.host.ipv6.map(|a| a.to_string()),
        caller: f.caller.name.clone(),
        caller_name: f.caller.gecos.clone(),
        caller_uid: f.caller.uid,
        caller_gid: f.caller.gid,
        caller_group: f.caller.group.clone(),
        exim_user: f.exim_user.clone(),
        exim_uid: f.exim_uid,
        exim_group: f.exim_group.clone(),
        exim_gid: f.exim_gid,
        testnum,
        ports: run.ws.ports.mapping(),
        exim_version: run.features.version.clone(),
        port_dynamic: Some(run.ws.table.port_dynamic),
    }
}

/// Mail files under test-mail, relative, sorted.
fn mail_files(dir: &Path) -> Vec<String> {
    let root = dir.join("test-mail");
    let mut v: Vec<String> = walkdir::WalkDir::new(&root)
        .min_depth(1)
        .into_iter()
        .flatten()
        .filter(|e| e.file_type().is_file())
        .filter_map(|e| {
            e.path()
                .strip_prefix(&root)
                .ok()
                .map(|p| p.display().to_string())
        })
        .collect();
    v.sort();
    v
}

/// Saved files `SUB/N.*` of a test (mail/, msglog/), relative to the suite. A saved folder
/// stands for a folder of test-mail (`mail/0075.subdir/userx` is `test-mail/subdir/userx`):
/// its files are listed.
fn saved_with_prefix(suite: &Path, sub: &str, testnum: u32) -> Vec<String> {
    let prefix = format!("{testnum:04}.");
    let root = suite.join(sub);
    let mut v: Vec<String> = Vec::new();
    for e in std::fs::read_dir(&root).into_iter().flatten().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !name.starts_with(&prefix) {
            continue;
        }
        for f in walkdir::WalkDir::new(e.path())
            .into_iter()
            .flatten()
            .filter(|f| f.file_type().is_file())
        {
            if let Ok(rel) = f.path().strip_prefix(&root) {
                v.push(format!("{sub}/{}", rel.display()));
            }
        }
    }
    v.sort();
    v
}

pub fn check_outputs(
    run: &mut Run,
    testnum: u32,
    script: &Script,
    opts: MungeOptions,
) -> Result<Outcome> {
    let ctx = context(run, testnum);
    let rules = run.own_rules.clone();
    check_with(run, &rules, ctx, testnum, &opts, ipv6_folder(script))
}

/// Whether the script's folder requires IPv6 support (munge.toml's `ipv6test` flag: as in
/// Perl's runtest, only such tests keep "(IPv6 and IPv4)" in daemon start lines).
fn ipv6_folder(script: &Script) -> bool {
    let requires = script.path.parent().map(|d| d.join("REQUIRES"));
    let text = requires
        .and_then(|p| std::fs::read_to_string(p).ok())
        .unwrap_or_default();
    text.lines()
        .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["support", "IPv6"])
}

fn check_with(
    run: &mut Run,
    rules: &mailrig_munge::RuleSet,
    ctx: MungeContext,
    testnum: u32,
    opts: &MungeOptions,
    ipv6test: bool,
) -> Result<Outcome> {
    let mut munger = Munger::new(rules, ctx);
    munger.set_flag("ipv6test", ipv6test);
    for n in &opts.named {
        munger.enable_named(n)?;
    }
    munger.set_rmfiltertest(opts.rmfiltertest);
    munger.set_sortlog(opts.sortlog);
    let ws = run.ws.dir.clone();
    let id = format!("{testnum:04}");
    let log = |n: &str| ws.join("spool/log").join(n);
    let mut items = vec![
        Item {
            kind: OutputKind::Paniclog,
            actual: log("paniclog"),
            server: Some(log("serverpaniclog")),
            munged_name: "test-paniclog-munged".into(),
            saved_rel: format!("paniclog/{id}"),
        },
        Item {
            kind: OutputKind::Rejectlog,
            actual: log("rejectlog"),
            server: Some(log("serverrejectlog")),
            munged_name: "test-rejectlog-munged".into(),
            saved_rel: format!("rejectlog/{id}"),
        },
        Item {
            kind: OutputKind::Mainlog,
            actual: log("mainlog"),
            server: Some(log("servermainlog")),
            munged_name: "test-mainlog-munged".into(),
            saved_rel: format!("log/{id}"),
        },
    ];
    if !opts.no_stdout {
        items.push(Item {
            kind: OutputKind::Stdout,
            actual: ws.join("test-stdout"),
            server: Some(ws.join("test-stdout-server")),
            munged_name: "test-stdout-munged".into(),
            saved_rel: format!("stdout/{id}"),
        });
    }
    if !opts.no_stderr {
        items.push(Item {
            kind: OutputKind::Stderr,
            actual: ws.join("test-stderr"),
            server: Some(ws.join("test-stderr-server")),
            munged_name: "test-stderr-munged".into(),
            saved_rel: format!("stderr/{id}"),
        });
    }
    let mut failed = false;
    let mut rerun = false;
    let mut compare =
        |run: &mut Run, munger: &mut Munger, item: &Item| -> Result<Option<Outcome>> {
            let raw = read_lossy(&item.actual).unwrap_or_default();
            let raw_server = item.server.as_ref().and_then(|p| read_lossy(p));
            // As the Perl runtest: with no saved file and nothing written at all, there is
            // nothing to compare (Exim's 0282 has no stderr/0282 though its daemon's stderr
            // file exists) ...
            let nothing = raw.is_empty() && raw_server.as_deref().is_none_or(str::is_empty);
            if nothing && !saved_path(run, &item.saved_rel).exists() {
                return Ok(None);
            }
            // ... otherwise an existing server file is joined after a SERVER line, even when it
            // is empty (stderr/0022 and stderr/2020 end with that line alone).
            let mut text = munger.munge(item.kind, &raw);
            if let Some(server) = raw_server {
                text.push_str("\n******** SERVER ********\n");
                text.push_str(&munger.munge(item.kind, &server));
            }
            match compare_one(run, &item.munged_name, &text, &item.saved_rel, testnum)? {
                Compared::Same => Ok(None),
                Compared::Failed => {
                    failed = true;
                    Ok(None)
                }
                Compared::Rerun => {
                    rerun = true;
                    Ok(None)
                }
                Compared::Quit => Ok(Some(Outcome::Quit)),
            }
        };
    for item in &items {
        if let Some(o) = compare(run, &mut munger, item)? {
            return Ok(o);
        }
    }
    // Per-file outputs: each produced file against `SUB/N.<munged name>`, then every saved
    // `SUB/N.*` that nothing was produced for (compared with empty output).
    let mut sets: Vec<(OutputKind, &str, PathBuf, Vec<String>, &str)> = Vec::new();
    if !opts.no_message {
        // The `once` database of autoreply tests is binary and never compared.
        let mail: Vec<String> = mail_files(&ws)
            .into_iter()
            .filter(|r| r != "oncelog")
            .collect();
        sets.push((
            OutputKind::Mail,
            "mail",
            ws.join("test-mail"),
            mail,
            "produced no such mail file",
        ));
    }
    if !opts.no_msglog {
        let dir = ws.join("spool/msglog");
        let mut logs: Vec<String> = std::fs::read_dir(&dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.file_type().map(|t| t.is_file()).unwrap_or(false))
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        logs.sort();
        sets.push((
            OutputKind::Msglog,
            "msglog",
            dir,
            logs,
            "left no such message log",
        ));
    }
    for (kind, sub, root, files, missing_text) in sets {
        let munged_name = format!("test-{sub}-munged");
        let mut expected = saved_with_prefix(&run.facts.suite, sub, testnum);
        for rel in &files {
            let saved_rel = format!("{sub}/{id}.{}", munger.munge_file_name(rel));
            expected.retain(|e| e != &saved_rel);
            let item = Item {
                kind,
                actual: root.join(rel),
                server: None,
                munged_name: munged_name.clone(),
                saved_rel,
            };
            if let Some(o) = compare(run, &mut munger, &item)? {
                return Ok(o);
            }
        }
        for missing in expected {
            run.say(format!("\n** {missing} exists but the test {missing_text}"));
            let item = Item {
                kind,
                actual: ws.join("test-nonexistent"),
                server: None,
                munged_name: munged_name.clone(),
                saved_rel: missing,
            };
            if let Some(o) = compare(run, &mut munger, &item)? {
                return Ok(o);
            }
        }
    }
    if rerun {
        return Ok(Outcome::Retry);
    }
    Ok(Outcome::Verdict(if failed {
        Verdict::Fail
    } else {
        Verdict::Pass
    }))
}

enum Compared {
    Same,
    Failed,
    Rerun,
    Quit,
}

fn compare_one(
    run: &mut Run,
    munged_name: &str,
    text: &str,
    saved_rel: &str,
    testnum: u32,
) -> Result<Compared> {
    let munged_path = run.ws.dir.join(munged_name);
    std::fs::write(&munged_path, text)
        .with_context(|| format!("writing {}", munged_path.display()))?;
    let saved = saved_path(run, saved_rel);
    let saved_text = read_lossy(&saved);
    let saved_name = saved
        .strip_prefix(&run.facts.suite)
        .unwrap_or(&saved)
        .display()
        .to_string();
    let differs = match &saved_text {
        None => !text.is_empty(),
        Some(s) => s != text,
    };
    if differs && run.opts.save_pending {
        write_pending(&saved, text)?;
        run.say(format!(
            "** Pending: {saved_name}.new (accept with runtest --review)"
        ));
    }
    match saved_text {
        None if text.is_empty() => Ok(Compared::Same),
        None => {
            run.say(format!(
                "\n** {munged_name} is not empty and {saved_name} does not exist"
            ));
            loop {
                match run.asker.ask(Prompt::Unexpected)? {
                    Answer::Show => run.show(text),
                    Answer::Update => {
                        write_saved(&saved, text)?;
                        run.say(format!("** Updated {saved_name}"));
                        return Ok(Compared::Rerun);
                    }
                    Answer::Continue => {
                        run.summaries.failure(testnum, &saved_name);
                        return Ok(Compared::Failed);
                    }
                    _ => return Ok(Compared::Quit),
                }
            }
        }
        Some(s) if s == text => Ok(Compared::Same),
        Some(s) => {
            let shown = if run.opts.diff {
                crate::compare::unified(&saved_name, &s, munged_name, text)
            } else {
                crate::compare::cf(munged_name, text, &saved_name, &s)
            };
            run.say("");
            run.show(&shown.unwrap_or_default());
            run.say("");
            match run.asker.ask(Prompt::Difference)? {
                Answer::Update => {
                    write_saved(&saved, text)?;
                    run.say(format!("** Updated {saved_name}"));
                    Ok(Compared::Rerun)
                }
                Answer::Retry => Ok(Compared::Rerun),
                Answer::Continue => {
                    run.summaries.failure(testnum, &saved_name);
                    if crate::compare::only_reordered(text, &s) {
                        run.reordered.push(saved_name);
                    }
                    Ok(Compared::Failed)
                }
                _ => Ok(Compared::Quit),
            }
        }
    }
}

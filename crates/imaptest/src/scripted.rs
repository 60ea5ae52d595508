//! The `test=DIR|FILE` driver: find and parse the test files (a malformed one stops the run
//! with `file:line: …` before anything is sent), run each group, print failures as they
//! become final, the summary, and the JUnit/JSON files. Exit status 0 when nothing failed,
//! 1 when a group failed, 2 when the run could not be done.
use crate::args::{Config, Tls};
use crate::client::{tls::client_config, Endpoint};
use crate::mbox;
use crate::script::parse::TestFile;
use crate::script::report::{print_group, summary, totals, write_json, write_junit};
use crate::script::run::{run_group, GroupResult, Settings, Verdict};
use anyhow::{bail, Context, Result};
use imapwire::Limits;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// After this many groups in a row lose the connection at setup, the run stops (a server that
/// accepts LOGIN and then drops every session must not keep us busy forever).
pub const MAX_LOST_SETUPS: usize = 3;

/// The test files of a directory (every regular file but `*.mbox` and dot files), by name; or
/// the one file given.
pub fn test_files(path: &Path) -> Result<Vec<PathBuf>> {
    if path.is_file() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut out = Vec::new();
    for e in std::fs::read_dir(path).with_context(|| format!("test={}", path.display()))? {
        let e = e?;
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with('.')
            || name.ends_with(".mbox")
            || name.ends_with('~')
            || !e.file_type()?.is_file()
        {
            continue;
        }
        out.push(e.path());
    }
    out.sort();
    if out.is_empty() {
        bail!("test={}: no test files in it", path.display());
    }
    Ok(out)
}

/// The mbox of a test: `<name>.mbox`, else `default.mbox` beside it (none is fine).
pub fn mbox_of(test: &Path) -> Result<Vec<mbox::Message>> {
    let own = PathBuf::from(format!("{}.mbox", test.display()));
    if own.exists() {
        return mbox::read(&own);
    }
    let default = test.with_file_name("default.mbox");
    if default.exists() {
        return mbox::read(&default);
    }
    Ok(Vec::new())
}

/// Resolves where to connect.
pub async fn endpoint(cfg: &Config) -> Result<Endpoint> {
    let host = cfg.hostip.clone().unwrap_or_else(|| cfg.host.clone());
    let addr = tokio::net::lookup_host((host.as_str(), cfg.port))
        .await
        .with_context(|| format!("resolving {host}"))?
        .next()
        .with_context(|| format!("{host}: no address"))?;
    let tls = match cfg.tls {
        Tls::None => None,
        Tls::Verify => Some(client_config(false, cfg.ssl_ca_file.as_deref())?),
        Tls::AnyCert => Some(client_config(true, None)?),
    };
    let rawlog_dir = if cfg.rawlog {
        Some(std::env::current_dir().context("current directory")?)
    } else {
        None
    };
    Ok(Endpoint {
        host: cfg.host.clone(),
        addr,
        tls,
        starttls: cfg.starttls,
        timeout: Duration::from_secs(cfg.timeout.max(1)),
        limits: Limits::default(),
        rawlog_dir,
    })
}

/// Runs scripted tests; returns the exit status.
pub async fn run(cfg: &Config) -> Result<i32> {
    let path = cfg.test.as_ref().context("test= is required")?;
    if cfg.userfile.is_none() && (cfg.user.contains("%d") || cfg.user.contains("%i")) {
        bail!("user={}: no %d/%i templates with test=", cfg.user);
    }
    let users = crate::users::Users::from_config(cfg)?;
    let first = users.first();
    // parse everything first: a malformed script stops the run before anything is sent
    let mut tests: Vec<(PathBuf, TestFile)> = Vec::new();
    for f in test_files(path)? {
        let t = crate::script::parse::read(&f)?;
        tests.push((f, t));
    }
    let settings = Settings {
        endpoint: endpoint(cfg).await?,
        user: first.name,
        user2: cfg.user2.clone(),
        pass: first.pass,
        master: cfg.master.clone(),
        mech: cfg.mech.clone(),
        mailbox: cfg.box_name.clone().unwrap_or_else(|| "imaptest".into()),
        no_pipelining: cfg.no_pipelining,
    };
    let mut results: Vec<GroupResult> = Vec::new();
    let mut lost_in_a_row = 0;
    let stdout = std::io::stdout();
    for (f, t) in &tests {
        let msgs = mbox_of(f)?;
        let r = run_group(&settings, t, &msgs).await;
        {
            let mut out = stdout.lock();
            // a closed stdout (`| head`) must not stop the run or change its verdict
            let _ = print_group(&mut out, &r);
        }
        lost_in_a_row = if r.setup_lost { lost_in_a_row + 1 } else { 0 };
        let last_error = r.error.clone();
        results.push(r);
        if lost_in_a_row >= MAX_LOST_SETUPS {
            let mut out = stdout.lock();
            let _ = writeln!(
                out,
                "imaptest: giving up: the server dropped the session at setup in {MAX_LOST_SETUPS} groups in a row (last: {})",
                last_error.unwrap_or_default()
            );
            break;
        }
    }
    let t = totals(&results);
    {
        let mut out = stdout.lock();
        let _ = write!(out, "{}", summary(&t));
        let _ = out.flush();
    }
    if let Some(p) = &cfg.junit {
        write_junit(p, &results)?;
    }
    if let Some(p) = &cfg.json {
        write_json(p, &results)?;
    }
    let aborted = results.len() < tests.len();
    Ok(if aborted {
        2
    } else if results.iter().any(|r| r.verdict == Verdict::Failed) {
        1
    } else {
        0
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_files_and_their_mbox() {
        let d = tempfile::tempdir().unwrap();
        for (n, t) in [("b", "ok noop\n"), ("a", "ok noop\n"), ("a.mbox", "From x  Thu Jan  1 00:00:00 2015\nS: a\n\n"), ("default.mbox", "From x  Thu Jan  1 00:00:00 2015\nS: d\n\nFrom y  Thu Jan  1 00:00:00 2015\nS: e\n\n"), (".hidden", "")] {
            std::fs::write(d.path().join(n), t).unwrap();
        }
        let files = test_files(d.path()).unwrap();
        let names: Vec<_> = files
            .iter()
            .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["a", "b"]);
        assert_eq!(mbox_of(&files[0]).unwrap().len(), 1, "a.mbox");
        assert_eq!(mbox_of(&files[1]).unwrap().len(), 2, "default.mbox");
        assert!(test_files(&d.path().join("nope")).is_err());
    }
}

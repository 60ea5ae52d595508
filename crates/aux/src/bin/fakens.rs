//! `fakens DIR NAME TYPE`: the fake nameserver Exim's test harness asks instead of the DNS.
//! Thin wrapper: arguments, then [`mailrig_aux::fakens`] and [`mailrig_aux::dns_reply`].

use std::ffi::OsString;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use mailrig_aux::cli_util::parse_or_exit;
use mailrig_aux::{dns_reply, fakens};

const NO_RECOVERY: u8 = fakens::Status::NoRecovery as u8;

/// A fake nameserver for Exim's test suite: answers one question from the zone files in
/// DIR/dnszones and writes the DNS reply packet on stdout.
#[derive(Parser)]
#[command(
    name = "fakens",
    version,
    after_help = "\
Zone files: DIR/dnszones/db.NAME serves NAME, db.ip4.A.B serves B.A.in-addr.arpa, db.ip6.HEX
serves the nibble-reversed HEX (zero-padded to whole groups).ip6.arpa; qualify.DOMAIN qualifies
single-label names. Line prefixes: PASS ON NOT FOUND, DNSSEC, AA, NXDOMAIN, DELAY=ms, TTL=s.
Special names: manyhome.test.ex (2048 A records), [N]test.again.dns (sleep N s, TRY_AGAIN),
test.fail.dns (NO_RECOVERY).

Exit status (Exim's h_errno):
  0  found: the reply is on stdout
  1  HOST_NOT_FOUND (reply with the zone's SOA on stdout)
  2  TRY_AGAIN
  3  NO_RECOVERY, also for bad arguments, an unknown TYPE, an unreadable
     or broken zone file (the error names the file and line on stderr)
  4  NO_DATA (reply with the zone's SOA on stdout)
  5  PASS_ON: not in a fake zone, Exim asks the real resolver"
)]
struct Cli {
    /// The test-suite folder whose dnszones/ holds the zone files
    dir: PathBuf,
    /// The name to look up (a trailing dot is ignored)
    name: OsString,
    /// The record type: A, AAAA, MX, PTR, TXT, SRV, TLSA, CNAME, NS, SOA or SPF
    #[arg(value_name = "TYPE")]
    qtype: OsString,
}

fn main() -> ExitCode {
    let cli: Cli = match parse_or_exit("fakens", NO_RECOVERY) {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    match run(&cli) {
        Ok(status) => ExitCode::from(status),
        Err(e) => {
            eprintln!("fakens: {e:#}");
            ExitCode::from(NO_RECOVERY)
        }
    }
}

fn run(cli: &Cli) -> anyhow::Result<u8> {
    let mut pause = std::thread::sleep;
    let reply = fakens::answer(
        &cli.dir,
        cli.name.as_bytes(),
        cli.qtype.as_bytes(),
        &mut pause,
    )?;
    let packet =
        dns_reply::encode(&reply).map_err(|e| anyhow::anyhow!("cannot encode the reply: {e}"))?;
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(&packet)?;
    stdout.flush()?;
    Ok(reply.status.exit_code())
}

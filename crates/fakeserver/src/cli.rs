//! The program's options and what they build: a [`crate::server::ServerConfig`], a service
//! from the protocol registry, and the control API. `main` only parses and calls [`run`].

use crate::auth::Users;
use crate::faults::FaultPlan;
use crate::personality::Personality;
use crate::protocols::{self, Setup};
use crate::server::{self, ServerConfig};
use crate::tls::{Certs, Preset};
use anyhow::{Context, Result};
use clap::Parser;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Stateful fake mail servers for testing mail clients.
#[derive(Debug, Parser)]
#[command(name = "fakeserver", version)]
pub struct Args {
    /// The protocol: smtp, lmtp, pop3, nntp.
    pub protocol: String,
    /// Port to listen on (0: the OS picks; the port is printed).
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub bind: std::net::IpAddr,
    /// Offer TLS with a certificate preset: valid, expired, not-yet-valid, self-signed,
    /// wrong-host (STARTTLS/STLS unless --implicit-tls).
    #[arg(long, value_name = "PRESET")]
    pub tls: Option<String>,
    /// TLS from the first byte (SMTPS, POP3S, NNTPS).
    #[arg(long)]
    pub implicit_tls: bool,
    /// PEM certificate chain to present (with --key) instead of a preset.
    #[arg(long, value_name = "FILE", requires = "key")]
    pub cert: Option<PathBuf>,
    /// PEM private key for --cert.
    #[arg(long, value_name = "FILE", requires = "cert")]
    pub key: Option<PathBuf>,
    /// Write the CA certificate clients should trust here (PEM).
    #[arg(long, value_name = "FILE")]
    pub ca_out: Option<PathBuf>,
    /// Personality file (TOML).
    #[arg(long, value_name = "FILE")]
    pub personality: Option<PathBuf>,
    /// Users file (`user:password` lines): authentication becomes strict.
    #[arg(long, value_name = "FILE")]
    pub users: Option<PathBuf>,
    /// Preload messages: one folder per user (per newsgroup for NNTP).
    #[arg(long, value_name = "DIR")]
    pub load: Option<PathBuf>,
    /// Fault plan (TOML or JSON).
    #[arg(long, value_name = "FILE")]
    pub faults: Option<PathBuf>,
    /// Write transcripts here as connections end (JSON lines for .json/.jsonl, else text).
    #[arg(long, value_name = "FILE")]
    pub record: Option<PathBuf>,
    /// Ended connections whose transcripts stay in memory for the control API (`all`: no
    /// limit); the oldest are forgotten first, and the --record file still gets every one.
    #[arg(long, value_name = "N|all", default_value = "1000", value_parser = parse_keep)]
    pub keep_transcripts: Keep,
    /// Bytes of one connection's transcript kept (K, M, G suffixes; `none`: no limit);
    /// past it, its events are counted, not kept, in memory and in the --record file.
    #[arg(long, value_name = "BYTES|none", default_value = "64M", value_parser = parse_bytes)]
    pub transcript_limit: Keep,
    /// Bytes of ended connections' transcripts kept in memory (K, M, G; `none`: no limit);
    /// the oldest are forgotten first, the --record file still gets every one.
    #[arg(long, value_name = "BYTES|none", default_value = "256M", value_parser = parse_bytes)]
    pub keep_transcript_bytes: Keep,
    /// Debug level: 0 none, 1 received, 2 received + reply codes, 3 everything.
    #[arg(short = 'd', long = "debug", default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=3))]
    pub debug: u8,
    /// Serve the HTTP/JSON control API on this port (0: the OS picks).
    #[arg(long, value_name = "PORT")]
    pub control: Option<u16>,
    /// Close connections idle this many seconds.
    #[arg(long, default_value_t = 60)]
    pub idle_timeout: u64,
    /// Longest accepted command line, in bytes.
    #[arg(long, default_value_t = 64 * 1024)]
    pub max_line: usize,
    /// Runtime worker threads.
    #[arg(long, default_value_t = 2)]
    pub threads: usize,
}

/// A limit from the command line (`--keep-transcripts`, `--transcript-limit`); None: no limit.
#[derive(Debug, Clone, Copy)]
pub struct Keep(pub Option<usize>);

fn parse_keep(s: &str) -> Result<Keep, String> {
    if s.eq_ignore_ascii_case("all") {
        return Ok(Keep(None));
    }
    s.parse::<usize>()
        .map(|n| Keep(Some(n)))
        .map_err(|_| format!("{s:?} is neither a number of connections nor 'all'"))
}

/// `--transcript-limit`, `--keep-transcript-bytes`: bytes with an optional K, M or G (powers of 1024), or `none`.
fn parse_bytes(s: &str) -> Result<Keep, String> {
    if s.eq_ignore_ascii_case("none") {
        return Ok(Keep(None));
    }
    let (num, mult) = match s.char_indices().last() {
        Some((i, 'k' | 'K')) => (&s[..i], 1usize << 10),
        Some((i, 'm' | 'M')) => (&s[..i], 1 << 20),
        Some((i, 'g' | 'G')) => (&s[..i], 1 << 30),
        _ => (s, 1),
    };
    num.parse::<usize>()
        .ok()
        .and_then(|n| n.checked_mul(mult))
        .map(|n| Keep(Some(n)))
        .ok_or_else(|| format!("{s:?} is neither a size in bytes (K, M, G allowed) nor 'none'"))
}

/// Start everything, print the addresses, and serve until SIGINT/SIGTERM.
pub fn run(args: Args) -> Result<()> {
    let builder = protocols::find(&args.protocol).with_context(|| {
        format!(
            "unknown protocol {:?} (known: {})",
            args.protocol,
            protocols::names().join(", ")
        )
    })?;
    let personality = match &args.personality {
        Some(p) => Personality::load(p)?,
        None => Personality::default(),
    };
    let users = Arc::new(match &args.users {
        Some(p) => Users::load(p)?,
        None => Users::open(),
    });
    let setup = Setup {
        personality,
        users: users.clone(),
        load: args.load.clone(),
    };
    let service = builder(&setup)?;
    let mut config = ServerConfig::new(&args.protocol);
    config.bind = std::net::SocketAddr::new(args.bind, args.port);
    config.debug = args.debug;
    config.idle_timeout = Duration::from_secs(args.idle_timeout.max(1));
    config.max_line = args.max_line.max(64);
    config.threads = args.threads.max(1);
    config.record_file = args.record.clone();
    config.keep_transcripts = args.keep_transcripts.0;
    config.transcript_limit = args.transcript_limit.0;
    config.keep_transcript_bytes = args.keep_transcript_bytes.0;
    if let Some(f) = &args.faults {
        config.faults = FaultPlan::load(f)?;
    }
    let certs = match (&args.tls, &args.cert, &args.key) {
        (_, Some(c), Some(k)) => Some(Certs::load(c, k)?),
        (Some(p), _, _) => {
            let preset = Preset::parse(p)
                .with_context(|| format!("--tls {p}: unknown preset (known: {})", Preset::NAMES))?;
            Some(Certs::preset(preset)?)
        }
        _ if args.implicit_tls => Some(Certs::preset(Preset::Valid)?),
        _ => None,
    };
    if let Some(c) = &certs {
        config.tls = Some(c.server_config()?);
        config.implicit_tls = args.implicit_tls;
        if let Some(out) = &args.ca_out {
            std::fs::write(out, &c.ca_pem).with_context(|| format!("writing {}", out.display()))?;
        }
    }
    let server = server::start(config, service)?;
    let _control = match args.control {
        Some(port) => {
            let target = crate::control::Target::of(&server, &args.protocol, users);
            let c = crate::control::start(
                std::net::SocketAddr::new(args.bind, port),
                target,
                server.runtime(),
            )?;
            println!("control on {}", c.addr());
            Some(c)
        }
        None => None,
    };
    println!("listening on {}", server.addr());
    use std::io::Write;
    std::io::stdout().flush().ok();
    wait_for_signal()?;
    drop(server);
    Ok(())
}

fn wait_for_signal() -> Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("signal runtime")?;
    rt.block_on(async {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate()).context("SIGTERM handler")?;
        let mut hup = signal(SignalKind::hangup()).context("SIGHUP handler")?;
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
            _ = hup.recv() => {}
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_counts_parse() {
        assert_eq!(parse_bytes("64M").unwrap().0, Some(64 << 20));
        assert_eq!(parse_bytes("3k").unwrap().0, Some(3072));
        assert_eq!(parse_bytes("1G").unwrap().0, Some(1 << 30));
        assert_eq!(parse_bytes("500").unwrap().0, Some(500));
        assert_eq!(parse_bytes("None").unwrap().0, None);
        for bad in ["", "M", "12X", "-1K", "99999999999999999999G"] {
            let e = parse_bytes(bad).unwrap_err();
            assert!(e.contains(&format!("{bad:?}")), "{e}");
        }
        assert_eq!(parse_keep("all").unwrap().0, None);
        assert_eq!(parse_keep("7").unwrap().0, Some(7));
        assert!(parse_keep("x").is_err());
    }
}

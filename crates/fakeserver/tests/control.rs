//! The HTTP/JSON control API driven with curl: readiness, users (strict auth switched on at
//! run time), faults replaced at run time, messages, transcripts, reset.

mod common;
use common::smtp::*;
use std::process::Command;
use std::time::Duration;

fn curl(args: &[&str]) -> (u16, String) {
    let o = Command::new("curl")
        .args(["-s", "-w", "\n%{http_code}"])
        .args(args)
        .output()
        .unwrap();
    let s = String::from_utf8_lossy(&o.stdout).into_owned();
    let (body, code) = s.rsplit_once('\n').unwrap();
    (code.parse().unwrap_or(0), body.to_string())
}

#[test]
fn control_api_drives_a_running_server() {
    let users = std::sync::Arc::new(fakeserver::auth::Users::open());
    let svc = fakeserver::smtp::SmtpService::new(false, Default::default(), users.clone());
    let server = fakeserver::server::start(
        fakeserver::server::ServerConfig::new("smtp"),
        std::sync::Arc::new(svc.clone()),
    )
    .unwrap();
    let target = fakeserver::control::Target::of(&server, "smtp", users.clone());
    let ctl = fakeserver::control::start("127.0.0.1:0".parse().unwrap(), target, server.runtime())
        .unwrap();
    let url = |p: &str| format!("http://{}{p}", ctl.addr());

    let (code, body) = curl(&[&url("/api/ready")]);
    assert_eq!(code, 200);
    assert!(
        body.contains("\"ready\":true") && body.contains(&server.addr().to_string()),
        "{body}"
    );

    // Users: adding one makes authentication strict.
    let (code, _) = curl(&[
        "-X",
        "POST",
        "-H",
        "content-type: application/json",
        "-d",
        r#"{"user":"zed","password":"pw"}"#,
        &url("/api/users"),
    ]);
    assert_eq!(code, 201);
    assert!(users.is_strict() && users.check("zed", "pw") && !users.check("other", "pw"));
    let (code, body) = curl(&[
        "-X",
        "POST",
        "-H",
        "content-type: application/json",
        "-d",
        "{nonsense",
        &url("/api/users"),
    ]);
    assert_eq!(code, 400, "{body}");

    // Faults: a bad plan is refused with the reason, a good one applies at once.
    let (code, body) = curl(&[
        "-X",
        "PUT",
        "-d",
        "[[fault]]\non = \"data\"\n",
        &url("/api/faults"),
    ]);
    assert_eq!(code, 400);
    assert!(body.contains("after_bytes"), "{body}");
    let (code, _) = curl(&[
        "-X",
        "PUT",
        "-d",
        r#"{"fault":[{"verb":"MAIL","reply":"421 4.3.2 go away","action":"reply"}]}"#,
        &url("/api/faults"),
    ]);
    assert_eq!(code, 200);
    let o = Command::new("swaks")
        .args(["--server", &server.addr().to_string(), "--to", "x@y.test"])
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stdout).contains("421 4.3.2 go away"));
    server
        .wait_for_connections_closed(1, Duration::from_secs(10))
        .unwrap();
    let (_, t) = curl(&[&url("/api/transcripts.txt")]);
    assert!(
        t.contains("fault: reply replaced\nus: 421 4.3.2 go away"),
        "{t}"
    );

    // Messages (waiting for them without polling), then reset.
    let (code, _) = curl(&[&url("/api/messages/wait?n=1&timeout=0.2")]);
    assert_eq!(code, 408);
    curl(&["-X", "PUT", "-d", "seed = 1\n", &url("/api/faults")]);
    let waiter = {
        let u = url("/api/messages/wait?n=1&timeout=30");
        std::thread::spawn(move || curl(&[&u]))
    };
    let o = Command::new("swaks")
        .args(["--server", &server.addr().to_string(), "--to", "x@y.test"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stdout));
    let (code, waited) = waiter.join().unwrap();
    assert_eq!(code, 200);
    assert!(waited.contains("x@y.test"), "{waited}");
    server
        .wait_for_connections_closed(2, Duration::from_secs(10))
        .unwrap();
    let (_, m) = curl(&[&url("/api/messages")]);
    let v: serde_json::Value = serde_json::from_str(&m).unwrap();
    assert_eq!(v[0]["rcpt_to"][0], "x@y.test");
    let (_, j) = curl(&[&url("/api/transcripts")]);
    let tj: serde_json::Value = serde_json::from_str(&j).unwrap();
    assert_eq!(tj.as_array().unwrap().len(), 2);
    curl(&["-X", "POST", &url("/api/reset")]);
    assert_eq!(svc.daemon().count(), 0);
    assert!(server.recorder().transcripts().is_empty());
}

#[test]
fn program_reports_bad_files_clearly() {
    let bin = env!("CARGO_BIN_EXE_fakeserver");
    let d = tempfile::tempdir().unwrap();
    let bad = d.path().join("p.toml");
    std::fs::write(&bad, "[smtp]\ngreting = \"x\"\n").unwrap();
    for (args, want) in [
        (
            vec!["smtp", "--personality", bad.to_str().unwrap()],
            "p.toml",
        ),
        (
            vec!["smtp", "--faults", "/nonexistent/f.toml"],
            "/nonexistent/f.toml",
        ),
        (vec!["smtp", "--users", "/nonexistent/u"], "/nonexistent/u"),
        (vec!["gopher"], "unknown protocol"),
        (vec!["smtp", "--tls", "bogus"], "unknown preset"),
    ] {
        let o = Command::new(bin).args(&args).output().unwrap();
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        let e = String::from_utf8_lossy(&o.stderr);
        assert!(e.contains(want), "{args:?}: {e}");
    }
}

/// The address the program prints on its first line (`listening on ADDR`).
fn listening_on(child: &mut std::process::Child) -> String {
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    line.trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("not a listening line: {line:?}"))
        .to_string()
}

/// The program with `args`, started; its address once it listens.
fn program(args: &[&std::ffi::OsStr]) -> (std::process::Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_fakeserver"))
        .args(args)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let addr = listening_on(&mut child);
    (child, addr)
}

/// SIGTERM to the program; its exit status once it has ended.
fn stop(mut child: std::process::Child) -> std::process::ExitStatus {
    let _ = Command::new("kill").arg(child.id().to_string()).status();
    child.wait().unwrap()
}

/// swaks sending one message to x@y.test through the server at `addr`.
fn swaks_to(addr: &str, extra: &[&str]) -> std::process::Output {
    let mut c = Command::new("swaks");
    c.args(["--server", addr, "--to", "x@y.test"]).args(extra);
    run(&mut c, b"", Duration::from_secs(30))
}

#[test]
fn program_debug_level_two_echoes_commands_and_reply_codes_only() {
    let bin = env!("CARGO_BIN_EXE_fakeserver");
    let d = tempfile::tempdir().unwrap();
    let err = std::fs::File::create(d.path().join("err")).unwrap();
    let mut child = Command::new(bin)
        .args(["smtp", "-d", "2"])
        .stdout(std::process::Stdio::piped())
        .stderr(err)
        .spawn()
        .unwrap();
    let addr = listening_on(&mut child);
    let o = swaks_to(&addr, &["--body", "SECRET BODY"]);
    assert!(o.status.success(), "{}", text(&o));
    std::thread::sleep(Duration::from_millis(300));
    stop(child);
    let e = std::fs::read_to_string(d.path().join("err")).unwrap();
    assert!(e.contains("fakeserver[1] them: RCPT TO:<x@y.test>"), "{e}");
    assert!(
        e.contains("fakeserver[1] us: 354\n") && !e.contains("End data with"),
        "{e}"
    );
    assert!(!e.contains("SECRET BODY"), "level 2 shows no data: {e}");
}

#[test]
fn program_serves_tls_and_stops_on_sigterm() {
    let bin = env!("CARGO_BIN_EXE_fakeserver");
    let d = tempfile::tempdir().unwrap();
    let ca = d.path().join("ca.pem");
    let rec = d.path().join("rec.jsonl");
    let mut child = Command::new(bin)
        .args([
            "smtp",
            "--tls",
            "valid",
            "--ca-out",
            ca.to_str().unwrap(),
            "--record",
            rec.to_str().unwrap(),
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let addr = listening_on(&mut child);
    let o = swaks_to(
        &addr,
        &[
            "-tls",
            "--tls-verify",
            "--tls-ca-path",
            ca.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    let st = stop(child);
    assert!(st.success(), "{st:?}");
    let j = std::fs::read_to_string(&rec).unwrap();
    let t: fakeserver::record::Transcript =
        serde_json::from_str(j.lines().next().unwrap()).unwrap();
    assert!(
        t.closed
            && t.events
                .iter()
                .any(|e| e.dir == fakeserver::record::Dir::Tls)
    );
}

#[test]
fn program_bounds_one_connections_transcript_and_says_so() {
    let d = tempfile::tempdir().unwrap();
    let rec = d.path().join("rec.txt");
    let (child, addr) = program(&[
        "smtp".as_ref(),
        "--transcript-limit".as_ref(),
        "120".as_ref(),
        "--record".as_ref(),
        rec.as_os_str(),
    ]);
    let body = "a body longer than what is left of the limit";
    let sent = swaks_to(&addr, &["--body", body]);
    assert!(sent.status.success(), "{}", text(&sent));
    assert!(stop(child).success());
    let t = std::fs::read_to_string(&rec).unwrap();
    assert!(
        t.contains("note: transcript limit of 120 bytes reached"),
        "{t}"
    );
    assert!(t.contains("them: EHLO"), "the first events are kept: {t}");
    assert!(!t.contains("them: QUIT"), "later ones are not: {t}");
    let unkept = t
        .lines()
        .find_map(|l| l.strip_prefix("== ")?.strip_suffix(" more events not kept"))
        .unwrap_or_else(|| panic!("no count of unkept events: {t}"));
    assert!(unkept.parse::<u64>().unwrap() >= 2, "{t}");
    assert!(t.ends_with("== closed\n"), "{t}");
}

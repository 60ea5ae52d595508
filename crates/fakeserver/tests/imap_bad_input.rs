//! Hostile IMAP clients against the `fakeserver imap` program, with its memory watched from
//! /proc: announced literals (just under the limit, never sent; over it) must not be
//! allocated up front; a client that pipelines thousands of big FETCHes and never reads is
//! cut off after the idle timeout without the server buffering its replies; thousands of
//! mixed pipelined commands (literals included) are answered in order; garbage between
//! them gets tagged or untagged BAD, never a panic or a hang (the server keeps serving); a
//! decompression bomb after COMPRESS DEFLATE is inflated a slice at a time and refused.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `fakeserver imap`, killed (by pid) when dropped.
struct Program {
    child: Child,
    port: u16,
    _load: tempfile::TempDir,
}

impl Drop for Program {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Program {
    /// `fakeserver imap` with alice's INBOX holding `big` messages of about 100 KB.
    fn start(big: usize, idle: u64) -> Program {
        let load = tempfile::tempdir().unwrap();
        let inbox = load.path().join("alice/INBOX");
        std::fs::create_dir_all(&inbox).unwrap();
        for i in 0..big {
            let body = format!("line {i} of a long message body, repeated\n").repeat(2500);
            std::fs::write(
                inbox.join(format!("{i}.eml")),
                format!("Subject: big {i}\n\n{body}"),
            )
            .unwrap();
        }
        let mut child = Command::new(env!("CARGO_BIN_EXE_fakeserver"))
            .args(["imap", "--port", "0", "--idle-timeout", &idle.to_string()])
            .arg("--load")
            .arg(load.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .trim()
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no port in {line:?}"));
        Program {
            child,
            port,
            _load: load,
        }
    }

    /// A `/proc/PID/status` field in KiB (VmRSS, VmData).
    fn kib(&self, field: &str) -> u64 {
        let s = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        s.lines()
            .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap()
    }

    fn alive(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// A connection logged in as alice with INBOX selected.
    fn session(&self) -> Session {
        let s = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let mut se = Session {
            r: BufReader::new(s.try_clone().unwrap()),
            w: s,
        };
        assert!(se.line().starts_with("* OK"));
        se.cmd("l", "LOGIN alice x");
        se.cmd("s", "SELECT INBOX");
        se
    }
}

struct Session {
    r: BufReader<TcpStream>,
    w: TcpStream,
}

impl Session {
    fn line(&mut self) -> String {
        let mut l = String::new();
        self.r.read_line(&mut l).unwrap_or(0);
        l
    }
    /// Send a command, read to its tagged reply; everything read is returned.
    fn cmd(&mut self, tag: &str, c: &str) -> String {
        self.w
            .write_all(format!("{tag} {c}\r\n").as_bytes())
            .unwrap();
        self.until(tag)
    }
    fn until(&mut self, tag: &str) -> String {
        let mut all = String::new();
        loop {
            let l = self.line();
            if l.is_empty() {
                return all;
            }
            all.push_str(&l);
            if l.starts_with(&format!("{tag} ")) {
                return all;
            }
        }
    }
}

#[test]
fn announced_literals_are_not_allocated_up_front() {
    let mut p = Program::start(0, 30);
    let data0 = p.kib("VmData");
    let rss0 = p.kib("VmRSS");
    // 20 sessions each announce 60 MB (under the 64 MiB limit), get "+", send 10 bytes.
    let mut open = Vec::new();
    for i in 0..20 {
        let mut s = p.session();
        s.w.write_all(format!("a{i} APPEND INBOX {{60000000}}\r\n").as_bytes())
            .unwrap();
        assert!(
            s.line().starts_with("+ "),
            "continuation for a literal under the limit"
        );
        s.w.write_all(b"0123456789").unwrap();
        open.push(s);
    }
    // And 20 announce 4 GB (over it): a tagged NO [TOOBIG], the session goes on.
    for i in 0..20 {
        let mut s = p.session();
        let r = s.cmd(&format!("b{i}"), "APPEND INBOX {4000000000}");
        assert!(r.contains(&format!("b{i} NO [TOOBIG]")), "{r}");
        assert!(s.cmd("n", "NOOP").contains("n OK"));
        open.push(s);
    }
    std::thread::sleep(Duration::from_millis(500));
    let grew_data = p.kib("VmData").saturating_sub(data0);
    let grew_rss = p.kib("VmRSS").saturating_sub(rss0);
    // Up-front allocation would be 1.2 GB of address space; 40 sessions cost a few MB.
    assert!(
        grew_data < 200 * 1024,
        "VmData grew by {grew_data} KiB (RSS {grew_rss} KiB)"
    );
    assert!(grew_rss < 50 * 1024, "VmRSS grew by {grew_rss} KiB");
    // The unfinished literals are abandoned with their connections; nothing was stored.
    drop(open);
    let mut s = p.session();
    let st = s.cmd("x", "STATUS INBOX (MESSAGES)");
    assert!(st.contains("(MESSAGES 0)"), "{st}");
    assert!(p.alive());
}

#[test]
fn a_client_that_never_reads_is_cut_off_with_bounded_memory() {
    let mut p = Program::start(10, 3);
    let rss0 = p.kib("VmRSS");
    let mut s = p.session();
    // 20 000 FETCHes of 100 KB messages: 2 GB of replies nobody reads. The commands fit in
    // the socket buffers; the replies do not.
    let batch: String = (0..20_000)
        .map(|i| format!("f{i} FETCH {} BODY.PEEK[]\r\n", i % 10 + 1))
        .collect();
    s.w.set_write_timeout(Some(Duration::from_secs(5))).unwrap();
    s.w.write_all(batch.as_bytes()).unwrap();
    // Keep talking without reading until the server hangs up (a write fails).
    let t = Instant::now();
    let mut peak = 0;
    let mut cut = false;
    while t.elapsed() < Duration::from_secs(40) {
        peak = peak.max(p.kib("VmRSS"));
        if s.w.write_all(b"n NOOP\r\n").is_err() {
            cut = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(cut, "the server never closed the connection");
    assert!(
        t.elapsed() < Duration::from_secs(30),
        "cut off after {:?}",
        t.elapsed()
    );
    // About 10 MB here: socket buffers' worth of replies, recorded in the transcript. Before
    // replies were written as they piled up, the server queued ~64 MB for this client.
    let grew = peak.saturating_sub(rss0);
    assert!(
        grew < 32 * 1024,
        "RSS grew by {grew} KiB while the client did not read"
    );
    drop(s);
    let mut other = p.session();
    assert!(other.cmd("n", "NOOP").contains("n OK"));
    assert!(p.alive());
}

#[test]
fn thousands_of_mixed_pipelined_commands_with_literals_and_garbage() {
    let mut p = Program::start(3, 30);
    let mut s = p.session();
    let mut batch = Vec::new();
    let mut want = Vec::new();
    for i in 0..4000 {
        let tag = format!("t{i}");
        match i % 8 {
            0 => batch
                .extend(format!("{tag} APPEND INBOX {{14+}}\r\nSubject: x\r\n\r\n\r\n").bytes()),
            1 => batch.extend(format!("{tag} STORE 1:3 +FLAGS (\\Flagged)\r\n").bytes()),
            2 => batch.extend(format!("{tag} SEARCH SUBJECT {{3+}}\r\nbig\r\n").bytes()),
            3 => batch.extend(format!("{tag} FETCH 2 (UID FLAGS BODY.PEEK[HEADER])\r\n").bytes()),
            4 => batch.extend(format!("{tag} UID FETCH 1:* (FLAGS (((\r\n").bytes()),
            5 => batch.extend(format!("{tag} \x01\x02\x7f \u{fffd} NOOP\r\n").bytes()),
            6 => batch.extend(format!("{tag} STATUS INBOX (MESSAGES UIDNEXT)\r\n").bytes()),
            _ => batch.extend(format!("{tag} NOOP\r\n").bytes()),
        }
        want.push((tag, if matches!(i % 8, 4 | 5) { "BAD" } else { "OK" }));
    }
    let w = s.w.try_clone().unwrap();
    let writer = std::thread::spawn(move || {
        let mut w = w;
        w.write_all(&batch).unwrap();
    });
    let mut searched = 0;
    for (tag, status) in &want {
        let r = s.until(tag);
        let last = r.lines().last().unwrap_or_default();
        assert!(
            last.starts_with(&format!("{tag} {status}")),
            "{tag}: wanted {status}, got {last:?} (after {})",
            &r[r.len().saturating_sub(300)..]
        );
        if r.contains("* SEARCH 1 2 3") {
            searched += 1;
        }
    }
    writer.join().unwrap();
    assert_eq!(searched, 500, "every SEARCH found the three big messages");
    let st = s.cmd("z", "STATUS INBOX (MESSAGES)");
    assert!(st.contains("(MESSAGES 503)"), "{st}");
    assert!(p.alive());
}

/// After COMPRESS DEFLATE, a line of 200 MB that compresses to a few hundred KB (a
/// decompression bomb): the server inflates it a slice at a time, refuses the line as too
/// long, stays small, and answers the next command, compressed.
#[test]
fn a_compressed_bomb_is_refused_without_being_inflated_whole() {
    use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress};
    let mut p = Program::start(0, 30);
    let rss0 = p.kib("VmRSS");
    let mut s = p.session();
    assert!(s.cmd("z", "COMPRESS DEFLATE").starts_with("z OK"));
    let mut comp = Compress::new(Compression::fast(), false);
    let mut send = |w: &mut TcpStream, plain: &[u8], flush: FlushCompress| {
        let mut out = Vec::with_capacity(plain.len() / 100 + 1024);
        let mut input = plain;
        loop {
            let before = comp.total_in();
            comp.compress_vec(input, &mut out, flush).unwrap();
            input = &input[(comp.total_in() - before) as usize..];
            if input.is_empty() && out.len() < out.capacity() {
                break;
            }
            out.reserve(64 * 1024);
        }
        w.write_all(&out).unwrap();
    };
    send(&mut s.w, b"a1 NOOP ", FlushCompress::None);
    let chunk = vec![b'A'; 1 << 20];
    for _ in 0..200 {
        send(&mut s.w, &chunk, FlushCompress::None);
    }
    send(&mut s.w, b"\r\na2 NOOP\r\n", FlushCompress::Sync);
    // The replies come compressed: inflate until a2's.
    let mut inflate = Decompress::new(false);
    let (mut wire, mut plain) = (Vec::new(), Vec::new());
    let start = Instant::now();
    while !String::from_utf8_lossy(&plain).contains("a2 OK") {
        assert!(start.elapsed() < Duration::from_secs(60), "{plain:?}");
        let mut buf = [0u8; 4096];
        let n = std::io::Read::read(s.r.get_mut(), &mut buf).unwrap();
        assert!(n > 0, "closed; got {:?}", String::from_utf8_lossy(&plain));
        wire.extend_from_slice(&buf[..n]);
        let mut out = Vec::with_capacity(64 * 1024);
        let before = inflate.total_in();
        inflate
            .decompress_vec(&wire, &mut out, FlushDecompress::Sync)
            .unwrap();
        wire.drain(..(inflate.total_in() - before) as usize);
        plain.extend_from_slice(&out);
    }
    let text = String::from_utf8_lossy(&plain);
    assert!(text.starts_with("* BAD Line too long\r\n"), "{text}");
    assert!(p.alive());
    let grown = p.kib("VmRSS").saturating_sub(rss0);
    assert!(grown < 40 * 1024, "the server grew by {grown} KiB");
}

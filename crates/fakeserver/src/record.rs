//! Transcripts: every connection's two sides, as Mozilla's fakeserver keeps them (`them`: what
//! the client sent, `us`: what we replied) plus data blocks, TLS start, faults and notes.
//! Secrets are masked by the handler before they get here ([`crate::handler::Handler::mask`]).
//!
//! The [`Recorder`] is shared by all connections of a server: readable from the API at any
//! time, waitable (`perform_test`: wait for a command or the end of a connection), written
//! to a file as each connection ends (JSON lines, or a text transcript fit for a
//! saved-output comparison: no timestamps, no ports), and echoed to stderr at debug levels
//! 1–3 as the seed defines them (1: received, 2: received + first token of each reply,
//! 3: everything, data included).
//!
//! Memory is bounded when asked ([`Recorder::keep_closed`]): only the newest N ended
//! connections stay readable (the record file has them all); open ones are always kept.
//! Ended connections are also forgotten, oldest first, once their transcripts hold more than
//! a byte budget ([`Recorder::keep_closed_bytes`]).
//! One connection's transcript is bounded too ([`Recorder::limit_per_connection`]): a
//! client that stays connected for hours (a stress run with `logout=0`) would otherwise
//! grow it without end. Past the limit its events are counted, not kept, and the
//! transcript says so (a note at the point, the count in [`Transcript::unkept`]).

use serde::{Deserialize, Serialize};
use std::io::Write;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Which side or kind of event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dir {
    /// A line the client sent (command or SASL response).
    Them,
    /// A line we sent.
    Us,
    /// A block of client data (DATA, BDAT chunk, POST, literal).
    Data,
    /// TLS handshake done (text: protocol version and cipher), or failed.
    Tls,
    /// A fault applied by the schedule.
    Fault,
    /// Anything else worth knowing (line too long, idle timeout, peer closed...).
    Note,
}

impl Dir {
    fn label(self) -> &'static str {
        match self {
            Dir::Them => "them",
            Dir::Us => "us",
            Dir::Data => "data",
            Dir::Tls => "tls",
            Dir::Fault => "fault",
            Dir::Note => "note",
        }
    }
}

/// One recorded event. `text` is the bytes as UTF-8 (lossy); when the bytes were not valid
/// UTF-8, `base64` keeps them exactly, so nothing a client sent is lost.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    pub dir: Dir,
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base64: Option<String>,
}

impl Event {
    pub fn new(dir: Dir, bytes: &[u8]) -> Self {
        match std::str::from_utf8(bytes) {
            Ok(s) => Event {
                dir,
                text: s.to_string(),
                base64: None,
            },
            Err(_) => {
                use base64::Engine;
                Event {
                    dir,
                    text: String::from_utf8_lossy(bytes).into_owned(),
                    base64: Some(base64::engine::general_purpose::STANDARD.encode(bytes)),
                }
            }
        }
    }
    /// The exact bytes of the event.
    pub fn bytes(&self) -> Vec<u8> {
        use base64::Engine;
        match &self.base64 {
            Some(b) => base64::engine::general_purpose::STANDARD
                .decode(b)
                .unwrap_or_else(|_| self.text.clone().into_bytes()),
            None => self.text.clone().into_bytes(),
        }
    }
}

/// One connection's transcript.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transcript {
    /// 1, 2, 3... in accept order, per server (restarted by [`Recorder::reset`] when no
    /// connection is open).
    pub conn: u64,
    pub protocol: String,
    pub peer: String,
    pub events: Vec<Event>,
    pub closed: bool,
    /// Events past the per-connection limit: counted, not kept.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub unkept: u64,
    /// Bytes of the events kept (what the limit is measured on).
    #[serde(skip)]
    size: usize,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl Transcript {
    /// Adds an event, or counts it when it would take the transcript past `limit` bytes.
    fn record(&mut self, dir: Dir, bytes: &[u8], limit: Option<usize>) {
        match limit {
            Some(max) if self.unkept > 0 || self.size + bytes.len() > max => {
                if self.unkept == 0 {
                    let note = format!(
                        "transcript limit of {max} bytes reached: later events of this connection are counted, not kept"
                    );
                    self.events.push(Event::new(Dir::Note, note.as_bytes()));
                }
                self.unkept += 1;
            }
            _ => {
                self.size += bytes.len();
                self.events.push(Event::new(dir, bytes));
            }
        }
    }

    /// The client's lines (`them`), as the seed's `playTransaction().them`.
    pub fn them(&self) -> Vec<String> {
        self.of(Dir::Them)
    }
    /// Our lines (`us`).
    pub fn us(&self) -> Vec<String> {
        self.of(Dir::Us)
    }
    pub fn of(&self, dir: Dir) -> Vec<String> {
        self.events
            .iter()
            .filter(|e| e.dir == dir)
            .map(|e| e.text.clone())
            .collect()
    }

    /// The text form: `them: …`/`us: …` lines, data blocks line by line as `data: …`, no
    /// peer address, no time, so it can be compared with a saved file.
    pub fn to_text(&self) -> String {
        let mut s = format!("== connection {} ({})\n", self.conn, self.protocol);
        for e in &self.events {
            let label = e.dir.label();
            if e.dir == Dir::Data {
                let body = e.text.strip_suffix("\r\n").unwrap_or(&e.text);
                for line in body.split("\r\n") {
                    s.push_str(&format!("{label}: {}\n", escape(line)));
                }
            } else {
                s.push_str(&format!("{label}: {}\n", escape(&e.text)));
            }
        }
        if self.unkept > 0 {
            s.push_str(&format!("== {} more events not kept\n", self.unkept));
        }
        if self.closed {
            s.push_str("== closed\n");
        }
        s
    }
}

/// Control characters other than tab are shown as `\xNN`, so a transcript stays one line per
/// event and NULs are visible.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if (c.is_control() && c != '\t') || c == '\u{fffd}' {
            if c == '\u{fffd}' {
                out.push_str("\\ufffd");
            } else {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Where finished transcripts are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileFormat {
    JsonLines,
    Text,
}

impl FileFormat {
    /// `.json`/`.jsonl` → JSON lines, anything else → text.
    pub fn for_path(path: &std::path::Path) -> Self {
        match path.extension().and_then(|e| e.to_str()) {
            Some("json") | Some("jsonl") => FileFormat::JsonLines,
            _ => FileFormat::Text,
        }
    }
}

#[derive(Default)]
struct State {
    conns: Vec<Transcript>,
    /// conn number of conns[0] minus one (after a reset, numbering restarts at 1).
    next: u64,
    file: Option<(std::fs::File, FileFormat)>,
    file_error: Option<String>,
    /// Threads in [`Recorder::wait_until`]: only then is the condition variable signalled
    /// (a signal is a system call; recording must stay cheap under load).
    waiters: usize,
    /// At most this many ended connections are kept in memory (None: all).
    keep_closed: Option<usize>,
    /// Ended connections in `conns`.
    closed: usize,
    /// Ended connections forgotten to keep within `keep_closed`.
    forgotten: u64,
    /// At most this many bytes of events per connection (None: no limit).
    per_connection: Option<usize>,
    /// Ended connections are forgotten, oldest first, while theirs exceed this (None: no limit).
    closed_budget: Option<usize>,
    /// Bytes of events of the ended connections in `conns`.
    closed_bytes: usize,
}

struct Inner {
    state: Mutex<State>,
    cond: Condvar,
    debug: std::sync::atomic::AtomicU8,
}

/// The transcripts of one server (cheap to clone; all clones share).
#[derive(Clone)]
pub struct Recorder {
    inner: Arc<Inner>,
}

impl Default for Recorder {
    fn default() -> Self {
        Self::new(0)
    }
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder").finish_non_exhaustive()
    }
}

impl Recorder {
    pub fn new(debug: u8) -> Self {
        Recorder {
            inner: Arc::new(Inner {
                state: Mutex::new(State::default()),
                cond: Condvar::new(),
                debug: std::sync::atomic::AtomicU8::new(debug),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.inner.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Write each transcript to `path` when its connection ends (truncates the file).
    pub fn write_to(&self, path: &std::path::Path) -> anyhow::Result<()> {
        use anyhow::Context;
        let f = std::fs::File::create(path)
            .with_context(|| format!("creating record file {}", path.display()))?;
        self.lock().file = Some((f, FileFormat::for_path(path)));
        Ok(())
    }

    pub fn set_debug(&self, level: u8) {
        self.inner
            .debug
            .store(level, std::sync::atomic::Ordering::Relaxed);
    }

    pub fn debug(&self) -> u8 {
        self.inner.debug.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// A new connection; returns its number.
    pub fn open(&self, protocol: &str, peer: &str) -> u64 {
        let mut st = self.lock();
        st.next += 1;
        let conn = st.next;
        st.conns.push(Transcript {
            conn,
            protocol: protocol.to_string(),
            peer: peer.to_string(),
            events: Vec::new(),
            closed: false,
            unkept: 0,
            size: 0,
        });
        self.signal(st);
        conn
    }

    /// Record an event of connection `conn`.
    pub fn push(&self, conn: u64, dir: Dir, bytes: &[u8]) {
        let level = self.debug();
        if level > 0 {
            echo(level, conn, dir, bytes);
        }
        let mut st = self.lock();
        let limit = st.per_connection;
        if let Some(t) = find(&mut st, conn) {
            t.record(dir, bytes, limit);
        }
        self.signal(st);
    }

    /// Keep at most `bytes` of events per connection (None: every event). Past it, the
    /// transcript gets one note and then only counts what it does not keep.
    pub fn limit_per_connection(&self, bytes: Option<usize>) {
        self.lock().per_connection = bytes;
    }

    /// The connection ended: mark it and write it to the record file.
    pub fn close(&self, conn: u64) {
        let mut st = self.lock();
        let mut out = None;
        if let Some(t) = find(&mut st, conn) {
            if !t.closed {
                t.closed = true;
                out = Some(t.clone());
            }
        }
        if let Some(t) = &out {
            st.closed += 1;
            st.closed_bytes += t.size;
            trim(&mut st, Some(conn));
        }
        if let (Some(t), Some((file, fmt))) = (out, st.file.as_mut()) {
            let res = match fmt {
                FileFormat::Text => file.write_all(t.to_text().as_bytes()),
                FileFormat::JsonLines => serde_json::to_string(&t)
                    .map_err(std::io::Error::other)
                    .and_then(|j| writeln!(file, "{j}")),
            }
            .and_then(|_| file.flush());
            if let Err(e) = res {
                st.file_error = Some(e.to_string());
            }
        }
        self.signal(st);
    }

    fn signal(&self, st: MutexGuard<'_, State>) {
        let waiting = st.waiters > 0;
        drop(st);
        if waiting {
            self.inner.cond.notify_all();
        }
    }

    /// Keep at most `n` ended connections in memory (None: every one). When more have ended,
    /// the oldest are forgotten in batches (a quarter of `n` at a time), so recording stays
    /// cheap; [`Recorder::forgotten`] counts them.
    pub fn keep_closed(&self, n: Option<usize>) {
        let mut st = self.lock();
        st.keep_closed = n;
        trim(&mut st, None);
    }

    /// Keep ended connections while their events total at most `bytes` (None: no limit);
    /// the oldest are forgotten first, the newest ended one always stays.
    pub fn keep_closed_bytes(&self, bytes: Option<usize>) {
        let mut st = self.lock();
        st.closed_budget = bytes;
        trim(&mut st, None);
    }

    /// How many ended connections were forgotten to keep within [`Recorder::keep_closed`]
    /// and [`Recorder::keep_closed_bytes`].
    pub fn forgotten(&self) -> u64 {
        self.lock().forgotten
    }

    /// All transcripts so far (open connections included), in connection order.
    pub fn transcripts(&self) -> Vec<Transcript> {
        self.lock().conns.clone()
    }

    /// One connection's transcript.
    pub fn transcript(&self, conn: u64) -> Option<Transcript> {
        let mut st = self.lock();
        find(&mut st, conn).cloned()
    }

    /// The text form of every transcript, concatenated.
    pub fn to_text(&self) -> String {
        self.lock().conns.iter().map(Transcript::to_text).collect()
    }

    /// The last error writing the record file, if any.
    pub fn file_error(&self) -> Option<String> {
        self.lock().file_error.clone()
    }

    /// Forget every transcript (open connections keep recording into fresh ones).
    pub fn reset(&self) {
        let mut st = self.lock();
        for t in st.conns.iter_mut() {
            t.events.clear();
            t.unkept = 0;
            t.size = 0;
        }
        st.conns.retain(|t| !t.closed);
        st.closed = 0;
        st.closed_bytes = 0;
        if st.conns.is_empty() {
            // Numbering restarts, so each test's transcripts read the same.
            st.next = 0;
        }
    }

    /// Wait until `pred` holds for the transcripts, or time out. Returns whether it held.
    pub fn wait_until(
        &self,
        timeout: Duration,
        mut pred: impl FnMut(&[Transcript]) -> bool,
    ) -> bool {
        let deadline = Instant::now() + timeout;
        let mut st = self.lock();
        loop {
            if pred(&st.conns) {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            st.waiters += 1;
            st = match self.inner.cond.wait_timeout(st, deadline - now) {
                Ok((g, _)) => g,
                Err(e) => e.into_inner().0,
            };
            st.waiters -= 1;
        }
    }

    /// `perform_test(watchWord)`: wait until some connection has sent a command whose first
    /// word is `verb` (case-insensitive).
    pub fn wait_for_command(&self, verb: &str, timeout: Duration) -> bool {
        self.wait_until(timeout, |ts| {
            ts.iter().any(|t| {
                t.events.iter().any(|e| {
                    e.dir == Dir::Them
                        && e.text
                            .split(' ')
                            .next()
                            .is_some_and(|w| w.eq_ignore_ascii_case(verb))
                })
            })
        })
    }

    /// `perform_test()`: wait until at least `n` connections have been opened and every one
    /// of them has ended.
    pub fn wait_for_closed(&self, n: usize, timeout: Duration) -> bool {
        self.wait_until(timeout, |ts| ts.len() >= n && ts.iter().all(|t| t.closed))
    }
}

/// Forget the oldest ended connections once more than `keep_closed` + a quarter have ended
/// (down to `keep_closed`), or once the ended ones hold more than `closed_budget` bytes (down
/// to the budget). Oldest means the lowest connection number; `just_ended` (the connection
/// that ended last) is never forgotten here, so it can always be read once.
fn trim(st: &mut State, just_ended: Option<u64>) {
    let keep = st.keep_closed.unwrap_or(usize::MAX);
    let budget = st.closed_budget.unwrap_or(usize::MAX);
    let over_count = st.closed > keep.saturating_add(keep / 4);
    let over_bytes = st.closed_bytes > budget && st.closed > 1;
    if !over_count && !over_bytes {
        return;
    }
    let (mut closed, mut bytes, mut forgotten) = (st.closed, st.closed_bytes, 0u64);
    st.conns.retain(|t| {
        let forget = t.closed
            && Some(t.conn) != just_ended
            && (closed > keep || (bytes > budget && closed > 1));
        if forget {
            closed -= 1;
            bytes -= t.size;
            forgotten += 1;
        }
        !forget
    });
    st.closed = closed;
    st.closed_bytes = bytes;
    st.forgotten += forgotten;
}

fn find(st: &mut State, conn: u64) -> Option<&mut Transcript> {
    // Connections are appended in number order: binary search.
    let i = st.conns.binary_search_by_key(&conn, |t| t.conn).ok()?;
    st.conns.get_mut(i)
}

fn echo(level: u8, conn: u64, dir: Dir, bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    let shown = match (level, dir) {
        (_, Dir::Them) => Some(text.to_string()),
        (1, _) => None,
        (2, Dir::Us) => Some(text.split(' ').next().unwrap_or("").to_string()),
        (2, Dir::Data) => None,
        (2, _) => Some(text.to_string()),
        _ => Some(text.to_string()),
    };
    if let Some(s) = shown {
        eprintln!("fakeserver[{conn}] {}: {}", dir.label(), escape(&s));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keep_closed_forgets_the_oldest_ended_connections_only() {
        let r = Recorder::new(0);
        r.keep_closed(Some(4));
        let open = r.open("imap", "peer");
        for i in 0..20 {
            let c = r.open("imap", "peer");
            r.push(c, Dir::Them, format!("A{i} NOOP").as_bytes());
            r.close(c);
        }
        let ts = r.transcripts();
        assert_eq!(ts[0].conn, open, "an open connection is never forgotten");
        let closed: Vec<u64> = ts.iter().filter(|t| t.closed).map(|t| t.conn).collect();
        assert!(closed.len() >= 4 && closed.len() <= 5, "{closed:?}");
        assert_eq!(*closed.last().unwrap(), 21, "the newest stay");
        assert_eq!(r.forgotten() as usize + closed.len(), 20);
        // the kept ones are still found by number
        r.push(open, Dir::Us, b"* OK");
        assert_eq!(
            r.transcript(21).unwrap().them(),
            vec!["A19 NOOP".to_string()]
        );
        r.close(21);
        assert_eq!(
            r.forgotten() as usize + r.transcripts().iter().filter(|t| t.closed).count(),
            20
        );
    }

    #[test]
    fn a_connection_past_its_limit_counts_what_it_does_not_keep() {
        let r = Recorder::new(0);
        r.limit_per_connection(Some(20));
        let c = r.open("imap", "peer");
        r.push(c, Dir::Them, b"A1 NOOP"); // 7 bytes
        r.push(c, Dir::Us, b"A1 OK done"); // 17
        r.push(c, Dir::Them, b"A2 NOOP"); // 24: past the limit
        r.push(c, Dir::Us, b"A2"); // would fit, but later events are not kept either
        r.close(c);
        let t = r.transcript(c).unwrap();
        assert_eq!(t.them(), vec!["A1 NOOP".to_string()]);
        assert_eq!(t.unkept, 2);
        let notes = t.of(Dir::Note);
        assert_eq!(notes.len(), 1, "one note, where the limit was reached");
        assert!(notes[0].contains("limit of 20 bytes"), "{notes:?}");
        let text = t.to_text();
        assert!(
            text.ends_with("== 2 more events not kept\n== closed\n"),
            "{text}"
        );
        // the JSON form carries the count and reads back
        let j = serde_json::to_string(&t).unwrap();
        let back: Transcript = serde_json::from_str(&j).unwrap();
        assert_eq!(back.unkept, 2);
        assert_eq!(back.events, t.events);
        // another connection has its own budget; a reset gives an open one a fresh one
        let d = r.open("imap", "peer");
        r.push(d, Dir::Them, b"B1 NOOP");
        assert_eq!(r.transcript(d).unwrap().unkept, 0);
        r.push(d, Dir::Them, &[b'x'; 30]);
        assert_eq!(r.transcript(d).unwrap().unkept, 1);
        r.reset();
        r.push(d, Dir::Them, b"B2 NOOP");
        let t = r.transcript(d).unwrap();
        assert_eq!((t.them(), t.unkept), (vec!["B2 NOOP".to_string()], 0));
        // without a limit every event is kept
        r.limit_per_connection(None);
        r.push(d, Dir::Them, &[b'y'; 100]);
        assert_eq!(r.transcript(d).unwrap().events.len(), 2);
    }

    #[test]
    fn ended_connections_are_forgotten_past_a_byte_budget() {
        let r = Recorder::new(0);
        r.keep_closed_bytes(Some(25));
        let open = r.open("imap", "peer");
        r.push(open, Dir::Them, &[b'o'; 40]); // open ones do not count
        let mut ended = Vec::new();
        for i in 0..4 {
            let c = r.open("imap", "peer");
            r.push(c, Dir::Them, format!("A{i} 1234567").as_bytes()); // 10 bytes
            r.close(c);
            ended.push(c);
        }
        let kept: Vec<u64> = r.transcripts().iter().map(|t| t.conn).collect();
        assert_eq!(
            kept,
            vec![open, ended[2], ended[3]],
            "the newest two fit in 25"
        );
        assert_eq!(r.forgotten(), 2);
        // one bigger than the whole budget: the newest ended one always stays
        let big = r.open("imap", "peer");
        r.push(big, Dir::Them, &[b'b'; 30]);
        r.close(big);
        let kept: Vec<u64> = r.transcripts().iter().map(|t| t.conn).collect();
        assert_eq!(kept, vec![open, big]);
        // the open one, ended, counts then; it ended last, so it stays and the older goes
        r.close(open);
        let kept: Vec<u64> = r.transcripts().iter().map(|t| t.conn).collect();
        assert_eq!(kept, vec![open]);
        assert_eq!(r.forgotten(), 5);
    }

    #[test]
    fn text_form_is_stable_and_escapes() {
        let r = Recorder::new(0);
        let c = r.open("smtp", "127.0.0.1:5555");
        r.push(c, Dir::Us, b"220 hi");
        r.push(c, Dir::Them, b"EHLO x\0y");
        r.push(c, Dir::Data, b"a\r\n..b\r\n");
        r.push(c, Dir::Them, b"\xff");
        r.close(c);
        let t = r.to_text();
        assert_eq!(
            t,
            "== connection 1 (smtp)\nus: 220 hi\nthem: EHLO x\\x00y\ndata: a\ndata: ..b\nthem: \\ufffd\n== closed\n"
        );
        assert!(!t.contains("5555"));
        let tr = r.transcript(1).unwrap();
        assert_eq!(tr.events[3].bytes(), b"\xff");
    }

    #[test]
    fn waits_for_command_and_close() {
        let r = Recorder::new(0);
        let c = r.open("smtp", "p");
        let r2 = r.clone();
        let th = std::thread::spawn(move || {
            r2.push(c, Dir::Them, b"quit");
            r2.close(c);
        });
        assert!(r.wait_for_command("QUIT", Duration::from_secs(5)));
        assert!(r.wait_for_closed(1, Duration::from_secs(5)));
        th.join().unwrap();
        assert!(!r.wait_for_command("DATA", Duration::from_millis(10)));
        r.reset();
        assert!(r.transcripts().is_empty());
        assert_eq!(r.open("smtp", "p"), 1, "numbering restarts after a reset");
    }
}

//! The contract between the server (which owns sockets) and a protocol handler (which owns
//! one connection's state machine). Handlers are pure: they get [`Input`] and return
//! [`Output`]; the server performs it (writes, reads the next unit the way asked, starts TLS,
//! closes), records both sides and applies faults between the two. Every protocol — SMTP,
//! LMTP, POP3, NNTP, later IMAP — implements [`Handler`].
//!
//! This draft is owned by the fakeserver core; it may grow fields and methods (with
//! defaults), but the shape — pure handler, declarative output — stays.

/// How the server must read the next unit of client input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadMode {
    /// One CRLF (or bare LF) terminated line; the terminator is stripped.
    Line,
    /// Lines up to a line holding a single `.` (SMTP DATA, NNTP POST/IHAVE); dot-unstuffed,
    /// delivered as one [`Input::Block`] with CRLF line ends, without the final `.` line.
    DotTerminated,
    /// Exactly this many octets (IMAP literals, SMTP BDAT chunks), then back to lines.
    Exact(u64),
}

/// One unit of client input, as read in the mode the handler asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input<'a> {
    Line(&'a [u8]),
    Block(&'a [u8]),
    Bytes(&'a [u8]),
}

/// What the handler wants done, in order: send `lines`, then (if `start_tls`) perform the TLS
/// handshake or (if `start_compress`) switch both directions to raw DEFLATE (RFC 4978), then
/// (if `close`) close; otherwise read the next unit in `next` mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    /// Reply lines without line ends; the server appends CRLF (bare LF inside a line is
    /// normalised to CRLF unless `raw` is set).
    pub lines: Vec<Vec<u8>>,
    /// Send `lines` byte for byte (IMAP literals): no CRLF is appended and bare LF is left
    /// alone, so each line must carry its own line ends.
    pub raw: bool,
    pub next: ReadMode,
    pub start_tls: bool,
    /// After `lines`, compress both directions (COMPRESS DEFLATE); over TLS when it is up.
    pub start_compress: bool,
    pub close: bool,
    /// The next client input is a secret (AUTH exchange, PASS): the transcript masks it.
    pub mask_next_input: bool,
}

impl Default for Output {
    fn default() -> Self {
        Output {
            lines: Vec::new(),
            raw: false,
            next: ReadMode::Line,
            start_tls: false,
            start_compress: false,
            close: false,
            mask_next_input: false,
        }
    }
}

impl Output {
    /// No reply; keep reading lines.
    pub fn none() -> Self {
        Self::default()
    }
    /// One reply line.
    pub fn line(s: impl Into<Vec<u8>>) -> Self {
        Output {
            lines: vec![s.into()],
            ..Self::default()
        }
    }
    /// Several reply lines.
    pub fn lines<I, S>(it: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<Vec<u8>>,
    {
        Output {
            lines: it.into_iter().map(Into::into).collect(),
            ..Self::default()
        }
    }
    pub fn then_read(mut self, next: ReadMode) -> Self {
        self.next = next;
        self
    }
    pub fn then_close(mut self) -> Self {
        self.close = true;
        self
    }
    pub fn then_start_tls(mut self) -> Self {
        self.start_tls = true;
        self
    }
    pub fn then_start_compress(mut self) -> Self {
        self.start_compress = true;
        self
    }
    pub fn masking_next_input(mut self) -> Self {
        self.mask_next_input = true;
        self
    }
}

/// Facts about the connection a handler may need.
#[derive(Debug, Clone, Default)]
pub struct ConnInfo {
    pub peer: String,
    pub local: String,
    /// True once TLS is up (implicit, or after STARTTLS/STLS).
    pub tls: bool,
    /// True when the server can start TLS on this connection (it has a certificate).
    pub tls_available: bool,
    /// True once both directions are compressed (COMPRESS DEFLATE).
    pub compressed: bool,
}

impl ConnInfo {
    /// A plain connection that can start TLS, with no addresses (scripted sessions, tests).
    pub fn offering_tls() -> ConnInfo {
        ConnInfo {
            tls_available: true,
            ..ConnInfo::default()
        }
    }
}

/// One connection's protocol state machine.
pub trait Handler: Send {
    /// The greeting (and anything else sent before the client speaks).
    fn on_startup(&mut self, conn: &ConnInfo) -> Output;
    /// One unit of input, in the mode the last [`Output::next`] asked for.
    fn on_input(&mut self, input: Input<'_>, conn: &ConnInfo) -> Output;
    /// The command word of a line, for fault schedules and transcripts ("RCPT", "RETR";
    /// IMAP overrides it to skip the tag). `None` for lines that are not commands.
    fn verb(&self, line: &[u8]) -> Option<String> {
        let word = line.split(|b| *b == b' ').next()?;
        if word.is_empty() {
            return None;
        }
        Some(String::from_utf8_lossy(word).to_ascii_uppercase())
    }
    /// How a command line appears in the transcript when it holds a secret (`AUTH PLAIN
    /// <initial response>`, `PASS x`, IMAP `LOGIN u p`): the masked line, or `None` to record
    /// it as sent.
    fn mask(&self, _line: &[u8]) -> Option<Vec<u8>> {
        None
    }
    /// A data block was over the server's limit and was discarded; the reply to send.
    fn on_block_too_long(&mut self, _conn: &ConnInfo) -> Output {
        Output::none()
    }
    /// The fault schedule replaced the reply just produced with `reply` (lines joined by
    /// `\n`): the client saw that instead, so the handler may undo what the replaced reply
    /// stood for (a refused RCPT is no recipient, a refused DATA no message).
    fn on_fault_reply(&mut self, _reply: &str) {}
    /// Asked right after [`Handler::on_fault_reply`]: how to read the next input instead of
    /// what the replaced output asked for (`None`: as asked). A handler whose "send the
    /// article/data" reply was replaced by an error returns `Some(ReadMode::Line)`, since the
    /// client will not send the data.
    fn read_mode_after_fault(&self) -> Option<ReadMode> {
        None
    }
    /// TLS has just been established after a `start_tls` output.
    fn on_tls_started(&mut self, _conn: &ConnInfo) -> Output {
        Output::none()
    }
    /// The line was over the server's limit; the reply to send (the line is discarded).
    fn on_line_too_long(&mut self, _conn: &ConnInfo) -> Output {
        Output::none()
    }
    /// The idle timeout fired; what to send before closing.
    fn on_idle_timeout(&mut self, _conn: &ConnInfo) -> Output {
        Output::none().then_close()
    }
    /// Something changed in the daemon that this connection may have to announce unasked
    /// (IMAP EXISTS/EXPUNGE/FETCH, IDLE). Called by the server when the daemon notifies.
    fn on_notify(&mut self, _conn: &ConnInfo) -> Output {
        Output::none()
    }
}

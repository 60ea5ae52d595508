//! One connection's I/O: read, frame, give each unit to the handler, apply faults to its
//! output, write, and do what the output asks (read mode, STARTTLS, COMPRESS, close); the
//! bytes go through a [`Transport`] (TCP, TLS, DEFLATE), so what is recorded is the protocol. Pipelined input
//! is answered in order and replies to a batch are written together (in pieces of at most
//! `MAX_QUEUED` bytes plus one reply, so a client that never reads cannot make us buffer more). Everything either
//! side sent is recorded.

use super::frame::{encode_line, Framer, Unit};
use super::transport::{Stream, Transport};
use super::Shared;
use crate::faults::{Action, ConnFaults, Trigger};
use crate::handler::{ConnInfo, Handler, Input, Output, ReadMode};
use crate::record::Dir;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tokio::sync::watch;

/// Queued reply bytes that make the server write before it answers more pipelined input.
const MAX_QUEUED: usize = 256 * 1024;

/// What to do after performing an output.
#[derive(PartialEq, Eq)]
enum Flow {
    Continue,
    StartTls,
    StartCompress,
    Close,
}

struct Conn {
    shared: Arc<Shared>,
    id: u64,
    info: ConnInfo,
    transport: Transport,
    out: Vec<u8>,
    buf: Vec<u8>,
    pos: usize,
    framer: Framer,
    mode: ReadMode,
    mask_next: bool,
    faults: ConnFaults,
    /// The verb of the last command line (replies to its data block count under it).
    last_verb: Option<String>,
}

/// Keeps the active-connection count right however the task ends (even aborted).
struct ActiveGuard(Arc<Shared>, u64);
impl Drop for ActiveGuard {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Ordering::SeqCst);
        self.0.recorder.close(self.1);
    }
}

pub(super) async fn serve(
    tcp: TcpStream,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
    mut notify: watch::Receiver<u64>,
) {
    let peer = tcp.peer_addr().map(|a| a.to_string()).unwrap_or_default();
    let local = tcp.local_addr().map(|a| a.to_string()).unwrap_or_default();
    shared.active.fetch_add(1, Ordering::SeqCst);
    let id = shared.recorder.open(&shared.config.protocol, &peer);
    let _guard = ActiveGuard(shared.clone(), id);
    let info = ConnInfo {
        peer,
        local,
        tls: false,
        tls_available: shared.config.tls.is_some(),
        compressed: false,
    };
    let mut c = Conn {
        faults: shared.faults.connection(id),
        framer: Framer::new(shared.config.max_line, shared.config.max_block),
        shared,
        id,
        info,
        transport: Transport::new(tcp),
        out: Vec::with_capacity(4096),
        buf: Vec::with_capacity(8192),
        pos: 0,
        mode: ReadMode::Line,
        mask_next: false,
        last_verb: None,
    };
    if c.shared.config.implicit_tls && !c.handshake().await {
        return;
    }
    let mut handler = c.shared.service.handler(&c.info);
    let greeting = handler.on_startup(&c.info);
    let mut flow = c
        .perform(&mut *handler, greeting, Trigger::Connect, None)
        .await;
    notify.borrow_and_update();
    'conn: loop {
        // Answer everything already buffered, in order.
        while flow == Flow::Continue {
            match c.framer.next(&c.buf, &mut c.pos, c.mode) {
                Some(unit) => flow = c.unit(&mut *handler, unit).await,
                None => break,
            }
            // Replies of pipelined commands go out as they pile up, so a client that
            // never reads holds at most this much (plus one reply) of ours.
            if c.out.len() >= MAX_QUEUED && !c.flush().await {
                break 'conn;
            }
        }
        if flow == Flow::StartTls {
            if !c.flush().await {
                break;
            }
            let left = c.buf.len() - c.pos;
            if left > 0 {
                let note = format!("discarded {left} bytes sent before the TLS handshake");
                c.shared.recorder.push(c.id, Dir::Note, note.as_bytes());
            }
            c.buf.clear();
            c.pos = 0;
            if !c.handshake().await {
                break;
            }
            let out = handler.on_tls_started(&c.info);
            flow = c.perform(&mut *handler, out, Trigger::Reply, None).await;
            continue;
        }
        if flow == Flow::StartCompress {
            // The OK goes out as it is; what the client sent after the command is already
            // compressed.
            if !c.flush().await {
                break;
            }
            c.transport.start_compress(&c.buf[c.pos..]);
            c.buf.clear();
            c.pos = 0;
            c.info.compressed = true;
            c.note("compression started: DEFLATE (the transcript shows the inflated protocol)");
            flow = Flow::Continue;
            continue;
        }
        if flow == Flow::Close {
            break;
        }
        if !c.flush().await {
            break;
        }
        c.compact();
        if let Some(limit) = c.shared.faults.data_limit(&c.faults) {
            let in_block = !matches!(c.mode, ReadMode::Line);
            let pending = c.framer.pending_block() + (c.buf.len() - c.pos) as u64;
            if in_block && pending >= limit {
                let note = format!("dropped after {pending} bytes of data");
                c.record_pending_data();
                c.shared.recorder.push(c.id, Dir::Fault, note.as_bytes());
                break;
            }
        }
        let idle = c.shared.config.idle_timeout;
        tokio::select! {
            _ = shutdown.changed() => {
                c.note("server shutting down");
                break 'conn;
            }
            _ = notify.changed() => {
                let out = handler.on_notify(&c.info);
                flow = c.perform(&mut *handler, out, Trigger::Reply, None).await;
            }
            r = tokio::time::timeout(idle, c.transport.read(&mut c.buf)) => match r {
                Err(_) => {
                    c.note("idle timeout");
                    let out = handler.on_idle_timeout(&c.info);
                    c.perform(&mut *handler, out, Trigger::Reply, None).await;
                    c.flush().await;
                    break 'conn;
                }
                Ok(Ok(0)) => {
                    c.record_pending_data();
                    c.note("client closed the connection");
                    break 'conn;
                }
                Ok(Ok(_)) => {}
                Ok(Err(e)) => {
                    c.record_pending_data();
                    c.note(&format!("read error: {e}"));
                    break 'conn;
                }
            }
        }
    }
    c.flush().await;
    let _ = tokio::time::timeout(Duration::from_secs(1), c.transport.shutdown()).await;
}

impl Conn {
    fn note(&self, s: &str) {
        self.shared.recorder.push(self.id, Dir::Note, s.as_bytes());
    }

    /// Input that never completed a unit (a client gone mid-DATA): keep it in the record.
    fn record_pending_data(&mut self) {
        let mut v = self.framer.take_pending();
        v.extend_from_slice(&self.buf[self.pos..]);
        if !v.is_empty() {
            let dir = if matches!(self.mode, ReadMode::Line) {
                Dir::Them
            } else {
                Dir::Data
            };
            if dir == Dir::Them && self.mask_next {
                v = b"****".to_vec();
            }
            self.shared.recorder.push(self.id, dir, &v);
            self.shared
                .recorder
                .push(self.id, Dir::Note, b"incomplete input above");
            self.pos = self.buf.len();
        }
    }

    fn compact(&mut self) {
        if self.pos > 0 {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
    }

    async fn unit(&mut self, handler: &mut dyn Handler, unit: Unit) -> Flow {
        let rec = &self.shared.recorder;
        let (out, verb) = match unit {
            Unit::Line(line) => {
                let masked = std::mem::take(&mut self.mask_next);
                let verb = if masked { None } else { handler.verb(&line) };
                if masked {
                    rec.push(self.id, Dir::Them, b"****");
                } else if let Some(m) = handler.mask(&line) {
                    rec.push(self.id, Dir::Them, &m);
                } else {
                    rec.push(self.id, Dir::Them, &line);
                }
                if verb.is_some() {
                    self.last_verb = verb.clone();
                }
                let out = handler.on_input(Input::Line(&line), &self.info);
                (out, verb.or_else(|| self.last_verb.clone()))
            }
            Unit::Block(b) => {
                rec.push(self.id, Dir::Data, &b);
                (
                    handler.on_input(Input::Block(&b), &self.info),
                    self.last_verb.clone(),
                )
            }
            Unit::Bytes(b) => {
                rec.push(self.id, Dir::Data, &b);
                (
                    handler.on_input(Input::Bytes(&b), &self.info),
                    self.last_verb.clone(),
                )
            }
            Unit::LineTooLong { kept, len } => {
                self.mask_next = false;
                rec.push(self.id, Dir::Them, &kept);
                rec.push(
                    self.id,
                    Dir::Note,
                    format!("line too long ({len} bytes)").as_bytes(),
                );
                (handler.on_line_too_long(&self.info), None)
            }
            Unit::BlockTooLong { len } => {
                rec.push(
                    self.id,
                    Dir::Note,
                    format!("data block too long ({len} bytes), discarded").as_bytes(),
                );
                (
                    handler.on_block_too_long(&self.info),
                    self.last_verb.clone(),
                )
            }
        };
        self.perform(handler, out, Trigger::Reply, verb.as_deref())
            .await
    }

    /// Apply faults to an output, queue its lines, and say what comes next.
    async fn perform(
        &mut self,
        handler: &mut dyn Handler,
        mut out: Output,
        trigger: Trigger,
        verb: Option<&str>,
    ) -> Flow {
        if !out.lines.is_empty() {
            let actions = self.shared.faults.on_reply(&mut self.faults, trigger, verb);
            for a in actions {
                match a {
                    Action::Drop => {
                        self.shared
                            .recorder
                            .push(self.id, Dir::Fault, b"drop instead of reply");
                        return Flow::Close;
                    }
                    Action::Delay(d) => {
                        let note = format!("delay {} ms", d.as_millis());
                        self.shared
                            .recorder
                            .push(self.id, Dir::Fault, note.as_bytes());
                        if !self.flush().await {
                            return Flow::Close;
                        }
                        tokio::time::sleep(d).await;
                    }
                    Action::Garbage(g) => {
                        let note = format!("garbage {} bytes", g.len());
                        self.shared
                            .recorder
                            .push(self.id, Dir::Fault, note.as_bytes());
                        self.out.extend_from_slice(&g);
                    }
                    Action::Replace(r) => {
                        self.shared
                            .recorder
                            .push(self.id, Dir::Fault, b"reply replaced");
                        out.lines = r
                            .split('\n')
                            .map(|l| l.trim_end_matches('\r').as_bytes().to_vec())
                            .collect();
                        handler.on_fault_reply(&r);
                        if let Some(mode) = handler.read_mode_after_fault() {
                            out.next = mode;
                        }
                    }
                }
            }
        }
        let normalize = self.shared.config.normalize_lf && !out.raw;
        for line in &out.lines {
            self.shared.recorder.push(self.id, Dir::Us, line);
            if out.raw {
                self.out.extend_from_slice(line);
            } else {
                encode_line(&mut self.out, line, normalize);
            }
        }
        if out.mask_next_input {
            self.mask_next = true;
        }
        self.mode = out.next;
        if out.close {
            Flow::Close
        } else if out.start_tls {
            if self.shared.config.tls.is_some() && !self.info.tls && !self.info.compressed {
                Flow::StartTls
            } else {
                self.note(
                    "start_tls asked without a certificate (or TLS or compression already up): ignored",
                );
                Flow::Continue
            }
        } else if out.start_compress {
            if self.info.compressed {
                self.note("start_compress asked with compression already up: ignored");
                Flow::Continue
            } else {
                Flow::StartCompress
            }
        } else {
            Flow::Continue
        }
    }

    /// Write what is queued. False when the client is gone or never reads.
    async fn flush(&mut self) -> bool {
        if self.out.is_empty() {
            return true;
        }
        let idle = self.shared.config.idle_timeout;
        let out = std::mem::take(&mut self.out);
        let res = tokio::time::timeout(idle, self.transport.write_all(&out)).await;
        self.out = out;
        self.out.clear();
        match res {
            Ok(Ok(())) => true,
            Ok(Err(e)) => {
                self.note(&format!("write error: {e}"));
                false
            }
            Err(_) => {
                self.note("client does not read: write timed out");
                false
            }
        }
    }

    /// TLS on the current stream (implicit, or after STARTTLS). False: connection over.
    async fn handshake(&mut self) -> bool {
        let Some(cfg) = self.shared.config.tls.clone() else {
            return false;
        };
        let tcp = match std::mem::replace(&mut self.transport.stream, Stream::Gone) {
            Stream::Plain(t) => t,
            other => {
                self.transport.stream = other;
                return false;
            }
        };
        if self.shared.faults.cut_tls(&mut self.faults) {
            let mut tcp = tcp;
            let mut hello = [0u8; 64];
            let _ = tokio::time::timeout(Duration::from_secs(5), tcp.read(&mut hello)).await;
            self.shared
                .recorder
                .push(self.id, Dir::Fault, b"closed during the TLS handshake");
            return false;
        }
        let acceptor = tokio_rustls::TlsAcceptor::from(cfg);
        match tokio::time::timeout(self.shared.config.idle_timeout, acceptor.accept(tcp)).await {
            Ok(Ok(tls)) => {
                let (_, conn) = tls.get_ref();
                let text = format!(
                    "started {:?} {:?}",
                    conn.protocol_version()
                        .map(|v| format!("{v:?}"))
                        .unwrap_or_default(),
                    conn.negotiated_cipher_suite()
                        .map(|c| format!("{:?}", c.suite()))
                        .unwrap_or_default()
                )
                .replace('"', "");
                self.shared
                    .recorder
                    .push(self.id, Dir::Tls, text.as_bytes());
                self.transport.stream = Stream::Tls(Box::new(tls));
                self.info.tls = true;
                true
            }
            Ok(Err(e)) => {
                self.shared.recorder.push(
                    self.id,
                    Dir::Tls,
                    format!("handshake failed: {e}").as_bytes(),
                );
                false
            }
            Err(_) => {
                self.shared
                    .recorder
                    .push(self.id, Dir::Tls, b"handshake timed out");
                false
            }
        }
    }
}

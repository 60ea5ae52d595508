//! Changing a connection's transport in the middle of the session: STARTTLS (RFC 3501 6.2.1:
//! TLS after the tagged OK, capabilities asked again afterwards) and COMPRESS=DEFLATE
//! (RFC 4978: raw DEFLATE both ways right after the tagged OK, see
//! [`crate::client::compress`]). A server that sends anything between its OK and the TLS
//! handshake is refused (plain text there could be injected by a man in the middle).
use super::{short, Conn, ConnError, Endpoint, Stream};
use crate::client::compress::Compressed;
use imapwire::{Response, Status};
use std::pin::Pin;

/// Tags of the commands sent here (before any of the caller's).
const STARTTLS_TAG: &str = "T1";
const CAPABILITY_TAG: &str = "T2";

impl Conn {
    /// Takes the stream out for wrapping (a dead placeholder stays until it is put back).
    fn take_stream(&mut self) -> Pin<Box<dyn Stream>> {
        std::mem::replace(&mut self.stream, Box::pin(tokio::io::duplex(1).0))
    }

    /// The bytes read but not framed yet.
    fn unread(&self) -> &[u8] {
        &self.buf[self.start..]
    }

    /// Sends `tag command` and reads up to its tagged reply (untagged ones are only noted).
    async fn command_reply(&mut self, tag: &str, command: &[u8]) -> Result<Response, ConnError> {
        for r in self.send_command(tag, command).await? {
            if matches!(&r, Response::Tagged { tag: t, .. } if t == tag) {
                return Ok(r);
            }
        }
        loop {
            let r = self.read().await?;
            if matches!(&r, Response::Tagged { tag: t, .. } if t == tag) {
                return Ok(r);
            }
        }
    }

    /// STARTTLS, the handshake with `ep`'s TLS configuration, then CAPABILITY again.
    pub(super) async fn starttls(&mut self, ep: &Endpoint) -> Result<(), ConnError> {
        let addr = self.addr;
        let fail = |why: String| ConnError::Starttls { addr, why };
        let Some(cfg) = ep.tls.as_ref() else {
            return Err(fail("no TLS configuration".into()));
        };
        if !self.capabilities.is_empty() && !self.has("STARTTLS") {
            return Err(fail(format!(
                "the server does not announce STARTTLS (capabilities: {})",
                self.capabilities
            )));
        }
        let r = self.command_reply(STARTTLS_TAG, b"STARTTLS").await?;
        if !matches!(
            r,
            Response::Tagged {
                status: Status::Ok,
                ..
            }
        ) {
            return Err(fail(format!("refused: {r}")));
        }
        if !self.unread().is_empty() {
            return Err(fail(format!(
                "the server sent data after its OK, before the TLS handshake: {:?}",
                short(self.unread())
            )));
        }
        let plain = self.take_stream();
        let tls = crate::client::tls::handshake(cfg, &ep.host, plain, ep.timeout)
            .await
            .map_err(|err| ConnError::Tls { addr, err })?;
        self.stream = Box::pin(tls);
        // what was announced in plain text no longer counts
        self.set_caps(String::new());
        let r = self.command_reply(CAPABILITY_TAG, b"CAPABILITY").await?;
        if !matches!(
            r,
            Response::Tagged {
                status: Status::Ok,
                ..
            }
        ) {
            return Err(fail(format!("CAPABILITY after the handshake failed: {r}")));
        }
        Ok(())
    }

    /// From now on both directions are raw DEFLATE (call right after the tagged OK to
    /// `COMPRESS DEFLATE`). Bytes already read past that OK are compressed data and are
    /// inflated first.
    pub fn start_compress(&mut self) -> Result<(), ConnError> {
        let already = self.unread().to_vec();
        self.buf.truncate(self.start);
        let inner = self.take_stream();
        self.stream = Box::pin(Compressed::new(inner, &already, self.addr.to_string()));
        Ok(())
    }

    /// `COMPRESS DEFLATE` with `tag` and, on OK, [`Conn::start_compress`]; returns the tagged
    /// reply (a NO or BAD leaves the connection as it was).
    pub async fn compress(&mut self, tag: &str) -> Result<Response, ConnError> {
        if !self.has("COMPRESS=DEFLATE") {
            return Err(ConnError::Compress {
                addr: self.addr,
                why: "the server does not announce COMPRESS=DEFLATE".into(),
            });
        }
        let r = self.command_reply(tag, b"COMPRESS DEFLATE").await?;
        if matches!(
            r,
            Response::Tagged {
                status: Status::Ok,
                ..
            }
        ) {
            self.start_compress()?;
        }
        Ok(r)
    }
}

//! Logging in on a connection: the LOGIN command or `AUTHENTICATE <mech>` (SASL-IR when the
//! server has it), driven by [`super::sasl`].
use super::conn::{Conn, ConnError};
use super::sasl::{Creds, Mech};
use anyhow::{bail, Context, Result};
use base64::{engine::general_purpose::STANDARD as B64, Engine};
use imapwire::{Response, Status, Value};

/// Quotes a string for a command (a literal when it cannot be quoted).
pub fn astring(s: &str) -> Vec<u8> {
    if s.bytes().any(|b| b == b'\r' || b == b'\n' || b >= 0x80) {
        let mut v = format!("{{{}}}\r\n", s.len()).into_bytes();
        v.extend_from_slice(s.as_bytes());
        v
    } else {
        let mut v = Vec::new();
        Value::Quoted(s.into()).write_wire(&mut v);
        v
    }
}

/// Logs in; `mech` is LOGIN for the LOGIN command, else a SASL mechanism. Untagged replies
/// are dropped (capabilities are noted by the connection).
pub async fn login(
    conn: &mut Conn,
    tag: &str,
    mech: &str,
    creds: &Creds,
    nonce: &str,
) -> Result<()> {
    if mech == "LOGIN" && creds.authc.is_none() {
        let mut cmd = b"LOGIN ".to_vec();
        cmd.extend(astring(&creds.user));
        cmd.push(b' ');
        cmd.extend(astring(&creds.pass));
        for r in conn.send_command(tag, &cmd).await? {
            if let Response::Tagged { tag: t, status, .. } = &r {
                if t == tag {
                    return check(*status, &r, &creds.user);
                }
            }
        }
        return finish(conn, tag, &creds.user).await;
    }
    // A master user with mech=LOGIN logs in with PLAIN, which carries the authorization id.
    let mech = if mech == "LOGIN" { "PLAIN" } else { mech };
    let mut m = Mech::new(mech, nonce)?;
    let mut cmd = format!("{tag} AUTHENTICATE {mech}").into_bytes();
    if m.client_first() && conn.has("SASL-IR") {
        let first = m.step(creds, b"")?;
        cmd.push(b' ');
        cmd.extend(if first.is_empty() {
            b"=".to_vec()
        } else {
            B64.encode(first).into_bytes()
        });
    } else if m.client_first() {
        // sent after the first (empty) continuation
        m = Mech::new(mech, nonce)?;
    }
    cmd.extend_from_slice(b"\r\n");
    conn.write(&cmd).await?;
    let mut first_sent = cmd.iter().filter(|&&b| b == b' ').count() > 2;
    loop {
        let r = conn.read().await?;
        match &r {
            Response::Continuation(text) => {
                let reply = if m.client_first() && !first_sent {
                    first_sent = true;
                    m.step(creds, b"")?
                } else {
                    let challenge = B64.decode(text.trim_ascii()).with_context(|| {
                        format!(
                            "server's SASL challenge is not base64: {:?}",
                            String::from_utf8_lossy(text)
                        )
                    })?;
                    match m.step(creds, &challenge) {
                        Ok(r) => r,
                        Err(e) => {
                            conn.write(b"*\r\n").await?;
                            return Err(e);
                        }
                    }
                };
                let mut line = B64.encode(reply).into_bytes();
                line.extend_from_slice(b"\r\n");
                conn.write(&line).await?;
            }
            Response::Tagged { tag: t, status, .. } if t == tag => {
                return check(*status, &r, &creds.user)
            }
            _ => {}
        }
    }
}

async fn finish(conn: &mut Conn, tag: &str, user: &str) -> Result<()> {
    loop {
        let r = conn
            .read()
            .await
            .map_err(|e: ConnError| anyhow::anyhow!(e))?;
        if let Response::Tagged { tag: t, status, .. } = &r {
            if t == tag {
                return check(*status, &r, user);
            }
        }
    }
}

fn check(status: Status, r: &Response, user: &str) -> Result<()> {
    if status != Status::Ok {
        bail!("login as {user} failed: {r}");
    }
    Ok(())
}

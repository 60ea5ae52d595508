//! Delivering mail over LMTP (RFC 2033), for profile mode and for `lmtp_port=` in stress mode:
//! one connection per delivery (LHLO, MAIL FROM, RCPT TO, DATA, QUIT), at most
//! `lmtp_max_parallel_count` at once (a warning the first time deliveries must wait), each
//! timed from the connect to the reply after the data. [`reply`] reads replies (pure).
use super::lines::{dot_stuff, LineConn};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

/// Where and how to deliver.
pub struct Lmtp {
    pub addr: SocketAddr,
    pub timeout: Duration,
    gate: Option<Semaphore>,
    max: usize,
    warned: AtomicBool,
}

/// One reply line: its code and whether more lines follow.
pub fn reply(line: &[u8]) -> Option<(u16, bool)> {
    if line.len() < 3 || !line[..3].iter().all(u8::is_ascii_digit) {
        return None;
    }
    let code =
        (line[0] - b'0') as u16 * 100 + (line[1] - b'0') as u16 * 10 + (line[2] - b'0') as u16;
    match line.get(3) {
        None | Some(b' ') => Some((code, false)),
        Some(b'-') => Some((code, true)),
        _ => None,
    }
}

/// The address with a `+detail` before its `@` (or at its end).
pub fn with_detail(user: &str, detail: &str) -> String {
    match user.rsplit_once('@') {
        Some((local, domain)) => format!("{local}+{detail}@{domain}"),
        None => format!("{user}+{detail}"),
    }
}

impl Lmtp {
    /// `max_parallel` 0: unlimited.
    pub fn new(addr: SocketAddr, max_parallel: u32, timeout: Duration) -> Lmtp {
        Lmtp {
            addr,
            timeout,
            gate: (max_parallel > 0).then(|| Semaphore::new(max_parallel as usize)),
            max: max_parallel as usize,
            warned: AtomicBool::new(false),
        }
    }

    /// Delivers `data` to `rcpt`; returns how long it took.
    pub async fn deliver(&self, rcpt: &str, data: &[u8]) -> Result<Duration, String> {
        let _permit = match &self.gate {
            None => None,
            Some(g) => match g.try_acquire() {
                Ok(p) => Some(p),
                Err(_) => {
                    if !self.warned.swap(true, Relaxed) {
                        println!(
                            "Warning: LMTP: Reached {} connections, throttling",
                            self.max
                        );
                    }
                    Some(g.acquire().await.map_err(|e| format!("LMTP: {e}"))?)
                }
            },
        };
        let t = Instant::now();
        let mut c = LineConn::connect(self.addr, "LMTP", self.timeout, None, None).await?;
        expect(&mut c, 220, "greeting").await?;
        c.send(b"LHLO imaptest\r\n").await?;
        expect(&mut c, 250, "LHLO").await?;
        c.send(b"MAIL FROM:<imaptest@localhost>\r\n").await?;
        expect(&mut c, 250, "MAIL FROM").await?;
        c.send(format!("RCPT TO:<{rcpt}>\r\n").as_bytes()).await?;
        expect(&mut c, 250, "RCPT TO").await?;
        c.send(b"DATA\r\n").await?;
        expect(&mut c, 354, "DATA").await?;
        c.send(&dot_stuff(data)).await?;
        expect(&mut c, 250, "the message data").await?;
        let took = t.elapsed();
        let _ = c.send(b"QUIT\r\n").await;
        let _ = expect(&mut c, 221, "QUIT").await;
        Ok(took)
    }
}

/// Reads a (multi-line) reply and checks its code.
async fn expect(c: &mut LineConn, want: u16, what: &str) -> Result<(), String> {
    loop {
        let line = c.line().await?;
        match reply(&line) {
            Some((code, true)) if code == want => continue,
            Some((code, false)) if code == want => return Ok(()),
            _ => {
                return Err(format!(
                    "{}: {what}: {}",
                    c.peer(),
                    String::from_utf8_lossy(&line)
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_and_details() {
        assert_eq!(reply(b"250-PIPELINING"), Some((250, true)));
        assert_eq!(reply(b"250 OK"), Some((250, false)));
        assert_eq!(reply(b"354"), Some((354, false)));
        assert_eq!(reply(b"25x"), None);
        assert_eq!(reply(b"250x"), None);
        assert_eq!(with_detail("u@example.com", "Spam"), "u+Spam@example.com");
        assert_eq!(with_detail("test1", "Spam"), "test1+Spam");
    }
}

//! A tiny scripted TCP server for the tests that need a broken or hostile peer: it sends a
//! greeting, then answers each line it reads (without its CRLF) with what `reply` returns, and
//! closes the connection when `reply` returns `None` or the peer goes away. One thread per
//! connection; it lives as long as the test binary. [`serve_each`] is the listening part alone,
//! for the test servers that keep their own state per connection.
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;

/// Listens on a free loopback port and runs `session(stream, n)` on a thread of its own for the
/// n-th connection (from 1); returns the port.
pub fn serve_each(session: impl Fn(TcpStream, u32) + Send + Sync + 'static) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let session = Arc::new(session);
    std::thread::spawn(move || {
        for (c, n) in l.incoming().flatten().zip(1..) {
            let session = Arc::clone(&session);
            std::thread::spawn(move || session(c, n));
        }
    });
    port
}

/// Starts the server on a free loopback port and returns the port.
pub fn tiny_server<R: AsRef<[u8]> + 'static>(
    greeting: &'static str,
    reply: fn(&str) -> Option<R>,
) -> u16 {
    serve_each(move |c, _| {
        let Ok(mut w) = c.try_clone() else { return };
        if w.write_all(greeting.as_bytes()).is_err() {
            return;
        }
        let mut r = BufReader::new(c);
        let mut line = Vec::new();
        loop {
            line.clear();
            if r.read_until(b'\n', &mut line).unwrap_or(0) == 0 {
                return;
            }
            let text = String::from_utf8_lossy(&line);
            let Some(out) = reply(text.trim_end_matches(['\r', '\n'])) else {
                return;
            };
            if w.write_all(out.as_ref()).is_err() {
                return;
            }
        }
    })
}

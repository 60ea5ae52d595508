//! Helpers shared by the fuzz targets: splitting one input into parts, and a connected
//! socket whose peer has already said everything it will say (so the programs under test
//! read to end of file and never wait).

use std::io::{Read, Write};

use socket2::{Domain, Socket, Type};

/// The bytes before and after the first NUL (the second part empty when there is none).
/// Text formats never hold a NUL, so it is a cheap separator for libFuzzer to move.
pub fn split2(data: &[u8]) -> (&[u8], &[u8]) {
    match data.iter().position(|&b| b == 0) {
        Some(n) => (&data[..n], &data[n + 1..]),
        None => (data, &[]),
    }
}

/// Whether `text` holds any of `needles` anywhere. Targets skip inputs that would make the
/// program under test sleep or open files; a line prefix is not enough of a test, since the
/// programs split long lines into several.
pub fn contains_any(text: &[u8], needles: &[&[u8]]) -> bool {
    needles
        .iter()
        .any(|n| text.windows(n.len()).any(|w| w == *n))
}

/// The most a peer may say: less than a socket pair's buffer, so writing it never blocks.
pub const PEER_MAX: usize = 64 * 1024;

/// A Unix stream socket connected to a peer that has sent `peer_says` and shut down its
/// sending side. What is written to the socket is read and thrown away by a thread (which
/// ends when the socket is closed), so that writes never block on a full buffer.
pub fn socket_with_peer(peer_says: &[u8]) -> Socket {
    let (ours, theirs) = Socket::pair(Domain::UNIX, Type::STREAM, None).expect("socketpair");
    let said = &peer_says[..peer_says.len().min(PEER_MAX)];
    (&theirs)
        .write_all(said)
        .expect("writing the peer's part into the socket buffer");
    theirs
        .shutdown(std::net::Shutdown::Write)
        .expect("shutdown");
    std::thread::spawn(move || {
        let mut sink = [0u8; 16 * 1024];
        while matches!((&theirs).read(&mut sink), Ok(n) if n > 0) {}
    });
    ours
}

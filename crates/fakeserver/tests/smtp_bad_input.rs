//! Hostile and broken clients against the SMTP fake over raw sockets: pipelined batches,
//! over-long lines, NULs, invalid UTF-8, a client that never reads, one that disconnects
//! mid-DATA, 1 000 simultaneous connections. Never a panic or a hang; nothing a client sent
//! is lost from the record.

mod common;
use common::smtp::*;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

fn connect(f: &Fake) -> (BufReader<TcpStream>, TcpStream) {
    let s = TcpStream::connect(f.server.addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    (BufReader::new(s.try_clone().unwrap()), s)
}

/// A connection that has sent HELO, MAIL, RCPT and DATA and read their replies: the
/// message text goes next.
fn in_data(f: &Fake) -> (BufReader<TcpStream>, TcpStream) {
    let (mut r, mut w) = connect(f);
    reply(&mut r);
    w.write_all(b"HELO c\r\nMAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nDATA\r\n")
        .unwrap();
    for _ in 0..4 {
        reply(&mut r);
    }
    (r, w)
}

fn reply(r: &mut BufReader<TcpStream>) -> String {
    let mut all = String::new();
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).unwrap() == 0 {
            return all;
        }
        all.push_str(&line);
        if line.as_bytes().get(3) != Some(&b'-') {
            return all;
        }
    }
}

#[test]
fn pipelined_batch_is_answered_in_order_none_lost() {
    let f = start(Opts::default());
    let (mut r, mut w) = connect(&f);
    reply(&mut r);
    let mut batch = b"EHLO c\r\n".to_vec();
    for i in 0..200 {
        batch.extend_from_slice(format!("MAIL FROM:<s{i}@x>\r\nRCPT TO:<r{i}@y>\r\nDATA\r\nSubject: {i}\r\n\r\n.body {i}\r\n.\r\n").as_bytes());
    }
    batch.extend_from_slice(b"QUIT\r\n");
    w.write_all(&batch).unwrap();
    let mut got = String::new();
    r.read_to_string(&mut got).unwrap();
    let codes: Vec<&str> = got
        .lines()
        .filter(|l| l.as_bytes().get(3) == Some(&b' '))
        .map(|l| &l[..3])
        .collect();
    let mut want = vec!["250"];
    for _ in 0..200 {
        want.extend(["250", "250", "354", "250"]);
    }
    want.push("221");
    assert_eq!(codes, want);
    f.settle(1);
    let m = f.svc.daemon().messages();
    assert_eq!(m.len(), 200);
    for (i, m) in m.iter().enumerate() {
        assert_eq!(m.mail_from, format!("s{i}@x"));
        assert_eq!(m.text(), format!("Subject: {i}\r\n\r\nbody {i}\r\n"));
    }
}

#[test]
fn long_lines_nuls_and_invalid_utf8_get_errors_and_are_recorded() {
    let f = start(Opts::default());
    let (mut r, mut w) = connect(&f);
    reply(&mut r);
    let long = vec![b'A'; 200_000];
    w.write_all(b"EHLO ").unwrap();
    w.write_all(&long).unwrap();
    w.write_all(b"\r\n").unwrap();
    assert!(reply(&mut r).starts_with("500 5.5.2 Line too long"));
    w.write_all(b"EHLO a\0b\r\n").unwrap();
    assert!(reply(&mut r).starts_with("500"));
    w.write_all(b"MAIL FROM:<\xff\xfe@x>\r\n").unwrap();
    assert!(reply(&mut r).starts_with("500"));
    w.write_all(b"\r\n").unwrap();
    assert!(reply(&mut r).starts_with("500"));
    w.write_all(b"HELO ok\r\nQUIT\r\n").unwrap();
    assert!(reply(&mut r).starts_with("250"));
    assert!(reply(&mut r).starts_with("221"));
    f.settle(1);
    let t = &f.server.recorder().transcripts()[0];
    let them: Vec<_> = t
        .events
        .iter()
        .filter(|e| e.dir == fakeserver::record::Dir::Them)
        .collect();
    assert_eq!(
        them[0].text.len(),
        5 + 200_000,
        "the long line is kept whole"
    );
    assert_eq!(them[1].bytes(), b"EHLO a\0b");
    assert_eq!(them[2].bytes(), b"MAIL FROM:<\xff\xfe@x>");
    assert!(f.text().contains("note: line too long (200005 bytes)"));
}

#[test]
fn client_disconnecting_mid_data_is_recorded_and_no_message_kept() {
    let f = start(Opts::default());
    let (r, mut w) = in_data(&f);
    w.write_all(b"Subject: cut\r\n\r\npartial line without end")
        .unwrap();
    drop(w);
    drop(r);
    f.settle(1);
    assert_eq!(f.svc.daemon().count(), 0);
    let t = f.text();
    assert!(
        t.contains("data: Subject: cut") && t.contains("partial line without end"),
        "{t}"
    );
    assert!(t.contains("note: client closed the connection"), "{t}");
}

#[test]
fn fault_drops_after_n_bytes_of_data() {
    let f = start(Opts {
        faults: "[[fault]]\non = \"data\"\nafter_bytes = 100\naction = \"drop\"\n",
        ..Opts::default()
    });
    let (mut r, mut w) = in_data(&f);
    let _ = w.write_all(&[b'x'; 150]);
    let _ = w.write_all(b"\r\n.\r\n");
    assert_eq!(reply(&mut r), "", "the connection is dropped");
    f.settle(1);
    assert_eq!(f.svc.daemon().count(), 0);
    assert!(f.text().contains("fault: dropped after"), "{}", f.text());
}

#[test]
fn client_that_never_reads_is_cut_by_the_timeout() {
    let f = start(Opts {
        idle: Duration::from_secs(2),
        ..Opts::default()
    });
    let (_r, mut w) = connect(&f);
    // Ask for replies forever, never read them: the socket buffers fill, the write times out.
    let junk = b"NOOP\r\n".repeat(10_000);
    let t0 = std::time::Instant::now();
    w.set_write_timeout(Some(Duration::from_secs(30))).unwrap();
    while t0.elapsed() < Duration::from_secs(30) {
        if w.write_all(&junk).is_err() {
            break;
        }
    }
    f.settle(1);
    assert!(
        t0.elapsed() < Duration::from_secs(30),
        "server never gave up"
    );
    let t = f.text();
    assert!(
        t.contains("client does not read") || t.contains("idle timeout"),
        "{}",
        &t[t.len() - 300..]
    );
}

#[test]
fn idle_client_gets_421() {
    let f = start(Opts {
        idle: Duration::from_secs(1),
        ..Opts::default()
    });
    let (mut r, _w) = connect(&f);
    reply(&mut r);
    assert!(reply(&mut r).starts_with("421 4.4.2"));
    assert_eq!(reply(&mut r), "");
}

#[test]
fn a_thousand_simultaneous_connections() {
    let f = start(Opts::default());
    let addr = f.server.addr();
    let threads: Vec<_> = (0..10)
        .map(|t| {
            std::thread::spawn(move || {
                let mut conns = Vec::new();
                for _ in 0..100 {
                    let s = TcpStream::connect(addr).unwrap();
                    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
                    conns.push(s);
                }
                // Every connection is open at once; now each sends a message.
                for (i, s) in conns.iter_mut().enumerate() {
                    write!(s, "HELO c\r\nMAIL FROM:<t{t}@x>\r\nRCPT TO:<c{i}@y>\r\nDATA\r\nx\r\n.\r\nQUIT\r\n").unwrap();
                }
                for s in conns.iter_mut() {
                    let mut got = String::new();
                    s.read_to_string(&mut got).unwrap();
                    assert!(got.ends_with("221 2.0.0 localhost closing connection\r\n"), "{got}");
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    f.settle(1000);
    assert_eq!(f.svc.daemon().count(), 1000);
    assert_eq!(f.server.recorder().transcripts().len(), 1000);
    assert_eq!(f.server.active_connections(), 0);
}

#[test]
fn stop_ends_open_connections_and_drop_after_panic_leaks_nothing() {
    let f = start(Opts::default());
    let addr = f.server.addr();
    let (mut r, _w) = connect(&f);
    reply(&mut r);
    let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
        let _f = f;
        panic!("test failure while a client is connected");
    }));
    assert!(res.is_err());
    // The server was dropped during the unwind: the client sees the close, nobody listens.
    assert_eq!(reply(&mut r), "");
    assert!(TcpStream::connect(addr).is_err());
}

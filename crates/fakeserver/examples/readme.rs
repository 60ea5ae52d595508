//! The library example of the README (tests/readme.rs checks the README shows this file).
use fakeserver::auth::Users;
use fakeserver::personality::Section;
use fakeserver::server::{self, ServerConfig};
use fakeserver::smtp::SmtpService;
use std::io::{BufRead, BufReader, Write};
use std::sync::Arc;
use std::time::Duration;

pub fn main() -> anyhow::Result<()> {
    // A daemon (accepted messages) shared by every connection; any user may log in.
    let smtp = SmtpService::new(false, Section::default(), Arc::new(Users::open()));
    // Port 0: the OS picks. Dropping `server` stops it and joins every connection.
    let server = server::start(ServerConfig::new("smtp"), Arc::new(smtp.clone()))?;

    // The client under test would connect here; this one speaks by hand.
    let mut conn = std::net::TcpStream::connect(server.addr())?;
    conn.write_all(
        b"EHLO me\r\nMAIL FROM:<a@example.test>\r\nRCPT TO:<b@example.test>\r\n\
                     DATA\r\nSubject: hi\r\n\r\nbody\r\n.\r\nQUIT\r\n",
    )?;
    let last = BufReader::new(conn).lines().map_while(Result::ok).last();
    assert_eq!(
        last.as_deref(),
        Some("221 2.0.0 localhost closing connection")
    );

    // perform_test: wait for the end of the connection, then read the transaction.
    server.wait_for_connections_closed(1, Duration::from_secs(5))?;
    let messages = smtp.daemon().messages();
    assert_eq!(messages[0].rcpt_to, ["b@example.test"]);
    assert_eq!(messages[0].header("Subject").as_deref(), Some("hi"));
    let t = &server.recorder().transcripts()[0];
    assert_eq!(t.them()[1], "MAIL FROM:<a@example.test>");
    assert_eq!(t.us()[0], "220 localhost ESMTP fakeserver ready");
    server.reset(); // resetTest: forget messages and transcripts for the next test
    Ok(())
}

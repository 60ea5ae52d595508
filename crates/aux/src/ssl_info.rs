//! The lines `client-ssl` prints that come from OpenSSL rather than from client.c's own
//! `printf`s: the info callback (`SSL info: <SSL_state_string_long>` for every callback,
//! set with `SSL_CTX_set_info_callback`), the `-ocsp` status callback
//! (`tls_client_stapling_cb`: "Response verify OK", "Response Verify Failure", "no response
//! received"...) and `ERR_print_errors` output after a failed handshake.
//!
//! The sequences were recorded from a C program with client.c's OpenSSL callbacks, linked
//! with Debian 12's OpenSSL 3.0, against Debian's Exim 4.96 (GnuTLS) and `openssl s_server`
//! (TLS 1.2 and 1.3, with and without a certificate request, a client certificate and a
//! stapled response).
//!
//! Gaps, because rustls does not expose OpenSSL's state machine: the lines are built after
//! the handshake from what it did (version, certificate request, certificate sent,
//! stapling), not emitted state by state; a handshake that fails after the first server
//! flight is reported with the lines of one that failed on the server's first answer; TLS
//! 1.2 session tickets are not asked for (OpenSSL asks, and then prints "SSLv3/TLS read
//! server session ticket"), and a HelloRetryRequest adds no lines. In error lines, the
//! library-internal lines OpenSSL stacks under a failed signature check are given for RSA
//! only, and the source line numbers are those of OpenSSL 3.0.19.

use crate::tls::{HandshakeFailure, PeerReport};
use crate::tls_ocsp::OpensslVerdict;

const BEFORE: &str = "before SSL initialization";
const HELLO: &str = "SSLv3/TLS write client hello";
const DONE: &str = "SSL negotiation finished successfully";

/// The info-callback line for a state.
pub fn info(state: &str) -> String {
    format!("SSL info: {state}")
}

/// What the handshake did, for the info lines.
#[derive(Debug, Clone, Default)]
pub struct Trace {
    pub tls13: bool,
    pub report: PeerReport,
    /// `-ocsp` was given (the status callback runs).
    pub ocsp: bool,
}

/// The lines of a successful handshake, the status callback's output in its place.
pub fn success_lines(t: &Trace) -> Vec<String> {
    let r = &t.report;
    let mut v: Vec<String> = Vec::new();
    let mut s = |x: &str| v.push(info(x));
    s(BEFORE);
    s(BEFORE);
    s(HELLO);
    s(HELLO);
    s("SSLv3/TLS read server hello");
    if t.tls13 {
        s("TLSv1.3 read encrypted extensions");
        if r.cert_requested {
            s("SSLv3/TLS read server certificate request");
        }
        s("SSLv3/TLS read server certificate");
        s("TLSv1.3 read server certificate verify");
        v.extend(status_lines(t));
        let mut s = |x: &str| v.push(info(x));
        s("SSLv3/TLS read finished");
        s("SSLv3/TLS write change cipher spec");
        if r.cert_requested {
            s("SSLv3/TLS write client certificate");
        }
        if r.cert_sent {
            s("SSLv3/TLS write certificate verify");
        }
        s("SSLv3/TLS write finished");
    } else {
        s("SSLv3/TLS read server certificate");
        if t.ocsp && r.ocsp_stapled {
            s("SSLv3/TLS read certificate status");
        }
        s("SSLv3/TLS read server key exchange");
        if r.cert_requested {
            s("SSLv3/TLS read server certificate request");
        }
        v.extend(status_lines(t));
        let mut s = |x: &str| v.push(info(x));
        s("SSLv3/TLS read server done");
        if r.cert_requested {
            s("SSLv3/TLS write client certificate");
        }
        s("SSLv3/TLS write client key exchange");
        if r.cert_sent {
            s("SSLv3/TLS write certificate verify");
        }
        s("SSLv3/TLS write change cipher spec");
        s("SSLv3/TLS write finished");
        s("SSLv3/TLS write finished");
        s("SSLv3/TLS read change cipher spec");
        s("SSLv3/TLS read finished");
    }
    v.push(info(DONE));
    v.push(info(DONE));
    v
}

/// What the status callback printed (nothing when `-ocsp` was not given).
fn status_lines(t: &Trace) -> Vec<String> {
    if !t.ocsp {
        return Vec::new();
    }
    if t.report.ocsp_ca_unreadable {
        return vec!["error in cert setup".into()];
    }
    match t.report.openssl_ocsp {
        None => Vec::new(),
        Some(OpensslVerdict::NoResponse) => vec!["no response received".into()],
        Some(OpensslVerdict::Verified) => vec!["Response verify OK".into()],
        Some(OpensslVerdict::ParseError) => vec!["response parse error".into()],
        Some(OpensslVerdict::NotBasic) => vec!["error parsing response".into()],
        Some(OpensslVerdict::SignerNotFound) => vec![
            "Response Verify Failure".into(),
            pem_read_to_end(),
            err_line(
                "13800076",
                "OCSP routines",
                "OCSP_basic_verify",
                "signer certificate not found",
                "crypto/ocsp/ocsp_vfy.c:107",
                "",
            ),
        ],
        Some(OpensslVerdict::SignatureFailure { rsa }) => {
            let mut v = vec!["Response Verify Failure".into(), pem_read_to_end()];
            if rsa {
                v.push(err_line(
                    "0200008A",
                    "rsa routines",
                    "RSA_padding_check_PKCS1_type_1",
                    "invalid padding",
                    "crypto/rsa/rsa_pk1.c:75",
                    "",
                ));
                v.push(err_line(
                    "02000072",
                    "rsa routines",
                    "rsa_ossl_public_decrypt",
                    "padding check failed",
                    "crypto/rsa/rsa_ossl.c:590",
                    "",
                ));
                v.push(err_line(
                    "1C880004",
                    "Provider routines",
                    "rsa_verify",
                    "RSA lib",
                    "providers/implementations/signature/rsa_sig.c:769",
                    "",
                ));
            }
            v.push(err_line(
                "06880006",
                "asn1 encoding routines",
                "ASN1_item_verify_ctx",
                "EVP lib",
                "crypto/asn1/a_verify.c:220",
                "",
            ));
            v.push(err_line(
                "13800075",
                "OCSP routines",
                "ocsp_verify",
                "signature failure",
                "crypto/ocsp/ocsp_vfy.c:92",
                "",
            ));
            v
        }
    }
}

/// The lines of a failed handshake, up to (not including) client.c's "Failed to start TLS".
pub fn failure_lines(t: &Trace) -> Vec<String> {
    let mut v = vec![info(BEFORE), info(BEFORE), info(HELLO)];
    match t.report.failure {
        Some(HandshakeFailure::StatusCallback) => {
            // The server's flight was read up to the status check.
            let mut ok = success_lines(t);
            let cut = ok
                .iter()
                .position(|l| {
                    l.starts_with("SSL info: SSLv3/TLS read finished")
                        || l.starts_with("SSL info: SSLv3/TLS read server done")
                })
                .unwrap_or(ok.len());
            ok.truncate(cut);
            v = ok;
            v.push(info("error"));
            v.push(info("error"));
            v.push(err_line(
                "0A000148",
                "SSL routines",
                "tls_process_initial_server_flight",
                "invalid status response",
                "ssl/statem/statem_clnt.c:2703",
                "",
            ));
        }
        Some(HandshakeFailure::Alert(code)) => {
            // One line for the flush, one for the alert read, then the exit.
            v.push(info(HELLO));
            v.push(info("error"));
            let (prefix, text) = alert_text(code);
            v.push(err_line(
                &format!("0A{:06X}", 1000 + u32::from(code)),
                "SSL routines",
                "ssl3_read_bytes",
                &format!("{prefix} alert {text}"),
                "ssl/record/rec_layer_s3.c:1601",
                &format!("SSL alert number {code}"),
            ));
        }
        Some(HandshakeFailure::NotTls) => {
            v.push(info("error"));
            v.push(err_line(
                "0A00010B",
                "SSL routines",
                "ssl3_get_record",
                "wrong version number",
                "ssl/record/ssl3_record.c:350",
                "",
            ));
        }
        // OpenSSL 3.0 records nothing for a connection closed during the handshake.
        Some(HandshakeFailure::Eof) => v.push(info(HELLO)),
        Some(HandshakeFailure::Other) | None => {
            v.push(info(HELLO));
            v.push(info("error"));
        }
    }
    v
}

/// The lines OpenSSL's info callback gives for each TLS 1.3 session ticket read after
/// the handshake.
pub fn ticket_lines(n: usize) -> Vec<String> {
    let one = [
        info(DONE),
        info(DONE),
        info("SSLv3/TLS read server session ticket"),
        info(DONE),
    ];
    std::iter::repeat_n(one, n).flatten().collect()
}

/// The line for a close_notify read or written (the alert callback, in the "finished" state).
pub fn close_notify_line() -> String {
    info(DONE)
}

/// What client.c prints (`ERR_error_string`) when SSL_read fails, for the GnuTLS-worded
/// failure the TLS layer reports. Only a connection closed without close_notify has an
/// exact OpenSSL equivalent (OpenSSL 3 treats it as an error); other failures keep the
/// TLS layer's text.
pub fn read_error_text(gnutls_text: &str) -> String {
    if gnutls_text == "The TLS connection was non-properly terminated." {
        "error:0A000126:SSL routines::unexpected eof while reading".to_string()
    } else {
        gnutls_text.to_string()
    }
}

/// OpenSSL's alert description texts (`SSL_alert_desc_string_long`) with the prefix its
/// reason strings use.
fn alert_text(code: u8) -> (&'static str, &'static str) {
    match code {
        0 => ("sslv3", "close notify"),
        10 => ("sslv3", "unexpected message"),
        20 => ("sslv3", "bad record mac"),
        40 => ("sslv3", "handshake failure"),
        42 => ("sslv3", "no certificate"),
        43 => ("sslv3", "unsupported certificate"),
        44 => ("sslv3", "certificate revoked"),
        45 => ("sslv3", "certificate expired"),
        46 => ("sslv3", "certificate unknown"),
        47 => ("sslv3", "illegal parameter"),
        48 => ("tlsv1", "unknown ca"),
        49 => ("tlsv1", "access denied"),
        50 => ("tlsv1", "decode error"),
        51 => ("tlsv1", "decrypt error"),
        70 => ("tlsv1", "protocol version"),
        71 => ("tlsv1", "insufficient security"),
        80 => ("tlsv1", "internal error"),
        86 => ("tlsv1", "inappropriate fallback"),
        90 => ("tlsv1", "user cancelled"),
        109 => ("tlsv13", "missing extension"),
        112 => ("tlsv1", "unrecognized name"),
        116 => ("tlsv13", "alert certificate required"),
        120 => ("tlsv1", "no application protocol"),
        _ => ("tlsv1", "unknown"),
    }
}

/// One `ERR_print_errors` line of OpenSSL 3.0:
/// `<thread id>:error:<code>:<library>:<function>:<reason>:<file>:<line>:<data>`.
/// The error OpenSSL leaves after chain_from_pem_file has read the CA file to its end.
fn pem_read_to_end() -> String {
    err_line(
        "0480006C",
        "PEM routines",
        "get_name",
        "no start line",
        "crypto/pem/pem_lib.c:760",
        "Expecting: CERTIFICATE",
    )
}

fn err_line(
    code: &str,
    lib: &str,
    func: &str,
    reason: &str,
    file_line: &str,
    data: &str,
) -> String {
    format!(
        "{}:error:{code}:{lib}:{func}:{reason}:../{file_line}:{data}",
        thread_id()
    )
}

/// OpenSSL prints the thread id as the hex bytes of `pthread_self()` in memory order.
fn thread_id() -> String {
    // SAFETY: pthread_self has no preconditions.
    let id = unsafe { libc::pthread_self() };
    id.to_ne_bytes()
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trace(tls13: bool, f: impl FnOnce(&mut PeerReport)) -> Trace {
        let mut report = PeerReport::default();
        f(&mut report);
        Trace {
            tls13,
            report,
            ocsp: true,
        }
    }

    fn strip(v: Vec<String>) -> Vec<String> {
        v.into_iter()
            .map(|l| {
                l.strip_prefix("SSL info: ")
                    .map(|s| format!("~{s}"))
                    .unwrap_or(l)
            })
            .collect()
    }

    #[test]
    fn tls13_with_certificate_and_good_response() {
        // Recorded: OpenSSL 3.0 against Exim 4.96 asking for a certificate.
        let t = trace(true, |r| {
            r.cert_requested = true;
            r.cert_sent = true;
            r.ocsp_stapled = true;
            r.openssl_ocsp = Some(OpensslVerdict::Verified);
        });
        assert_eq!(
            strip(success_lines(&t)),
            [
                "~before SSL initialization",
                "~before SSL initialization",
                "~SSLv3/TLS write client hello",
                "~SSLv3/TLS write client hello",
                "~SSLv3/TLS read server hello",
                "~TLSv1.3 read encrypted extensions",
                "~SSLv3/TLS read server certificate request",
                "~SSLv3/TLS read server certificate",
                "~TLSv1.3 read server certificate verify",
                "Response verify OK",
                "~SSLv3/TLS read finished",
                "~SSLv3/TLS write change cipher spec",
                "~SSLv3/TLS write client certificate",
                "~SSLv3/TLS write certificate verify",
                "~SSLv3/TLS write finished",
                "~SSL negotiation finished successfully",
                "~SSL negotiation finished successfully",
            ]
        );
    }

    #[test]
    fn tls12_stapled_no_certificate_request() {
        let t = trace(false, |r| {
            r.ocsp_stapled = true;
            r.openssl_ocsp = Some(OpensslVerdict::Verified);
        });
        assert_eq!(
            strip(success_lines(&t)),
            [
                "~before SSL initialization",
                "~before SSL initialization",
                "~SSLv3/TLS write client hello",
                "~SSLv3/TLS write client hello",
                "~SSLv3/TLS read server hello",
                "~SSLv3/TLS read server certificate",
                "~SSLv3/TLS read certificate status",
                "~SSLv3/TLS read server key exchange",
                "Response verify OK",
                "~SSLv3/TLS read server done",
                "~SSLv3/TLS write client key exchange",
                "~SSLv3/TLS write change cipher spec",
                "~SSLv3/TLS write finished",
                "~SSLv3/TLS write finished",
                "~SSLv3/TLS read change cipher spec",
                "~SSLv3/TLS read finished",
                "~SSL negotiation finished successfully",
                "~SSL negotiation finished successfully",
            ]
        );
        // Without -ocsp: no status request, so no status line and no callback output.
        let mut t = t;
        t.ocsp = false;
        let lines = success_lines(&t);
        assert!(!lines
            .iter()
            .any(|l| l.contains("certificate status") || l.starts_with("Response")));
    }

    #[test]
    fn tls12_certificate_requested_none_sent() {
        let t = trace(false, |r| r.cert_requested = true);
        let lines = strip(success_lines(&t));
        let i = lines
            .iter()
            .position(|l| l == "~SSLv3/TLS read server certificate request")
            .unwrap();
        assert_eq!(lines[i + 1], "~SSLv3/TLS read server done");
        assert_eq!(lines[i + 2], "~SSLv3/TLS write client certificate");
        assert_eq!(lines[i + 3], "~SSLv3/TLS write client key exchange");
        assert_eq!(lines[i + 4], "~SSLv3/TLS write change cipher spec");
    }

    #[test]
    fn failures() {
        let tid = thread_id();
        assert_eq!(tid.len(), 16);
        let t = trace(false, |r| r.failure = Some(HandshakeFailure::Alert(40)));
        assert_eq!(
            failure_lines(&t),
            [
                info(BEFORE), info(BEFORE), info(HELLO), info(HELLO), info("error"),
                format!("{tid}:error:0A000410:SSL routines:ssl3_read_bytes:sslv3 alert handshake failure:../ssl/record/rec_layer_s3.c:1601:SSL alert number 40"),
            ]
        );
        let t = trace(false, |r| r.failure = Some(HandshakeFailure::NotTls));
        assert_eq!(
            failure_lines(&t)[3..],
            [info("error"), format!("{tid}:error:0A00010B:SSL routines:ssl3_get_record:wrong version number:../ssl/record/ssl3_record.c:350:")]
        );
        let t = trace(true, |r| {
            r.ocsp_stapled = true;
            r.openssl_ocsp = Some(OpensslVerdict::SignerNotFound);
            r.failure = Some(HandshakeFailure::StatusCallback);
        });
        let lines = failure_lines(&t);
        let n = lines.len();
        assert_eq!(lines[n - 7], info("TLSv1.3 read server certificate verify"));
        assert_eq!(lines[n - 6], "Response Verify Failure");
        assert!(lines[n - 4].ends_with(":error:13800076:OCSP routines:OCSP_basic_verify:signer certificate not found:../crypto/ocsp/ocsp_vfy.c:107:"));
        assert_eq!(lines[n - 3..n - 1], [info("error"), info("error")]);
        assert!(lines[n - 1].ends_with("tls_process_initial_server_flight:invalid status response:../ssl/statem/statem_clnt.c:2703:"));
    }

    #[test]
    fn tickets() {
        assert_eq!(ticket_lines(0), Vec::<String>::new());
        let two = ticket_lines(2);
        assert_eq!(two.len(), 8);
        assert_eq!(two[2], "SSL info: SSLv3/TLS read server session ticket");
    }
}

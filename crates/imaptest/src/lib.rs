//! imaptest: a Dovecot-imaptest-compatible IMAP server tester.

//! The library behind the aux programs of the Exim test harness: `client` (plain and TLS),
//! `server`, `mtpscript`, `fakens` and the small ones (checkaccess, fd, showids). Each binary
//! in src/bin is a thin main over one of these modules.

pub mod client;
pub mod client_args;
pub mod mtp;
pub mod net;
pub mod script;
pub mod ssl_info;
pub mod tls;
pub mod tls_ocsp;
pub mod tls_priority;
pub mod transcript;

// fakens and the small programs (checkaccess, fd, showids).
pub mod checkaccess;
pub mod cli_util;
pub mod dns_name;
pub mod dns_reply;
pub mod fakens;
pub mod fd_report;
pub mod server;
pub mod server_args;
pub mod showids;
pub mod zone;
pub mod zone_dir;

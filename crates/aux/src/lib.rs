//! Library behind the aux programs (placeholder; being written).

pub mod client;
pub mod client_args;
pub mod mtp;
pub mod net;
pub mod script;
pub mod tls;
pub mod ssl_info;
pub mod tls_ocsp;
pub mod tls_priority;

// fakens and the small programs (checkaccess, fd, showids).
pub mod checkaccess;
pub mod dns_name;
pub mod dns_reply;
pub mod fakens;
pub mod fd_report;
pub mod showids;
pub mod zone;
pub mod zone_dir;
pub mod server;
pub mod server_args;
pub mod cli_util;

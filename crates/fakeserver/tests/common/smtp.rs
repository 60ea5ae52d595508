//! SMTP and LMTP test servers: an `SmtpService` with a personality section and users, on the
//! shared listener set-up.

use super::{faults, serve, Net};
#[allow(unused_imports)] // each test binary uses its own part
pub use super::{is_root, run, text};
use fakeserver::auth::Users;
use fakeserver::personality::Section;
use fakeserver::smtp::SmtpService;
use fakeserver::tls::Preset;
use std::sync::Arc;
use std::time::Duration;

pub type Fake = super::Fake<Arc<SmtpService>>;

pub struct Opts {
    pub lmtp: bool,
    pub tls: Option<Preset>,
    pub implicit: bool,
    pub faults: &'static str,
    pub users: Option<Users>,
    pub section: Section,
    pub idle: Duration,
}

impl Default for Opts {
    fn default() -> Self {
        Opts {
            lmtp: false,
            tls: None,
            implicit: false,
            faults: "",
            users: None,
            section: Section::default(),
            idle: Duration::from_secs(20),
        }
    }
}

pub fn start(o: Opts) -> Fake {
    let svc = SmtpService::new(
        o.lmtp,
        o.section,
        Arc::new(o.users.unwrap_or_else(Users::open)),
    );
    let net = Net {
        tls: o.tls,
        implicit: o.implicit,
        faults: faults(o.faults),
        idle: o.idle,
        ..Net::default()
    };
    serve(if o.lmtp { "lmtp" } else { "smtp" }, Arc::new(svc), &net)
}

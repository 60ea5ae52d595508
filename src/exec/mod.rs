//! Running the processes a test needs: shell command lines as the Perl runtest builds them
//! (run without the shell when they need none: `argv`),
//! under the right identity (`privilege`), with their stdin data fed from a thread, a
//! per-command timeout, programs whose output is captured (`capture`), the one `executor`
//! through which a test launches everything (its timeout, its readiness checks, with `idle`
//! telling a daemon that has started up from one still starting), and a
//! clean-up that leaves no process behind (`reap`).

pub mod argv;
pub mod capture;
pub mod cpu;
pub mod executor;
pub mod idle;
pub mod privilege;
pub mod process;
pub mod reap;

pub use capture::{capture, capture_program, Captured};
pub use executor::{perl_lead, Executor, Ready};
pub use privilege::Identity;
pub use process::{Feed, Finished, Running, ShellCommand};

//! fd: reports the open file descriptors of the process, in fd.c's format.
//!
//! Exim's test 0142 runs it as a pipe command and as a transport filter to prove Exim
//! leaks no descriptors into them. The report is
//!
//! ```text
//! max fd = N                                    (sysconf(_SC_OPEN_MAX) - 1)
//! %3d opt=FD_FLAGS status=FL_FLAGS(hex) RDONLY|WRONLY|RDWR[ TTY][ APPEND][ mode=%o uid=%d size=%d]
//! %3d errno=E text                              (fcntl failed other than EBADF)
//! ```
//!
//! and the runner's munging turns it into `max fd = dddd` and `  0 opt=0 STATUS`. Options
//! (any order, like fd.c): `-f` copy stdin to stdout first (transport filter), `-q` print
//! the report as one queryprogram line `ACCEPT DATA="…"`, `-s` add fstat details.

use std::io::{self, Read, Write};

/// What the command line asked for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Options {
    /// `-q`: one `ACCEPT DATA="…"` line for a queryprogram router.
    pub queryprogram: bool,
    /// `-f`: copy stdin to stdout before the report.
    pub filter: bool,
    /// `-s`: add mode, owner and size from fstat.
    pub stat: bool,
}

/// What one descriptor looks like.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FdInfo {
    Open {
        fd: i32,
        /// F_GETFD flags (FD_CLOEXEC).
        options: i32,
        /// F_GETFL flags (access mode, O_APPEND…).
        status: i32,
        tty: bool,
        /// (mode, uid, size) when `-s` was given and fstat worked.
        stat: Option<(u32, u32, i64)>,
    },
    /// fcntl failed with an errno other than EBADF.
    Error { fd: i32, errno: i32 },
}

impl FdInfo {
    /// The report line, newline included.
    pub fn line(&self) -> String {
        match self {
            FdInfo::Open {
                fd,
                options,
                status,
                tty,
                stat,
            } => {
                let mode = match status & libc::O_ACCMODE {
                    libc::O_RDONLY => " RDONLY",
                    libc::O_WRONLY => " WRONLY",
                    libc::O_RDWR => " RDWR",
                    _ => "",
                };
                let mut line = format!("{fd:3} opt={options} status={status:X}{mode}");
                if *tty {
                    line.push_str(" TTY");
                }
                if status & libc::O_APPEND != 0 {
                    line.push_str(" APPEND");
                }
                if let Some((mode, uid, size)) = stat {
                    line.push_str(&format!(" mode={mode:o} uid={uid} size={size}"));
                }
                line.push('\n');
                line
            }
            FdInfo::Error { fd, errno } => {
                let text = crate::net::strerror(&io::Error::from_raw_os_error(*errno));
                format!("{fd:3} errno={errno} {text}\n")
            }
        }
    }
}

/// The highest descriptor number to look at, as fd.c computes it.
pub fn max_fd() -> i32 {
    // SAFETY: sysconf has no memory-safety preconditions.
    let open_max = unsafe { libc::sysconf(libc::_SC_OPEN_MAX) };
    if open_max > 0 {
        i32::try_from(open_max - 1).unwrap_or(i32::MAX)
    } else {
        255
    }
}

/// Looks at one descriptor; `None` when it is not open.
pub fn probe(fd: i32, with_stat: bool) -> Option<FdInfo> {
    // SAFETY: F_GETFD/F_GETFL only read the descriptor table; an unused number gives EBADF.
    let options = unsafe { libc::fcntl(fd, libc::F_GETFD) };
    if options < 0 {
        let errno = io::Error::last_os_error().raw_os_error().unwrap_or(0);
        return (errno != libc::EBADF).then_some(FdInfo::Error { fd, errno });
    }
    // SAFETY: as above.
    let status = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    // SAFETY: isatty only queries the descriptor.
    let tty = unsafe { libc::isatty(fd) } == 1;
    let stat = with_stat.then(|| fstat(fd)).flatten();
    Some(FdInfo::Open {
        fd,
        options,
        status,
        tty,
        stat,
    })
}

fn fstat(fd: i32) -> Option<(u32, u32, i64)> {
    let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: fstat fills the buffer when it returns 0, and we read it only then.
    if unsafe { libc::fstat(fd, st.as_mut_ptr()) } != 0 {
        return None;
    }
    // SAFETY: initialised by the successful fstat above.
    let st = unsafe { st.assume_init() };
    Some((st.st_mode, st.st_uid, st.st_size))
}

/// The full report for descriptors 0..=max.
pub fn report(max: i32, with_stat: bool) -> String {
    let mut out = format!("max fd = {max}\n");
    for fd in 0..=max {
        if let Some(info) = probe(fd, with_stat) {
            out.push_str(&info.line());
        }
    }
    out
}

/// The queryprogram form: newlines become spaces inside `ACCEPT DATA="…"`.
pub fn as_queryprogram(report: &str) -> String {
    format!("ACCEPT DATA=\"{}\"\n", report.replace('\n', " "))
}

/// Does what fd.c does: optional copy of stdin, then the report on stdout.
pub fn run(options: Options, input: &mut dyn Read, output: &mut dyn Write) -> io::Result<()> {
    if options.filter {
        io::copy(input, output)?;
    }
    let text = report(max_fd(), options.stat);
    if options.queryprogram {
        output.write_all(as_queryprogram(&text).as_bytes())?;
    } else {
        output.write_all(text.as_bytes())?;
    }
    output.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

    #[test]
    fn lines_look_like_fd_c() {
        let info = FdInfo::Open {
            fd: 0,
            options: 0,
            status: 0x8000,
            tty: false,
            stat: None,
        };
        assert_eq!(info.line(), "  0 opt=0 status=8000 RDONLY\n");
        let info = FdInfo::Open {
            fd: 12,
            options: 1,
            status: libc::O_WRONLY | libc::O_APPEND,
            tty: true,
            stat: Some((0o100644, 1000, 42)),
        };
        assert_eq!(
            info.line(),
            " 12 opt=1 status=401 WRONLY TTY APPEND mode=100644 uid=1000 size=42\n"
        );
        let info = FdInfo::Error {
            fd: 3,
            errno: libc::EACCES,
        };
        assert_eq!(info.line(), "  3 errno=13 Permission denied\n");
    }

    #[test]
    fn probe_sees_open_and_closed_descriptors() {
        let file = tempfile::tempfile().unwrap();
        let fd = file.as_raw_fd();
        match probe(fd, true) {
            Some(FdInfo::Open {
                status,
                stat: Some((mode, _, size)),
                ..
            }) => {
                assert_eq!(status & libc::O_ACCMODE, libc::O_RDWR);
                assert_eq!(mode & libc::S_IFMT, libc::S_IFREG);
                assert_eq!(size, 0);
            }
            other => panic!("{other:?}"),
        }
        drop(file);
        assert_eq!(probe(fd, false), None);
    }

    #[test]
    fn report_and_queryprogram_forms() {
        let text = report(2, false);
        assert!(text.starts_with("max fd = 2\n"), "{text}");
        assert_eq!(
            as_queryprogram("max fd = 2\n  0 opt=0 x\n"),
            "ACCEPT DATA=\"max fd = 2   0 opt=0 x \"\n"
        );
    }

    #[test]
    fn filter_copies_input_first() {
        let mut out = Vec::new();
        let options = Options {
            filter: true,
            ..Options::default()
        };
        run(options, &mut &b"Test message\n"[..], &mut out).unwrap();
        let out = String::from_utf8(out).unwrap();
        assert!(out.starts_with("Test message\nmax fd = "), "{out}");
    }
}

//! The commands of the script language, as data. One variant per command the Perl runtest
//! understands; the runner decides what each means at run time.

/// A `sudo` prefix: run as root, or as the named user with `sudo -u USER`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sudo {
    Root,
    User(String),
}

/// The prefix of a data line (`:eval:`, `:noeol:`, `:sleep:`), processed by the runner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataPrefix {
    None,
    /// `:eval:` — Perl double-quoted string escapes; no newline is added.
    Eval,
    /// `:noeol:` — the line is sent without its newline.
    NoEol,
    /// `:sleep:N` — sleep N seconds, send nothing.
    Sleep,
}

/// One data line of a command (between the command and `****`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataLine {
    pub prefix: DataPrefix,
    /// The text after the prefix, without the newline.
    pub text: String,
}

/// `need_*` requirements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NeedKind {
    Ipv4,
    Ipv6,
    LargeFiles,
    MoveFrozenMessages,
}

/// `no_*_check` commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NoCheck {
    Message,
    Msglog,
    Stderr,
    Stdout,
}

/// One `NxM[=text]` item of `write`/`catwrite`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineSpec {
    pub count: usize,
    pub length: usize,
    /// Replaces the first characters of each line; `_` stands for a space.
    pub start: Option<String>,
}

/// `write`/`catwrite` arguments and data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteSpec {
    pub file: String,
    pub specs: Vec<LineSpec>,
    /// Lines before `++++` (all lines when there is no `++++`).
    pub before: Vec<String>,
    /// Lines after `++++`.
    pub after: Vec<String>,
}

/// The ordinary file commands, run through the shell like the Perl runtest does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileCommand {
    pub sudo: Option<Sudo>,
    /// The command line without the sudo prefix (e.g. `rm DIR/spool/db/*`).
    pub line: String,
}

/// A script command.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// `### text`: copied to test-stdout and test-stderr.
    Comment(String),
    /// `[VAR=val …] [N] [sudo [-u U]] exim[_exim] args` with its data lines.
    Exim {
        env: Vec<(String, String)>,
        /// Seconds to wait before closing Exim's stdin.
        wait_secs: u64,
        sudo: Option<Sudo>,
        /// `""` for exim, `"_exim"` for exim_exim.
        variant: String,
        args: String,
        data: Vec<DataLine>,
    },
    /// `client`, `client-ssl`, `client-gnutls`, `client-anytls` with its script.
    Client {
        sudo: Option<Sudo>,
        program: String,
        args: String,
        data: Vec<DataLine>,
    },
    /// `server args` with its script: runs in parallel until the next non-daemon exim.
    Server {
        args: String,
        data: Vec<DataLine>,
    },
    KillDaemon,
    Sleep(u64),
    MilliSleep(u64),
    /// `echo text`: shown on the terminal only.
    Echo(String),
    Munge(String),
    SortLog,
    RmFilterTest,
    NoCheck(NoCheck),
    Need(NeedKind),
    Gnutls,
    /// `dump <dbname>`.
    Dump(String),
    /// `dbmbuild <in> <out>`.
    DbmBuild(String),
    /// `exim_lock args`: holds the lock until the next non-daemon exim completes.
    EximLock(String),
    Exinext(String),
    Exigrep(String),
    Exiqgrep(String),
    Eximstats(String),
    /// `[sudo] perl [ARGS]`: perl run with the arguments as written (a script file, `-e`
    /// code), its stdin the data lines (the program itself when there are no arguments).
    Perl {
        sudo: Option<Sudo>,
        args: String,
        data: Vec<DataLine>,
    },
    /// `background` runs the next command without waiting for it.
    Background(Box<Command>),
    Write {
        catwrite: bool,
        spec: WriteSpec,
    },
    File(FileCommand),
}

impl Command {
    /// The command's name as written in scripts, for messages and statistics.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Comment(_) => "###",
            Command::Exim { variant, .. } if variant.is_empty() => "exim",
            Command::Exim { .. } => "exim_exim",
            Command::Client { .. } => "client",
            Command::Server { .. } => "server",
            Command::KillDaemon => "killdaemon",
            Command::Sleep(_) => "sleep",
            Command::MilliSleep(_) => "millisleep",
            Command::Echo(_) => "echo",
            Command::Munge(_) => "munge",
            Command::SortLog => "sortlog",
            Command::RmFilterTest => "rmfiltertest",
            Command::NoCheck(_) => "no_check",
            Command::Need(_) => "need",
            Command::Gnutls => "gnutls",
            Command::Dump(_) => "dump",
            Command::DbmBuild(_) => "dbmbuild",
            Command::EximLock(_) => "exim_lock",
            Command::Exinext(_) => "exinext",
            Command::Exigrep(_) => "exigrep",
            Command::Exiqgrep(_) => "exiqgrep",
            Command::Eximstats(_) => "eximstats",
            Command::Perl { .. } => "perl",
            Command::Background(_) => "background",
            Command::Write {
                catwrite: false, ..
            } => "write",
            Command::Write { catwrite: true, .. } => "catwrite",
            Command::File(_) => "file",
        }
    }
}

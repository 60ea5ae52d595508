//! `listtests [--suite DIR] [DIR-PATTERN [TITLE-PATTERN]]`: the heading of every test, folder
//! by folder, with each folder's requirements (patterns are case-insensitive regexes).

const USAGE: &str = "Usage: listtests [--suite DIR] [DIR-PATTERN [TITLE-PATTERN]]

Lists the tests of the suite in DIR (default: $MAILRIG_SUITE, else the current directory):
folders whose name matches DIR-PATTERN, tests whose heading matches TITLE-PATTERN, each
folder with the requirements of its REQUIRES file.";

fn fail(msg: &str) -> ! {
    eprintln!("listtests: {msg}\n\n{USAGE}");
    std::process::exit(2);
}

fn main() {
    let mut suite = std::env::var_os("MAILRIG_SUITE")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| ".".into());
    let mut patterns: Vec<String> = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "-h" | "--help" => {
                println!("{USAGE}");
                return;
            }
            "--suite" => {
                suite = args
                    .next()
                    .unwrap_or_else(|| fail("--suite needs a folder"))
                    .into()
            }
            s if s.starts_with("--suite=") => suite = s["--suite=".len()..].into(),
            s if s.starts_with('-') => fail(&format!("unknown option `{s}`")),
            _ => patterns.push(a),
        }
    }
    if patterns.len() > 2 {
        fail("at most two patterns");
    }
    let result = mailrig::suite::scan(&suite).and_then(|f| {
        mailrig::suite::listtests(
            &f,
            patterns.first().map(String::as_str),
            patterns.get(1).map(String::as_str),
        )
    });
    match result {
        Ok(text) if text.is_empty() => {
            let what = if patterns.is_empty() {
                "no tests"
            } else {
                "no test matches"
            };
            eprintln!("listtests: {what} in {}", suite.display());
            std::process::exit(1);
        }
        Ok(text) => mailrig::runner::page(&text),
        Err(e) => {
            eprintln!("listtests: {e:#}");
            std::process::exit(2);
        }
    }
}

//! `listtests [DIR-PATTERN [TITLE-PATTERN]]`: the heading of every test, folder by folder,
//! with each folder's requirements (patterns are case-insensitive regexes).

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "-h" || a == "--help") || args.len() > 2 {
        println!("Usage: listtests [DIR-PATTERN [TITLE-PATTERN]]\n\nLists the tests of the suite in the current directory (or $MAILRIG_SUITE):\nfolders whose name matches DIR-PATTERN, tests whose heading matches TITLE-PATTERN.");
        std::process::exit(if args.len() > 2 { 2 } else { 0 });
    }
    let suite = std::env::var_os("MAILRIG_SUITE").map(std::path::PathBuf::from).unwrap_or_else(|| ".".into());
    let result = mailrig::suite::scan(&suite)
        .and_then(|f| mailrig::suite::listtests(&f, args.first().map(String::as_str), args.get(1).map(String::as_str)));
    match result {
        Ok(text) => mailrig::runner::page(&text),
        Err(e) => {
            eprintln!("listtests: {e:#}");
            std::process::exit(2);
        }
    }
}

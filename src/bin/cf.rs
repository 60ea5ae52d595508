//! `cf FILE1 FILE2`: compare two text files and show the differences in the format of Exim's
//! test-suite `cf` program. Exit status 0 when they are the same, 1 when they differ, 2 on
//! error.

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() != 2 || args[0] == "--help" {
        eprintln!("Usage: cf FILE1 FILE2");
        std::process::exit(2);
    }
    let read = |p: &str| match std::fs::read(p) {
        Ok(b) => String::from_utf8_lossy(&b).into_owned(),
        Err(e) => {
            eprintln!("cf: {p}: {e}");
            std::process::exit(2);
        }
    };
    let (a, b) = (read(&args[0]), read(&args[1]));
    match mailrig::compare::cf(&args[0], &a, &args[1], &b) {
        None => println!("No differences"),
        Some(out) => {
            print!("{out}");
            std::process::exit(1);
        }
    }
}

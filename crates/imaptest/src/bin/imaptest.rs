//! The `imaptest` program (thin: parse arguments, call the library).
fn main() {
    eprintln!("imaptest: not built yet");
    std::process::exit(2);
}

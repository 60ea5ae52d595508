//! The `fakeserver` program (thin: parse arguments, call the library).
fn main() {
    eprintln!("fakeserver: not built yet");
    std::process::exit(2);
}

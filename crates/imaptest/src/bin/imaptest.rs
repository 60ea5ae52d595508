//! The `imaptest` program (thin: parse arguments, call the library).
fn main() {
    std::process::exit(imaptest::main_with(std::env::args().skip(1).collect()));
}

//! The `imaptest` program (thin: parse arguments, call the library).

// Stress mode allocates and frees a small value tree for every server line; mimalloc (MIT)
// does that in a fraction of glibc malloc's time and keeps a session's data closer together.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    std::process::exit(imaptest::main_with(std::env::args().skip(1).collect()));
}

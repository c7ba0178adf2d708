//! The `gaol` binary, also a multi-call binary: invoked as `fail2ban-client`,
//! `fail2ban-server` or `fail2ban-regex` it behaves as that tool.

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let code = gaol::cli::dispatch(args);
    std::process::exit(code);
}

// The config reader and the filter pipeline allocate many small strings; mimalloc
// serves them markedly cheaper than glibc's malloc.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

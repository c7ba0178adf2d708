//! Heap held per compiled filter (not a test): a counting global allocator measures the
//! live heap before and after building a [`Matcher`] for each named filter (earlier
//! filters kept alive, so shared pieces count once), then optionally times one
//! non-ASCII line per filter (`--line`).
//!
//! Run: `cargo run --release --example filter_heap [CONFDIR] [--line] [FILTER…]`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::Instant;

use gaol::config::files::FsSource;
use gaol::filter::matcher::{Matcher, MatcherSpec, NoResolver};

struct Counting;
static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: forwards to the system allocator, only counting sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        LIVE.fetch_add(l.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        LIVE.fetch_add(n as isize - l.size() as isize, Ordering::Relaxed);
        unsafe { System.realloc(p, l, n) }
    }
}

#[global_allocator]
static A: Counting = Counting;

const DEFAULT: &[&str] = &[
    "sshd",
    "apache-auth",
    "nginx-http-auth",
    "postfix",
    "dovecot",
    "apache-badbots",
    "nginx-botsearch",
    "vsftpd",
    "proftpd",
    "pure-ftpd",
    "named-refused",
    "exim",
    "courier-auth",
    "mysqld-auth",
    "apache-noscript",
    "apache-overflows",
    "nginx-limit-req",
    "roundcube-auth",
    "sogo-auth",
    "postfix[mode=aggressive]",
];

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let line_mode = args.iter().any(|a| a == "--line");
    args.retain(|a| a != "--line");
    let confdir = args
        .first()
        .cloned()
        .unwrap_or_else(|| "/etc/fail2ban".into());
    let mut names: Vec<String> = args.iter().skip(1).cloned().collect();
    if names.is_empty() {
        names = DEFAULT.iter().map(|s| s.to_string()).collect();
    }
    let bad: &[u8] =
        b"Nov 20 10:00:01 host sshd[1]: Failed password for \xff\xfe\xc3 from 192.0.2.7 port 1 ssh2";
    let line = String::from_utf8_lossy(bad).into_owned();
    let mut kept = Vec::new();
    let mut total = 0isize;
    for spec in &names {
        let def = match gaol::config::read_filter(&FsSource, &confdir, spec, "auto") {
            Ok(d) => d,
            Err(e) => {
                println!("{spec}: {e}");
                continue;
            }
        };
        let ms = MatcherSpec::from_def(&def);
        let before = LIVE.load(Ordering::Relaxed);
        let mut m = match Matcher::new(&ms) {
            Ok(m) => m,
            Err(e) => {
                println!("{spec}: {e}");
                continue;
            }
        };
        let after = LIVE.load(Ordering::Relaxed);
        let held = after - before;
        total += held;
        let mut extra = String::new();
        if line_mode {
            let t = Instant::now();
            std::hint::black_box(m.process_line(&line, 1_800_000_000.0, &NoResolver));
            let first = t.elapsed();
            let t = Instant::now();
            std::hint::black_box(m.process_line(&line, 1_800_000_000.0, &NoResolver));
            extra = format!(
                "  non-ASCII line: first {:.3} ms, again {:.3} ms, heap after +{} KiB",
                first.as_secs_f64() * 1e3,
                t.elapsed().as_secs_f64() * 1e3,
                (LIVE.load(Ordering::Relaxed) - after) / 1024
            );
        }
        println!("{spec:<28} {:>8} KiB{extra}", held / 1024);
        kept.push((ms, m));
    }
    println!("total {} KiB over {} filters", total / 1024, kept.len());
}

//! Heap of each compiled failregex of some filters, and what its ASCII automata would
//! hold under other engine settings (not a test; a measuring aid).
//! Run: `cargo run --release --example regex_heap [CONFDIR] [FILTER…]`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

use gaol::config::files::FsSource;
use gaol::filter::addr::UseDns;
use gaol::filter::failregex::CompiledRegex;
use regex_automata::meta;
use regex_syntax::hir::{Class, ClassUnicode, ClassUnicodeRange, Hir, HirKind};

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

fn ascii(h: &Hir) -> Hir {
    match h.kind() {
        HirKind::Class(Class::Unicode(c)) => Hir::class(Class::Unicode(ClassUnicode::new(
            c.ranges()
                .iter()
                .take_while(|r| r.start() <= '\x7f')
                .map(|r| ClassUnicodeRange::new(r.start(), r.end().min('\x7f'))),
        ))),
        HirKind::Repetition(r) => {
            let mut r = r.clone();
            r.sub = Box::new(ascii(&r.sub));
            Hir::repetition(r)
        }
        HirKind::Capture(c) => {
            let mut c = c.clone();
            c.sub = Box::new(ascii(&c.sub));
            Hir::capture(c)
        }
        HirKind::Concat(v) => Hir::concat(v.iter().map(ascii).collect()),
        HirKind::Alternation(v) => Hir::alternation(v.iter().map(ascii).collect()),
        _ => h.clone(),
    }
}

fn heap_of<T>(f: impl FnOnce() -> T) -> (T, isize) {
    let b = LIVE.load(Ordering::Relaxed);
    let v = f();
    (v, LIVE.load(Ordering::Relaxed) - b)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let confdir = args
        .first()
        .cloned()
        .unwrap_or_else(|| "/etc/fail2ban".into());
    let names: Vec<String> = args.iter().skip(1).cloned().collect();
    let base = || {
        meta::Config::new()
            .match_kind(regex_automata::MatchKind::LeftmostFirst)
            .utf8_empty(true)
    };
    let mut kept = Vec::new();
    for spec in &names {
        let Ok(def) = gaol::config::read_filter(&FsSource, &confdir, spec, "auto") else {
            continue;
        };
        let mut pats: Vec<(String, bool)> = def
            .failregex
            .iter()
            .map(|p| (p.clone(), def.maxlines.unwrap_or(1) > 1))
            .collect();
        if let Some(p) = &def.prefregex {
            pats.push((p.clone(), false));
        }
        for (p, ml) in pats {
            let (r, held) = heap_of(|| CompiledRegex::new(&p, UseDns::No, ml));
            let Ok(r) = r else { continue };
            let t = r.regex().translated().clone();
            let mut line = format!("{spec:<16} total {:>6}", held / 1024);
            if let Some(l) = t.linear.as_deref()
                && let Ok(h) = regex_syntax::parse(l)
            {
                let a = ascii(&h);
                for (label, cfg) in [
                    ("meta", base()),
                    ("no1pass", base().onepass(false)),
                    ("nohyb", base().onepass(false).hybrid(false)),
                ] {
                    let (re, held) =
                        heap_of(|| meta::Builder::new().configure(cfg).build_from_hir(&a).ok());
                    line += &format!(" {label} {:>5}", held / 1024);
                    kept.push(re);
                }
            } else {
                line += " fancy";
            }
            println!("{line} KiB  {:.60}", r.pattern());
            std::mem::forget(r);
        }
    }
}

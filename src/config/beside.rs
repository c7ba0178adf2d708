//! A helper thread started on another CPU than its caller's ([`scope`]), for the
//! two-thread config read (see `parallel`).
//!
//! Why not `std::thread::scope`: on a small VM whose scheduler packs a new thread onto
//! the CPU that created it, the helper ran on its parent's CPU and the two halves took
//! turns for milliseconds instead of running together (the `-d` dump's two-thread read
//! measured slower than one thread). glibc can create a thread with an affinity mask
//! that is set before the thread first runs (`pthread_attr_setaffinity_np`): the helper
//! starts on another CPU at once. Once running it widens its mask back to the
//! process's, so the mask only chooses where it starts.

use std::cell::Cell;
use std::ffi::c_void;
use std::panic::{AssertUnwindSafe, catch_unwind};

/// The helper's stack: what `std::thread` gives a thread by default.
const STACK: usize = 2 << 20;

/// The CPUs the process may run on, and those of them other than the caller's.
#[derive(Clone, Copy)]
pub(super) struct Cpus {
    allowed: libc::cpu_set_t,
    others: libc::cpu_set_t,
}

impl Cpus {
    /// `None` when the process may run on one CPU only (a helper thread would only
    /// take turns with its caller) or the kernel does not tell.
    pub(super) fn beside_current() -> Option<Cpus> {
        let size = std::mem::size_of::<libc::cpu_set_t>();
        // SAFETY: an all-zero cpu_set_t is the empty set.
        let mut allowed: libc::cpu_set_t = unsafe { std::mem::zeroed() };
        // SAFETY: `allowed` is a writable cpu_set_t of `size` bytes.
        if unsafe { libc::sched_getaffinity(0, size, &mut allowed) } != 0 {
            return None;
        }
        // SAFETY: plain query without arguments.
        let current = unsafe { libc::sched_getcpu() };
        let mut others = allowed;
        if let Ok(c) = usize::try_from(current) {
            // SAFETY: `c` < CPU_SETSIZE, as the kernel numbers CPUs within it.
            unsafe { libc::CPU_CLR(c, &mut others) };
        }
        // SAFETY: reads the set only.
        (unsafe { libc::CPU_COUNT(&others) } > 0).then_some(Cpus { allowed, others })
    }
}

/// What the helper runs and where its result goes. Lives on the heap from [`scope`]
/// until the helper has been joined. `head` comes first, at a fixed place, so that the
/// type-erased [`State`] can read it.
#[repr(C)]
struct Packet<F, T> {
    head: Head,
    work: Option<F>,
    out: Option<T>,
}

struct Head {
    /// The mask the helper widens to once started (`None`: left as it is).
    allowed: Option<libc::cpu_set_t>,
    /// The CPU the helper started on (-1: not known, or run on the caller).
    first_cpu: libc::c_int,
}

/// The helper's handle, given to the caller's part of [`scope`].
pub(super) struct Helper<'s, T> {
    state: &'s State<T>,
}

impl<T> Helper<'_, T> {
    /// Waits for the helper's result; `None` if its work panicked. When no thread could
    /// be created, the work runs here, on the caller.
    pub(super) fn join(self) -> Option<T> {
        self.state.finish(true)
    }

    /// [`Helper::join`], and the CPU the helper thread started on.
    #[cfg(test)]
    fn join_where(self) -> (Option<T>, Option<usize>) {
        let out = self.state.finish(true);
        (out, usize::try_from(self.state.first_cpu.get()).ok())
    }
}

/// A started (or, failing that, pending) helper, with its packet's type erased.
struct State<T> {
    packet: *mut c_void,
    /// The running thread; `None` when none could be created.
    tid: Cell<Option<libc::pthread_t>>,
    /// Joined (or run) and the packet freed.
    done: Cell<bool>,
    /// [`Head::first_cpu`], kept when the packet is freed.
    first_cpu: Cell<libc::c_int>,
    run: unsafe fn(*mut c_void),
    take: unsafe fn(*mut c_void) -> Option<T>,
    entry: extern "C" fn(*mut c_void) -> *mut c_void,
}

impl<T> State<T> {
    /// `work` waiting to run: on a thread once [`State::start`]ed, else on the caller
    /// at [`State::finish`]. Only [`scope`] starts one, and it does not return before the
    /// state is dropped (joined): that is what lets `work` borrow.
    fn pending<F: FnOnce() -> T + Send>(work: F, allowed: Option<libc::cpu_set_t>) -> Self {
        let packet = Box::into_raw(Box::new(Packet::<F, T> {
            head: Head {
                allowed,
                first_cpu: -1,
            },
            work: Some(work),
            out: None,
        }))
        .cast::<c_void>();
        State {
            packet,
            tid: Cell::new(None),
            done: Cell::new(false),
            first_cpu: Cell::new(-1),
            run: run::<F, T>,
            take: take::<F, T>,
            entry: start::<F, T>,
        }
    }

    /// Runs the work on a new thread on `cpus.others` (anywhere when `cpus` is `None`);
    /// when no thread can be created it stays pending.
    fn start(&self, cpus: Option<&Cpus>) {
        let size = std::mem::size_of::<libc::cpu_set_t>();
        // SAFETY: attr is initialised by pthread_attr_init before any other use and
        // destroyed once; the thread gets the packet, which lives until `finish` has
        // joined the thread.
        unsafe {
            let mut attr: libc::pthread_attr_t = std::mem::zeroed();
            if libc::pthread_attr_init(&mut attr) != 0 {
                return;
            }
            libc::pthread_attr_setstacksize(&mut attr, STACK);
            if let Some(c) = cpus {
                libc::pthread_attr_setaffinity_np(&mut attr, size, &c.others);
            }
            let mut tid: libc::pthread_t = 0;
            let r = libc::pthread_create(&mut tid, &attr, self.entry, self.packet);
            libc::pthread_attr_destroy(&mut attr);
            if r == 0 {
                self.tid.set(Some(tid));
            }
        }
    }

    /// Joins the thread (or runs the pending work here when `run_pending`), then frees
    /// the packet and returns its result. At most once: later calls return `None`.
    fn finish(&self, run_pending: bool) -> Option<T> {
        if self.done.replace(true) {
            return None;
        }
        match self.tid.take() {
            // SAFETY: `tid` is a joinable thread created by `scope`, joined only here.
            Some(tid) if unsafe { libc::pthread_join(tid, std::ptr::null_mut()) } != 0 => {
                // not known to have ended: its packet is left to it (leaked)
                return None;
            }
            Some(_) => {}
            // SAFETY: no thread shares the packet: it is this thread's to run.
            None if run_pending => unsafe { (self.run)(self.packet) },
            None => {}
        }
        // SAFETY: the packet is no longer shared (joined, or never started), starts with
        // its `Head` (repr(C)), and is freed once, here.
        unsafe {
            self.first_cpu.set((*self.packet.cast::<Head>()).first_cpu);
            (self.take)(self.packet)
        }
    }
}

impl<T> Drop for State<T> {
    fn drop(&mut self) {
        // the helper may borrow from the caller's frame: it ends before `scope` does
        drop(self.finish(false));
    }
}

/// Runs the packet's work, catching a panic (the result is then `None`).
///
/// # Safety
/// `p` is a live `Packet<F, T>` no other thread touches meanwhile.
unsafe fn run<F: FnOnce() -> T, T>(p: *mut c_void) {
    // SAFETY: as the caller promises.
    let packet = unsafe { &mut *p.cast::<Packet<F, T>>() };
    if let Some(work) = packet.work.take() {
        packet.out = catch_unwind(AssertUnwindSafe(work)).ok();
    }
}

/// Frees the packet, returning its result.
///
/// # Safety
/// `p` came from `Box::into_raw` of a `Packet<F, T>` and is not used again.
unsafe fn take<F, T>(p: *mut c_void) -> Option<T> {
    // SAFETY: as the caller promises.
    let packet = unsafe { Box::from_raw(p.cast::<Packet<F, T>>()) };
    packet.out
}

/// The helper thread's entry point.
extern "C" fn start<F: FnOnce() -> T, T>(p: *mut c_void) -> *mut c_void {
    // SAFETY: `scope` keeps the packet alive, and does not touch it, until it has
    // joined this thread.
    let head = unsafe { &mut (*p.cast::<Packet<F, T>>()).head };
    // SAFETY: plain query.
    head.first_cpu = unsafe { libc::sched_getcpu() };
    if let Some(set) = head.allowed {
        // SAFETY: `set` is a valid cpu_set_t of the size given.
        unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) };
    }
    // SAFETY: as above; panics are caught inside, none crosses this C entry point.
    unsafe { run::<F, T>(p) };
    std::ptr::null_mut()
}

/// Runs `work` on a helper thread started on one of `cpus`' other CPUs while `main`
/// runs on the caller, and returns `main`'s result. As with `std::thread::scope`, the
/// helper is joined before this returns (also when `main` panics or drops its
/// [`Helper`]), so `work` may borrow from the caller's frame.
pub(super) fn scope<'a, F, T, R>(
    cpus: Option<&Cpus>,
    work: F,
    main: impl FnOnce(Helper<'_, T>) -> R,
) -> R
where
    F: FnOnce() -> T + Send + 'a,
    T: Send,
{
    let state = State::pending(work, cpus.map(|c| c.allowed));
    state.start(cpus);
    main(Helper { state: &state })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_helper_runs_beside_and_borrows() {
        let input = [1u64, 2, 3];
        let cpus = Cpus::beside_current();
        let (mine, theirs) = scope(
            cpus.as_ref(),
            || input.iter().sum::<u64>(),
            |h| (input.len(), h.join()),
        );
        assert_eq!((mine, theirs), (3, Some(6)));
    }

    #[test]
    fn without_a_thread_the_work_runs_at_join() {
        let caller = std::thread::current().id();
        let state = State::pending(move || std::thread::current().id() == caller, None);
        // never started: `join` runs it here, and no thread gives a CPU
        let out = Helper { state: &state }.join_where();
        assert_eq!(out, (Some(true), None));
    }

    #[test]
    fn a_panicking_helper_gives_none_and_an_unjoined_one_is_joined() {
        let r = scope(None, || -> u8 { panic!("helper fails") }, |h| h.join());
        assert!(r.is_none());
        let flag = std::sync::atomic::AtomicBool::new(false);
        scope(
            None,
            || flag.store(true, std::sync::atomic::Ordering::SeqCst),
            |_unjoined| {},
        );
        // joined when `scope` returned
        assert!(flag.load(std::sync::atomic::Ordering::SeqCst));
    }

    #[test]
    fn the_helper_starts_on_another_cpu() {
        let Some(cpus) = Cpus::beside_current() else {
            eprintln!("one CPU only: nothing to steer");
            return;
        };
        let (out, cpu) = scope(Some(&cpus), || 7u8, |h| h.join_where());
        assert_eq!(out, Some(7));
        let cpu = cpu.expect("the CPU the helper started on");
        // SAFETY: reads the sets only.
        unsafe {
            assert!(libc::CPU_ISSET(cpu, &cpus.others));
            assert!(libc::CPU_ISSET(cpu, &cpus.allowed));
        }
    }
}

//! [`run_jobs`]: runs independent command chains (one [`Job`] per restored ticket: its
//! ban commands, one per action, in order) on a few worker threads at once. A job stops
//! at its first failing command; the caller handles the failure (check, repair, retry)
//! and the commands left over on its own thread, in fail2ban's order.
//!
//! The workers run while their caller holds the server-wide command lock, so no other
//! command of the server interleaves with a batch; the parallelism is only between the
//! batch's own commands, whose order no ban depends on (distinct ids, no shared state).
//!
//! With the real runner, a worker takes a few consecutive jobs at a time and runs their
//! commands in one batch shell ([`super::batch`]) when all of them are batchable; a job
//! with another command runs one by one. After a failing command the jobs after its
//! job go on in a new batch shell; after a timeout (or a batch shell that cannot
//! start) every command left of the restore runs one by one.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use super::PreparedCommand;
use super::batch::{MAX_BATCH_BYTES, batchable, run_batch};
use super::command::Runner;
use super::exec::{holding_command_lock, mark_batch_worker, unmark_batch_worker};

/// The commands of one ticket: (action index, command, timeout), run in order.
pub(crate) type Job = Vec<(usize, PreparedCommand, Duration)>;

/// How many commands of a restore run at once: the shell start is the floor of a ban
/// (about a millisecond of CPU), so a restore of many bans is bound by it. Two per core
/// (each slot also waits on its own spawn and reaping), at most 4 so that a restore
/// does not crowd out the rest of the machine.
pub(crate) fn restore_slots() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .saturating_mul(2)
        .clamp(2, 4)
}

/// One job: its commands in order until the first failure. The outcome of each command
/// run (fewer than the commands when one failed).
fn run_one(runner: &Runner, job: &Job) -> Vec<bool> {
    let mut out = Vec::with_capacity(job.len());
    for (_, cmd, timeout) in job {
        let ok = runner(cmd, *timeout);
        out.push(ok);
        if !ok {
            break;
        }
    }
    out
}

/// Runs `jobs` with up to `slots` at once; the outcomes in job order. `batch`: the
/// runner is the real one, so batchable jobs may share a batch shell.
pub(crate) fn run_jobs(runner: &Runner, jobs: &[Job], slots: usize, batch: bool) -> Vec<Vec<bool>> {
    let slots = slots.min(jobs.len());
    if slots <= 1 && !batch {
        return jobs.iter().map(|j| run_one(runner, j)).collect();
    }
    let slots = slots.max(1);
    // Consecutive jobs per batch shell: every worker gets a share, none too big.
    let chunk = jobs.len().div_ceil(slots).clamp(1, 64);
    let batch_ok = AtomicBool::new(batch);
    let next = AtomicUsize::new(0);
    let results: Vec<Mutex<Option<Vec<bool>>>> = jobs.iter().map(|_| Mutex::new(None)).collect();
    let work = || {
        mark_batch_worker();
        loop {
            let start = next.fetch_add(chunk, Ordering::Relaxed);
            if start >= jobs.len() {
                break;
            }
            let end = (start + chunk).min(jobs.len());
            let outs = run_chunk(runner, &jobs[start..end], &batch_ok);
            for (j, out) in (start..end).zip(outs) {
                *results[j].lock().unwrap_or_else(|p| p.into_inner()) = Some(out);
            }
        }
    };
    holding_command_lock(|| {
        if slots == 1 {
            // One slot: this thread is the worker (the lock is held for it).
            work();
            unmark_batch_worker();
            return;
        }
        std::thread::scope(|s| {
            for _ in 0..slots {
                // A thread that cannot start leaves its share to the others (or to the
                // pass below).
                let _ = std::thread::Builder::new().spawn_scoped(s, work);
            }
        })
    });
    // Jobs no worker took (no thread could start) run here, the lock released.
    results
        .into_iter()
        .zip(jobs)
        .map(|(m, job)| {
            m.into_inner()
                .unwrap_or_else(|p| p.into_inner())
                .unwrap_or_else(|| run_one(runner, job))
        })
        .collect()
}

/// The outcomes of consecutive jobs, run in batch shells while `batch_ok` holds.
fn run_chunk(runner: &Runner, jobs: &[Job], batch_ok: &AtomicBool) -> Vec<Vec<bool>> {
    let mut outs: Vec<Vec<bool>> = Vec::with_capacity(jobs.len());
    let fits = |job: &Job| job.iter().all(|(_, c, _)| batchable(c));
    while outs.len() < jobs.len() {
        let i = outs.len();
        if !batch_ok.load(Ordering::Relaxed) || !fits(&jobs[i]) {
            outs.push(run_one(runner, &jobs[i]));
            continue;
        }
        // The batchable jobs from here on, within the size bound.
        let mut end = i;
        let mut bytes = 0;
        while end < jobs.len() && fits(&jobs[end]) {
            let size: usize = jobs[end].iter().map(|(_, c, _)| c.script.len()).sum();
            if end > i && bytes + size > MAX_BATCH_BYTES {
                break;
            }
            bytes += size;
            end += 1;
        }
        let cmds: Vec<(&PreparedCommand, Duration)> = jobs[i..end]
            .iter()
            .flatten()
            .map(|(_, c, t)| (c, *t))
            .collect();
        let run = run_batch(&cmds);
        if run.aborted {
            batch_ok.store(false, Ordering::Relaxed);
        }
        // Hand the outcomes to their jobs; a job stops at its failure, the jobs after
        // it go on in the next round.
        let mut taken = 0;
        for job in &jobs[i..end] {
            let left = run.results.len() - taken;
            if left == 0 && !job.is_empty() {
                break;
            }
            let n = job.len().min(left);
            let out = run.results[taken..taken + n].to_vec();
            taken += n;
            let failed = out.last() == Some(&false);
            outs.push(out);
            if failed {
                break;
            }
        }
        if run.aborted && taken < run.results.len() {
            // Not expected: outcomes past a stop. Keep the ones handed out.
            break;
        }
    }
    // Jobs left over (a batch that could not even start) run one by one.
    while outs.len() < jobs.len() {
        outs.push(run_one(runner, &jobs[outs.len()]));
    }
    outs
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn chains_stop_at_first_failure_and_run_concurrently() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let running = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let (s2, r2, p2) = (seen.clone(), running.clone(), peak.clone());
        let runner: Runner = Arc::new(move |c: &PreparedCommand, _| {
            let now = r2.fetch_add(1, Ordering::SeqCst) + 1;
            p2.fetch_max(now, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(5));
            s2.lock().unwrap().push(c.script.clone());
            r2.fetch_sub(1, Ordering::SeqCst);
            !c.script.starts_with("fail")
        });
        let t = Duration::from_secs(1);
        let jobs: Vec<Job> = (0..8)
            .map(|i| {
                if i == 3 {
                    vec![
                        (0, PreparedCommand::plain("fail3"), t),
                        (1, PreparedCommand::plain("never"), t),
                    ]
                } else {
                    vec![
                        (0, PreparedCommand::plain(&format!("a{i}")), t),
                        (1, PreparedCommand::plain(&format!("b{i}")), t),
                    ]
                }
            })
            .collect();
        let out = run_jobs(&runner, &jobs, 4, false);
        assert_eq!(out[3], vec![false]);
        assert!(
            out.iter()
                .enumerate()
                .all(|(i, o)| i == 3 || *o == vec![true, true])
        );
        let seen = seen.lock().unwrap().clone();
        assert_eq!(seen.len(), 15);
        assert!(!seen.contains(&"never".to_string()));
        // Within a job the order holds.
        for i in (0..8).filter(|&i| i != 3) {
            let a = seen.iter().position(|s| *s == format!("a{i}")).unwrap();
            let b = seen.iter().position(|s| *s == format!("b{i}")).unwrap();
            assert!(a < b, "{seen:?}");
        }
        assert!(peak.load(Ordering::SeqCst) > 1, "never concurrent");
        assert!(peak.load(Ordering::SeqCst) <= 4);
    }
}

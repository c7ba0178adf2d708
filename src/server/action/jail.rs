//! [`JailActions`]: the ordered actions of one jail and the order fail2ban runs them
//! in — start at jail start, ban/unban per ticket, flush or individual unbans at stop,
//! reverse-order stop, reload (keep / remove actions), prolong, reban after a repair —
//! with fail2ban's error log lines. Errors of one action never stop the others.

use std::sync::Arc;

use super::command::{CommandAction, Fam, OpCtx, Runner, default_runner};
use super::info::{BanInfo, Counters};
use super::pool::{Job, run_jobs};
use super::{Family, TagSource};
use crate::server::log::{LogLevel, emit};
use crate::stream::py_str_repr;

const ACTIONS_LOG: &str = "fail2ban.actions";

/// The actions of one jail, in order.
pub struct JailActions {
    jail: String,
    actions: Vec<CommandAction>,
    ban_epoch: u64,
    runner: Runner,
    /// The runner is the real one: a restore may run its bans in batch shells.
    batch_shell: bool,
    bantime: i64,
    clock: Box<dyn Fn() -> f64 + Send + Sync>,
    counters: Option<Box<Counters>>,
    last_check: f64,
    /// During a reload: names added (kept) so far.
    reload_seen: Option<Vec<String>>,
}

fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// The family of a ticket source: its `family` tag, else the family of its `ip`.
pub fn family_of(t: &dyn TagSource) -> Family {
    match t.get("family").as_deref() {
        Some("inet4") => Family::Inet4,
        Some("inet6") => Family::Inet6,
        Some(_) => Family::None,
        None => Family::of_id(&t.get("ip").unwrap_or_default()),
    }
}

/// The id fail2ban logs for a ticket (`fid`, else `ip`).
fn id_of(t: &dyn TagSource) -> String {
    t.get("fid").or_else(|| t.get("ip")).unwrap_or_default()
}

impl JailActions {
    pub fn new(jail: &str) -> Self {
        JailActions {
            jail: jail.to_string(),
            actions: Vec::new(),
            ban_epoch: 0,
            runner: default_runner(),
            batch_shell: true,
            bantime: 600,
            clock: Box::new(now),
            counters: None,
            last_check: 0.0,
            reload_seen: None,
        }
    }

    /// Replaces the command runner (tests record commands instead of running them).
    pub fn set_runner(&mut self, runner: Runner) {
        self.runner = runner;
        self.batch_shell = false;
    }

    /// The jail's `bantime` (seconds), the `<bantime>` of ticketless operations.
    pub fn set_bantime(&mut self, secs: i64) {
        self.bantime = secs;
    }

    /// The clock for `<time>` of ticketless operations and the consistency-check pace.
    pub fn set_clock(&mut self, clock: Box<dyn Fn() -> f64 + Send + Sync>) {
        self.clock = clock;
    }

    /// Values of `<jail.banned>`, `<jail.banned_total>`, `<jail.found>`,
    /// `<jail.found_total>` for ticketless operations.
    pub fn set_counters(&mut self, f: Box<Counters>) {
        self.counters = Some(f);
    }

    /// The jail's ban epoch: raised whenever an action had to be repaired. A ticket
    /// banned now should record it (fail2ban's `ticket.banEpoch`).
    pub fn ban_epoch(&self) -> u64 {
        self.ban_epoch
    }

    /// Splits self into the action list and the context its operations run with.
    fn parts(&mut self) -> (&mut Vec<CommandAction>, OpCtx<'_>, &str) {
        let ctx = OpCtx {
            epoch: &mut self.ban_epoch,
            runner: &self.runner,
            clock: &*self.clock,
            bantime: self.bantime,
            counters: self.counters.as_deref(),
        };
        (&mut self.actions, ctx, &self.jail)
    }

    /// Adds an action (`set J addaction A`). A duplicate name is an error, except while
    /// reloading: then the existing action is kept (with its state) and its operations
    /// reset, ready for the new properties.
    pub fn add(&mut self, action: CommandAction) -> Result<(), String> {
        let name = action.name().to_string();
        if let Some(existing) = self.actions.iter_mut().find(|a| a.name() == name) {
            return match self.reload_seen.as_mut() {
                Some(seen) => {
                    existing.clear_all_params();
                    seen.push(name);
                    Ok(())
                }
                None => Err(format!("Action {name} already exists")),
            };
        }
        if let Some(seen) = self.reload_seen.as_mut() {
            seen.push(name);
        }
        self.actions.push(action);
        Ok(())
    }

    /// `set J addaction A path json` (a Python action): gaol cannot load these.
    pub fn add_python(&mut self, name: &str, path: &str, _json: &str) -> Result<(), String> {
        Err(python_unsupported(&self.jail, name, path))
    }

    pub fn get(&self, name: &str) -> Option<&CommandAction> {
        self.actions.iter().find(|a| a.name() == name)
    }

    pub fn get_mut(&mut self, name: &str) -> Option<&mut CommandAction> {
        self.actions.iter_mut().find(|a| a.name() == name)
    }

    /// Action names in order (`get J actions`).
    pub fn names(&self) -> Vec<String> {
        self.actions.iter().map(|a| a.name().to_string()).collect()
    }

    pub fn len(&self) -> usize {
        self.actions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.actions.is_empty()
    }

    /// `set J delaction A`: removes without running anything.
    pub fn remove(&mut self, name: &str) -> Option<CommandAction> {
        let i = self.actions.iter().position(|a| a.name() == name)?;
        Some(self.actions.remove(i))
    }

    /// Jail start: `actionstart` of each action not started on demand, in order.
    pub fn start(&mut self) {
        let (actions, mut ctx, jail) = self.parts();
        for a in actions.iter_mut() {
            if let Err(e) = a.start(&mut ctx) {
                emit(
                    LogLevel::ERROR,
                    ACTIONS_LOG,
                    &format!("Failed to start jail '{jail}' action '{}': {e}", a.name()),
                );
            }
        }
    }

    /// Bans with every action in order (restored tickets skip `norestored` actions).
    /// True if every action succeeded. The caller logs `[J] Ban ip` (or `Restore Ban`)
    /// before, and stores [`JailActions::ban_epoch`] in the ticket after.
    pub fn ban(&mut self, info: &dyn TagSource, family: Family, restored: bool) -> bool {
        let fam = Fam::of(family);
        let binfo = BanInfo {
            inner: info,
            family,
            restored: Some(restored),
        };
        let (actions, mut ctx, jail) = self.parts();
        let mut ok = true;
        for a in actions.iter_mut() {
            if restored && a.norestored() {
                continue;
            }
            if let Err(e) = a.ban(&mut ctx, &binfo, fam, "<actionban>") {
                ok = false;
                log_ticket_error("ban", jail, a.name(), &binfo, &e);
            }
        }
        ok
    }

    /// Bans restored tickets (each `(info, family)`) in order as [`JailActions::ban`]
    /// with `restored`, up to `slots` ban commands running at once (see [`super::pool`]).
    /// A ticket whose ban needs more than its commands (a start on demand, a tag error,
    /// an empty command) waits for the tickets before it and bans on this thread; a
    /// failed command is checked, repaired and retried here, in ticket order, and the
    /// ticket's later actions then ban here too. The caller logs `[J] Restore Ban ip`
    /// before and stores [`JailActions::ban_epoch`] in the tickets after.
    pub fn ban_restored(&mut self, tickets: &[(&dyn TagSource, Family)], slots: usize) {
        let mut jobs: (Vec<usize>, Vec<Job>) = (Vec::new(), Vec::new());
        for (i, &(info, family)) in tickets.iter().enumerate() {
            let fam = Fam::of(family);
            let binfo = BanInfo {
                inner: info,
                family,
                restored: Some(true),
            };
            let mut job = Job::new();
            let mut deferrable = true;
            for (ai, a) in self.actions.iter_mut().enumerate() {
                if a.norestored() {
                    continue;
                }
                match a.prepare_ban(&binfo, fam, "<actionban>") {
                    Ok(Some(cmd)) => job.push((ai, cmd, a.timeout())),
                    _ => {
                        deferrable = false;
                        break;
                    }
                }
            }
            if deferrable {
                jobs.0.push(i);
                jobs.1.push(job);
            } else {
                self.run_restored(tickets, std::mem::take(&mut jobs), slots);
                self.ban(info, family, true);
            }
        }
        self.run_restored(tickets, jobs, slots);
    }

    /// Runs the prepared restore bans, then finishes each in ticket order.
    fn run_restored(
        &mut self,
        tickets: &[(&dyn TagSource, Family)],
        (idx, jobs): (Vec<usize>, Vec<Job>),
        slots: usize,
    ) {
        if jobs.is_empty() {
            return;
        }
        let outcomes = run_jobs(&self.runner, &jobs, slots, self.batch_shell);
        let (actions, mut ctx, jail) = self.parts();
        for ((i, job), outcome) in idx.iter().zip(&jobs).zip(outcomes) {
            let (info, family) = tickets[*i];
            let fam = Fam::of(family);
            let binfo = BanInfo {
                inner: info,
                family,
                restored: Some(true),
            };
            for (k, (ai, _, _)) in job.iter().enumerate() {
                let a = &mut actions[*ai];
                let r = match outcome.get(k) {
                    Some(&ok) => a.finish_ban(&mut ctx, &binfo, fam, "<actionban>", ok),
                    // Not run: an earlier action of this ticket failed first.
                    None => a.ban(&mut ctx, &binfo, fam, "<actionban>"),
                };
                if let Err(e) = r {
                    log_ticket_error("ban", jail, a.name(), &binfo, &e);
                }
            }
        }
    }

    /// Unbans with every action in order (each only if it banned that family since its
    /// start). The caller logs `[J] Unban ip` before.
    pub fn unban(&mut self, info: &dyn TagSource, family: Family) {
        let idx: Vec<usize> = (0..self.actions.len()).collect();
        self.unban_with(info, family, &idx);
    }

    fn unban_with(&mut self, info: &dyn TagSource, family: Family, idx: &[usize]) {
        let fam = Fam::of(family);
        let binfo = BanInfo {
            inner: info,
            family,
            restored: None,
        };
        let id = id_of(info);
        let (actions, mut ctx, jail) = self.parts();
        for &i in idx {
            let a = &mut actions[i];
            emit(
                LogLevel::DEBUG,
                ACTIONS_LOG,
                &format!("[{jail}] action {}: unban {id}", py_str_repr(a.name())),
            );
            if let Err(e) = a.unban(&mut ctx, &binfo, fam) {
                log_ticket_error("unban", jail, a.name(), &binfo, &e);
            }
        }
    }

    /// Jail stop flush: actions with `actionflush` flush at once, the others unban each
    /// remaining ticket; logs `[J] Flush ticket(s) with A` and `[J] Unban ip`.
    pub fn flush(&mut self, remaining: &[&dyn TagSource]) {
        let idx: Vec<usize> = (0..self.actions.len()).collect();
        self.flush_with(&idx, remaining, true, true);
    }

    /// `unban --all` / `set J unbanip` of everything: as [`JailActions::flush`], but a
    /// failed flush may repair even without `actionrepair_on_unban`.
    pub fn flush_all(&mut self, remaining: &[&dyn TagSource]) {
        let idx: Vec<usize> = (0..self.actions.len()).collect();
        self.flush_with(&idx, remaining, false, true);
    }

    fn flush_with(&mut self, idx: &[usize], remaining: &[&dyn TagSource], stop: bool, log: bool) {
        let mut unban_idx = Vec::new();
        {
            let (actions, mut ctx, jail) = self.parts();
            for &i in idx {
                let a = &mut actions[i];
                if a.has_flush() {
                    emit(
                        LogLevel::NOTICE,
                        ACTIONS_LOG,
                        &format!("[{jail}] Flush ticket(s) with {}", a.name()),
                    );
                    let Err(e) = a.flush(&mut ctx) else {
                        continue;
                    };
                    emit(
                        LogLevel::ERROR,
                        ACTIONS_LOG,
                        &format!(
                            "Failed to flush bans in jail '{jail}' action '{}': {e}",
                            a.name()
                        ),
                    );
                    emit(
                        LogLevel::INFO,
                        ACTIONS_LOG,
                        "No flush occurred, do consistency check",
                    );
                    let repair = a.repair_on_unban();
                    let before = move || {
                        if stop && !repair {
                            emit(
                                LogLevel::ERROR,
                                ACTIONS_LOG,
                                "Invariant check failed. Flush is impossible.",
                            );
                            return false;
                        }
                        true
                    };
                    if let Err(e) = a.consistency_check(&mut ctx, Some(&before)) {
                        emit(LogLevel::ERROR, ACTIONS_LOG, &e);
                    }
                    continue;
                }
                emit(
                    LogLevel::DEBUG,
                    ACTIONS_LOG,
                    "  Unban tickets each individualy",
                );
                unban_idx.push(i);
            }
        }
        for t in remaining {
            if log {
                emit(
                    LogLevel::NOTICE,
                    ACTIONS_LOG,
                    &format!("[{}] Unban {}", self.jail, id_of(*t)),
                );
            }
            self.unban_with(*t, family_of(*t), &unban_idx);
        }
    }

    /// Jail stop (after [`JailActions::flush`]): `actionstop` in reverse order for the
    /// started families; the actions are dropped afterwards, as in fail2ban.
    pub fn stop(&mut self) {
        let idx: Vec<usize> = (0..self.actions.len()).collect();
        self.stop_with(&idx);
    }

    fn stop_with(&mut self, idx: &[usize]) {
        let (actions, mut ctx, jail) = self.parts();
        for &i in idx.iter().rev() {
            let a = &mut actions[i];
            if let Err(e) = a.stop(&mut ctx) {
                emit(
                    LogLevel::ERROR,
                    ACTIONS_LOG,
                    &format!("Failed to stop jail '{jail}' action '{}': {e}", a.name()),
                );
            }
            emit(
                LogLevel::DEBUG,
                ACTIONS_LOG,
                &format!("{jail}: action {} terminated", a.name()),
            );
        }
        let mut i = 0;
        self.actions.retain(|_| {
            let keep = !idx.contains(&i);
            i += 1;
            keep
        });
    }

    /// `actionreload` of every action (started families).
    pub fn reload(&mut self) {
        let idx: Vec<usize> = (0..self.actions.len()).collect();
        self.reload_with(&idx);
    }

    fn reload_with(&mut self, idx: &[usize]) {
        let (actions, mut ctx, jail) = self.parts();
        for &i in idx {
            let a = &mut actions[i];
            if let Err(e) = a.reload(&mut ctx) {
                emit(
                    LogLevel::ERROR,
                    ACTIONS_LOG,
                    &format!("Failed to reload jail '{jail}' action '{}': {e}", a.name()),
                );
            }
        }
    }

    /// Starts a configuration reload: the following [`JailActions::add`] calls mark the
    /// actions that stay.
    pub fn begin_reload(&mut self) {
        self.reload_seen = Some(Vec::new());
    }

    /// Ends a reload: kept actions run `actionreload`; actions no longer configured
    /// unban `remaining` (quietly), stop, and are removed.
    pub fn end_reload(&mut self, remaining: &[&dyn TagSource]) {
        let Some(seen) = self.reload_seen.take() else {
            return;
        };
        let (kept, gone): (Vec<usize>, Vec<usize>) = (0..self.actions.len())
            .partition(|&i| seen.iter().any(|n| n == self.actions[i].name()));
        self.reload_with(&kept);
        if !gone.is_empty() {
            self.flush_with(&gone, remaining, true, false);
            self.stop_with(&gone);
        }
    }

    /// `actionprolong` of the actions that have one, after the ban time grew.
    pub fn prolong(&mut self, info: &dyn TagSource, family: Family) {
        let fam = Fam::of(family);
        let restored = info.get("restored").as_deref() == Some("1");
        let binfo = BanInfo {
            inner: info,
            family,
            restored: None,
        };
        let (actions, mut ctx, jail) = self.parts();
        for a in actions.iter_mut() {
            if (restored && a.norestored()) || !a.prolongable() {
                continue;
            }
            if let Err(e) = a.prolong(&mut ctx, &binfo, fam) {
                log_ticket_error("ban", jail, a.name(), &binfo, &e);
            }
        }
    }

    /// `actioncheck` of every action, repairing what is broken.
    pub fn consistency_check(&mut self) {
        let (actions, mut ctx, jail) = self.parts();
        for a in actions.iter_mut() {
            if let Err(e) = a.consistency_check(&mut ctx, None) {
                emit(
                    LogLevel::ERROR,
                    ACTIONS_LOG,
                    &format!("[{jail}] consistency check of action '{}': {e}", a.name()),
                );
            }
        }
    }

    /// Re-bans with the actions repaired after the ticket's ban (`ticket_epoch`); all
    /// actions if none is newer. Logs `[J] Reban ip`. Stops at the first failure.
    pub fn reban(&mut self, info: &dyn TagSource, family: Family, ticket_epoch: u64) -> bool {
        let fam = Fam::of(family);
        let mut idx: Vec<usize> = (0..self.actions.len())
            .filter(|&i| self.actions[i].ban_epoch() > ticket_epoch)
            .collect();
        if idx.is_empty() {
            idx = (0..self.actions.len()).collect();
        }
        let id = id_of(info);
        let which = if idx.len() == 1 {
            format!(", action {}", py_str_repr(self.actions[idx[0]].name()))
        } else {
            String::new()
        };
        emit(
            LogLevel::NOTICE,
            ACTIONS_LOG,
            &format!("[{}] Reban {id}{which}", self.jail),
        );
        let binfo = BanInfo {
            inner: info,
            family,
            restored: None,
        };
        let (actions, mut ctx, jail) = self.parts();
        for i in idx {
            let a = &mut actions[i];
            emit(
                LogLevel::DEBUG,
                ACTIONS_LOG,
                &format!("[{jail}] action {}: reban {id}", py_str_repr(a.name())),
            );
            if let Err(e) = a.reban(&mut ctx, &binfo, fam) {
                log_ticket_error("reban", jail, a.name(), &binfo, &e);
                return false;
            }
        }
        true
    }

    /// A ticket arrived for an id that is still banned, `diftm` seconds after its ban
    /// time. Runs the (paced) consistency check and re-bans if an action was repaired
    /// since the ticket's ban; updates `ticket_epoch`. True if it re-banned.
    pub fn already_banned(
        &mut self,
        info: &dyn TagSource,
        family: Family,
        ticket_epoch: &mut u64,
        diftm: f64,
    ) -> bool {
        if *ticket_epoch == self.ban_epoch && diftm > 3.0 {
            let t = (self.clock)();
            if t > self.last_check + 3.0 {
                self.last_check = t;
                self.consistency_check();
            }
        }
        if *ticket_epoch < self.ban_epoch {
            let ok = self.reban(info, family, *ticket_epoch);
            if ok && self.ban_epoch != 0 {
                *ticket_epoch = self.ban_epoch;
            }
            return ok;
        }
        false
    }
}

/// The error for a Python action (`action.d/*.py`), naming jail and file.
pub fn python_unsupported(jail: &str, name: &str, path: &str) -> String {
    format!(
        "python actions unsupported: {path} (jail '{jail}', action '{name}'); gaol runs only command actions"
    )
}

fn log_ticket_error(op: &str, jail: &str, name: &str, info: &dyn TagSource, e: &str) {
    emit(
        LogLevel::ERROR,
        ACTIONS_LOG,
        &format!(
            "Failed to execute {op} jail '{jail}' action '{name}' info '{}': {e}",
            info_repr(info)
        ),
    );
}

/// A readable stand-in for fail2ban's `ActionInfo` repr.
fn info_repr(info: &dyn TagSource) -> String {
    let mut parts = Vec::new();
    for tag in ["ip", "family", "fid", "failures", "time", "bantime"] {
        if let Some(v) = info.get(tag) {
            parts.push(format!("{}: {}", py_str_repr(tag), py_str_repr(&v)));
        }
    }
    format!("ActionInfo({{{}}})", parts.join(", "))
}

/// A runner from a closure (convenience for tests and embedding).
pub fn runner(
    f: impl Fn(&super::PreparedCommand, std::time::Duration) -> bool + Send + Sync + 'static,
) -> Runner {
    Arc::new(f)
}

//! [`CommandAction`]: one command action of a jail — its properties (set one by one from
//! the stream or the socket), the static tag pass over them (recursive, per-family
//! conditional values, cached until a property changes), and its operations
//! (start/ban/unban/flush/stop/reload/prolong/reban, check and repair) with the
//! per-family "started" state fail2ban keeps. The pass itself is in `static_pass`. Operations run through an [`OpCtx`] that
//! [`super::JailActions`] provides (the runner, the jail's ban epoch, the clock).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use super::info::{Counters, EmptyInfo, FamilyOnly};
use super::static_pass::{interpolate, substitute_recursive};
use super::{Family, PreparedCommand, TagSource, replace_dynamic_tags};
use crate::server::log::{LogLevel, emit};
use crate::stream::{Value, py_str_repr};

/// Runs a prepared command with a timeout; true on success. The default is
/// [`super::execute`]; tests install recorders.
pub type Runner = Arc<dyn Fn(&PreparedCommand, Duration) -> bool + Send + Sync>;

/// The runner that really executes commands.
pub fn default_runner() -> Runner {
    Arc::new(|cmd, timeout| super::execute(cmd, timeout).success)
}

pub(crate) const CA_LOG: &str = "fail2ban.CommandAction";
const OPERATIONS: [&str; 9] = [
    "actionstart",
    "actionban",
    "actionreban",
    "actionunban",
    "actioncheck",
    "actionrepair",
    "actionflush",
    "actionstop",
    "actionreload",
];

/// The family key of the per-family state (`''` for actions without conditional
/// properties, `Raw` for bans of ids that are not addresses — Python's `None`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Fam {
    Any,
    Inet4,
    Inet6,
    Raw,
}

impl Fam {
    pub(crate) fn of(f: Family) -> Fam {
        match f {
            Family::Inet4 => Fam::Inet4,
            Family::Inet6 => Fam::Inet6,
            Family::None => Fam::Raw,
        }
    }
    fn cond(self) -> &'static str {
        match self {
            Fam::Inet4 => "family=inet4",
            Fam::Inet6 => "family=inet6",
            _ => "",
        }
    }
    fn name(self) -> Option<&'static str> {
        match self {
            Fam::Inet4 => Some("inet4"),
            Fam::Inet6 => Some("inet6"),
            _ => None,
        }
    }
    fn dyn_value(self) -> &'static str {
        match self {
            Fam::Any => "",
            Fam::Inet4 => "inet4",
            Fam::Inet6 => "inet6",
            Fam::Raw => "None",
        }
    }
}

/// A small insertion-ordered map keyed by family (Python dict semantics).
#[derive(Debug, Clone, Default)]
struct FamMap<T>(Vec<(Fam, T)>);

impl<T: Clone> FamMap<T> {
    fn get(&self, f: Fam) -> Option<&T> {
        self.0.iter().find(|(k, _)| *k == f).map(|(_, v)| v)
    }
    fn set(&mut self, f: Fam, v: T) {
        match self.0.iter_mut().find(|(k, _)| *k == f) {
            Some(slot) => slot.1 = v,
            None => self.0.push((f, v)),
        }
    }
    fn remove(&mut self, f: Fam) -> Option<T> {
        let i = self.0.iter().position(|(k, _)| *k == f)?;
        Some(self.0.remove(i).1)
    }
}

/// What an operation needs from its jail.
pub(crate) struct OpCtx<'a> {
    pub epoch: &'a mut u64,
    pub runner: &'a Runner,
    pub clock: &'a (dyn Fn() -> f64 + Send + Sync),
    pub bantime: i64,
    pub counters: Option<&'a Counters>,
}

/// A command action: a bag of string properties plus its run-time state.
pub struct CommandAction {
    jail: String,
    name: String,
    /// Property → (value, Python `str()` of it), sorted like Python's `dir()`.
    props: BTreeMap<String, (Value, String)>,
    /// Per family: bit 1 = started, bit 2 = holds bans.
    started: FamMap<u8>,
    /// Per operation tag: the command last executed successfully for each family.
    executed: HashMap<String, FamMap<String>>,
    /// Static pass cache: (query, conditional) → result.
    cache: HashMap<(String, &'static str), String>,
    /// Recursively substituted properties per conditional.
    subst: HashMap<&'static str, HashMap<String, String>>,
    ban_epoch: u64,
}

fn truthy(v: &Value) -> bool {
    match v {
        Value::None => false,
        Value::Bool(b) => *b,
        Value::Int(i) => *i != 0,
        Value::Float(f) => *f != 0.0,
        Value::Str(s) => !s.is_empty(),
        Value::List(l) | Value::Tuple(l) => !l.is_empty(),
        Value::Dict(d) => !d.is_empty(),
    }
}

/// `X?family=…` property names mark an action as family-conditional.
fn is_conditional_name(k: &str) -> bool {
    match k.split_once('?') {
        Some((base, rest)) => {
            !base.is_empty()
                && base.chars().all(|c| c.is_alphanumeric() || c == '_')
                && rest.starts_with("family=")
        }
        None => false,
    }
}

impl CommandAction {
    pub fn new(jail: &str, name: &str) -> Self {
        let mut a = CommandAction {
            jail: jail.to_string(),
            name: name.to_string(),
            props: BTreeMap::new(),
            started: FamMap::default(),
            executed: HashMap::new(),
            cache: HashMap::new(),
            subst: HashMap::new(),
            ban_epoch: 0,
        };
        a.clear_all_params();
        emit(
            LogLevel::DEBUG,
            CA_LOG,
            "Created <class 'fail2ban.server.action.CommandAction'>",
        );
        a
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Resets the operations and `timeout` to their defaults (reload keeps the rest).
    pub fn clear_all_params(&mut self) {
        self.store("timeout", Value::Int(60));
        for op in OPERATIONS {
            self.store(op, Value::Str(String::new()));
        }
    }

    fn store(&mut self, key: &str, v: Value) {
        let text = v.to_py_str();
        self.props.insert(key.to_string(), (v, text));
        self.cache.clear();
        self.subst.clear();
        // fail2ban keeps the executed-operation marks in its substitution cache, which any
        // property change empties (so a reload's re-set properties let `actionreload` run).
        self.executed.clear();
    }

    /// `set J action A key value` with a string value. A bad `timeout` is logged and
    /// ignored (use [`CommandAction::set_value`] to get the error).
    pub fn set_property(&mut self, key: &str, value: &str) {
        if let Err(e) = self.set_value(key, &Value::Str(value.to_string())) {
            emit(LogLevel::ERROR, CA_LOG, &e);
        }
    }

    /// Sets a property from a stream value (the config stream sends flags as bools):
    /// `timeout` goes through fail2ban's time parsing, `bantime` is ignored.
    pub fn set_value(&mut self, key: &str, value: &Value) -> Result<(), String> {
        if key.is_empty() || key.starts_with('_') {
            return Err(format!("Invalid action property {}", py_str_repr(key)));
        }
        let v = match key {
            "bantime" => return Ok(()),
            "timeout" => match value {
                Value::Str(s) => {
                    let (secs, float) = crate::config::time::parse_time_typed(s)
                        .map_err(|e| format!("Invalid timeout for action {}: {e}", self.name))?;
                    if float || secs.fract() != 0.0 {
                        Value::Float(secs)
                    } else {
                        Value::Int(secs as i64)
                    }
                }
                Value::Int(_) | Value::Float(_) => value.clone(),
                other => return Err(format!("Invalid timeout value {other}")),
            },
            _ => value.clone(),
        };
        emit(LogLevel::DEBUG, CA_LOG, &format!("  Set {key} = {v}"));
        self.store(key, v);
        Ok(())
    }

    /// A property as text (Python `str()` of its value).
    pub fn property(&self, key: &str) -> Option<&str> {
        self.props.get(key).map(|(_, t)| t.as_str())
    }

    /// A property's value as stored (`timeout` is a number, flags may be bools).
    pub fn value(&self, key: &str) -> Option<&Value> {
        self.props.get(key).map(|(v, _)| v)
    }

    /// `get J actionproperties A`: fail2ban's attribute names, sorted.
    pub fn property_names(&self) -> Vec<String> {
        let mut v: Vec<String> = self.props.keys().cloned().collect();
        v.extend(["ESCAPE_CRE", "ESCAPE_VN_CRE", "banEpoch"].map(String::from));
        v.sort();
        v
    }

    /// `get J actionmethods A`.
    pub fn method_names() -> Vec<String> {
        [
            "ban",
            "clearAllParams",
            "consistencyCheck",
            "escapeTag",
            "executeCmd",
            "flush",
            "invalidateBanEpoch",
            "prolong",
            "reban",
            "reload",
            "replaceDynamicTags",
            "replaceTag",
            "start",
            "stop",
            "unban",
        ]
        .map(String::from)
        .to_vec()
    }

    fn flag(&self, key: &str) -> bool {
        self.props.get(key).is_some_and(|(v, _)| truthy(v))
    }

    /// Restored bans skip this action.
    pub fn norestored(&self) -> bool {
        self.flag("norestored")
    }

    pub fn repair_on_unban(&self) -> bool {
        self.flag("actionrepair_on_unban")
    }

    /// Has any `X?family=…` property.
    pub fn has_cond_section(&self) -> bool {
        self.props.keys().any(|k| is_conditional_name(k))
    }

    /// `actionstart_on_demand`, defaulting to "has conditional properties".
    pub fn start_on_demand(&self) -> bool {
        match self.props.get("actionstart_on_demand") {
            Some((v, _)) => truthy(v),
            None => self.has_cond_section(),
        }
    }

    /// Has a non-blank `actionprolong`.
    pub fn prolongable(&self) -> bool {
        self.property("actionprolong")
            .is_some_and(|s| !s.trim().is_empty())
    }

    pub fn has_flush(&self) -> bool {
        self.flag("actionflush")
    }

    fn has_check(&self) -> bool {
        self.flag("actioncheck")
    }

    pub fn ban_epoch(&self) -> u64 {
        self.ban_epoch
    }

    pub fn timeout(&self) -> Duration {
        let secs = match self.value("timeout") {
            Some(Value::Int(i)) => *i as f64,
            Some(Value::Float(f)) => *f,
            _ => 60.0,
        };
        Duration::from_secs_f64(if secs.is_finite() {
            secs.max(0.0)
        } else {
            60.0
        })
    }

    pub(crate) fn families(&self) -> Vec<Fam> {
        if self.has_cond_section() {
            if super::info::ipv6_allowed() {
                vec![Fam::Inet4, Fam::Inet6]
            } else {
                vec![Fam::Inet4]
            }
        } else {
            vec![Fam::Any]
        }
    }

    // ---- static tag pass -------------------------------------------------------------

    /// The static pass: tags replaced by (recursively substituted) property values, the
    /// `X?family=F` value winning for family F, `<br>`/`<sp>`/host names as fallbacks,
    /// unknown tags kept. Errors on self-referencing definitions.
    pub fn replace_tag(
        &mut self,
        query: &str,
        conditional: &'static str,
    ) -> Result<String, String> {
        if !query.contains('<') {
            return Ok(query.to_string());
        }
        if let Some(v) = self.cache.get(&(query.to_string(), conditional)) {
            return Ok(v.clone());
        }
        if !self.subst.contains_key(conditional) {
            let mut props: Vec<(String, String)> = self
                .props
                .iter()
                .map(|(k, (_, t))| (k.clone(), t.clone()))
                .collect();
            props.push(("banEpoch".into(), self.ban_epoch.to_string()));
            props.sort_by(|a, b| a.0.cmp(&b.0));
            let sub = substitute_recursive(props, conditional)?;
            self.subst.insert(conditional, sub);
        }
        let sub = &self.subst[conditional];
        let value = interpolate(query, sub, conditional)?;
        self.cache
            .insert((query.to_string(), conditional), value.clone());
        Ok(value)
    }

    /// An operation's command for a family (static pass plus `<family>`), as fail2ban's
    /// `_getOperation`: `tag` like `<actioncheck>`, `family` `""`, `inet4` or `inet6`.
    pub fn operation(&mut self, tag: &str, family: &str) -> Result<String, String> {
        let fam = match family {
            "inet4" => Fam::Inet4,
            "inet6" => Fam::Inet6,
            _ => Fam::Any,
        };
        self.get_operation(tag, fam)
    }

    fn get_operation(&mut self, tag: &str, fam: Fam) -> Result<String, String> {
        let cmd = self.replace_tag(tag, fam.cond())?;
        match fam.name() {
            Some(f) if cmd.contains('<') => Ok(replace_dynamic_tags(&cmd, &FamilyOnly(f)).script),
            _ => Ok(cmd),
        }
    }

    // ---- operations ------------------------------------------------------------------

    fn run(&self, ctx: &OpCtx<'_>, cmd: &PreparedCommand) -> bool {
        if cmd.script.is_empty() {
            emit(LogLevel::DEBUG, "fail2ban.action", "Nothing to do");
            return true;
        }
        (ctx.runner)(cmd, self.timeout())
    }

    fn run_text(&self, ctx: &OpCtx<'_>, script: &str) -> bool {
        self.run(ctx, &PreparedCommand::plain(script))
    }

    fn started(&self, f: Fam) -> u8 {
        self.started.get(f).copied().unwrap_or(0)
    }

    fn executed_elsewhere(&self, tag: &str, f: Fam, cmd: &str) -> bool {
        self.executed
            .get(tag)
            .is_some_and(|m| m.0.iter().any(|(k, v)| *k != f && v == cmd))
    }

    fn set_executed(&mut self, tag: &str, f: Fam, cmd: Option<String>) {
        match cmd {
            Some(c) if !c.is_empty() => self.executed.entry(tag.to_string()).or_default().set(f, c),
            _ => {
                // Forget this family's command and every other family's identical one.
                if let Some(m) = self.executed.get_mut(tag)
                    && let Some(c) = m.remove(f)
                {
                    m.0.retain(|(_, v)| *v != c);
                }
            }
        }
    }

    fn op_error(&self, operation: &str, err: &str) -> String {
        format!(
            "Error {operation} action Jail({})/{}: {err}",
            py_str_repr(&self.jail),
            self.name
        )
    }

    /// Runs a ticketless operation for `fams` (None: all started families), skipping a
    /// command already run identically for another family; `after` sees each result.
    fn execute_operation(
        &mut self,
        ctx: &OpCtx<'_>,
        tag: &str,
        operation: &str,
        fams: Option<Vec<Fam>>,
        after: fn(&mut CommandAction, Fam, bool),
    ) -> Result<(), String> {
        let fams = fams.unwrap_or_else(|| {
            self.started
                .0
                .iter()
                .filter(|(_, v)| *v != 0)
                .map(|(k, _)| *k)
                .collect()
        });
        let mut res = true;
        let mut err = py_str_repr("Script error");
        for f in fams {
            match self.get_operation(tag, f) {
                Ok(cmd) => {
                    let mut ret = true;
                    if !cmd.is_empty() && !self.executed_elsewhere(tag, f, &cmd) {
                        let info = EmptyInfo {
                            time: (ctx.clock)(),
                            family: f.dyn_value(),
                            bantime: ctx.bantime,
                            counters: ctx.counters,
                        };
                        let real = replace_dynamic_tags(&cmd, &info);
                        ret = self.run(ctx, &real);
                        res &= ret;
                    }
                    after(self, f, ret);
                    self.set_executed(tag, f, ret.then_some(cmd));
                }
                Err(e) => {
                    res = false;
                    err = format!("ValueError({})", py_str_repr(&e));
                }
            }
        }
        if res {
            Ok(())
        } else {
            Err(self.op_error(operation, &err))
        }
    }

    /// `actionstart` at jail start (does nothing for start-on-demand actions).
    pub(crate) fn start(&mut self, ctx: &mut OpCtx<'_>) -> Result<(), String> {
        self.start_fams(ctx, None, false)
    }

    /// `fam` None = every family of the action (fail2ban's `family=None`).
    fn start_fams(
        &mut self,
        ctx: &mut OpCtx<'_>,
        fam: Option<Fam>,
        force: bool,
    ) -> Result<(), String> {
        if self.start_on_demand() {
            if !force {
                return Ok(());
            }
        } else if !force && fam.is_some_and(|f| self.started(f) != 0) {
            return Ok(());
        }
        let fams = match fam {
            Some(f) => vec![f],
            None => self.families(),
        };
        self.execute_operation(ctx, "<actionstart>", "starting", Some(fams), |a, f, ret| {
            if ret {
                a.set_executed("<actionstop>", f, None);
                a.started.set(f, 1);
            }
        })
    }

    /// `actionstop` for the started families (all when `fam` is None).
    fn stop_fams(&mut self, ctx: &mut OpCtx<'_>, fam: Option<Fam>) -> Result<(), String> {
        let fams = match fam {
            None => {
                let f: Vec<Fam> = self
                    .started
                    .0
                    .iter()
                    .filter(|(_, v)| *v != 0)
                    .map(|(k, _)| *k)
                    .collect();
                if f.is_empty() {
                    return Ok(());
                }
                self.started = FamMap::default();
                f
            }
            Some(f) => {
                if self.started.get(f).is_none() {
                    return Ok(());
                }
                self.started.set(f, 0);
                vec![f]
            }
        };
        self.execute_operation(ctx, "<actionstop>", "stopping", Some(fams), |a, f, ret| {
            if ret {
                a.set_executed("<actionstart>", f, None);
            }
        })
    }

    pub(crate) fn stop(&mut self, ctx: &mut OpCtx<'_>) -> Result<(), String> {
        self.stop_fams(ctx, None)
    }

    pub(crate) fn reload(&mut self, ctx: &mut OpCtx<'_>) -> Result<(), String> {
        self.execute_operation(ctx, "<actionreload>", "reloading", None, |_, _, _| {})
    }

    /// `actionflush` once per family holding bans; Ok also when nothing was banned.
    pub(crate) fn flush(&mut self, ctx: &mut OpCtx<'_>) -> Result<(), String> {
        let fams: Vec<Fam> = self
            .started
            .0
            .iter()
            .filter(|(_, v)| *v & 3 == 3)
            .map(|(k, _)| *k)
            .collect();
        if fams.is_empty() {
            return Ok(());
        }
        self.execute_operation(ctx, "<actionflush>", "flushing", Some(fams), |a, f, ret| {
            if ret && a.started(f) != 0 {
                a.started.set(f, a.started(f) & !2);
            }
        })
    }

    /// `actionban` (or `tag`, e.g. `<actionreban>`), starting the family on demand.
    pub(crate) fn ban(
        &mut self,
        ctx: &mut OpCtx<'_>,
        info: &dyn TagSource,
        fam: Fam,
        tag: &str,
    ) -> Result<(), String> {
        if self.start_on_demand() && self.started(fam) == 0 {
            // A ban of a non-address id starts every family, as fail2ban does.
            let which = if fam == Fam::Raw { None } else { Some(fam) };
            self.start_fams(ctx, which, true)?;
        }
        let ok = self.process_cmd(ctx, tag, info, fam)?;
        self.ban_outcome(info, fam, ok)
    }

    /// A ban's end: an error naming the address, or the family marked as started.
    fn ban_outcome(&mut self, info: &dyn TagSource, fam: Fam, ok: bool) -> Result<(), String> {
        if !ok {
            return Err(format!(
                "Error banning {}",
                info.get("ip").unwrap_or_default()
            ));
        }
        let v = self.started(fam) | 3;
        self.started.set(fam, v);
        Ok(())
    }

    /// The command of a ban (`tag`) that can run away from the action (a restore batch
    /// running commands concurrently): `None` when the ban needs more than its command
    /// (a start on demand) or has nothing to run. Finish it with [`Self::finish_ban`].
    pub(crate) fn prepare_ban(
        &mut self,
        info: &dyn TagSource,
        fam: Fam,
        tag: &str,
    ) -> Result<Option<PreparedCommand>, String> {
        if self.start_on_demand() && self.started(fam) == 0 {
            return Ok(None);
        }
        let real = self.replace_tag(tag, fam.cond())?;
        let prepared = replace_dynamic_tags(&real, info);
        Ok((!prepared.script.is_empty()).then_some(prepared))
    }

    /// The rest of a ban whose first attempt ran elsewhere with outcome `ok`: after a
    /// failure the usual check (and repair) and one more attempt, as in [`Self::ban`].
    pub(crate) fn finish_ban(
        &mut self,
        ctx: &mut OpCtx<'_>,
        info: &dyn TagSource,
        fam: Fam,
        tag: &str,
        ok: bool,
    ) -> Result<(), String> {
        let ok = ok || self.process_cmd_from(ctx, tag, info, fam, 1)?;
        self.ban_outcome(info, fam, ok)
    }

    pub(crate) fn reban(
        &mut self,
        ctx: &mut OpCtx<'_>,
        info: &dyn TagSource,
        fam: Fam,
    ) -> Result<(), String> {
        let tag = if self.flag("actionreban") {
            "<actionreban>"
        } else {
            "<actionban>"
        };
        self.ban(ctx, info, fam, tag)
    }

    /// `actionunban`, only when this action banned something of that family.
    pub(crate) fn unban(
        &mut self,
        ctx: &mut OpCtx<'_>,
        info: &dyn TagSource,
        fam: Fam,
    ) -> Result<(), String> {
        if self.started(fam) & 2 != 0 && !self.process_cmd(ctx, "<actionunban>", info, fam)? {
            return Err(format!(
                "Error unbanning {}",
                info.get("ip").unwrap_or_default()
            ));
        }
        Ok(())
    }

    pub(crate) fn prolong(
        &mut self,
        ctx: &mut OpCtx<'_>,
        info: &dyn TagSource,
        fam: Fam,
    ) -> Result<(), String> {
        if !self.process_cmd(ctx, "<actionprolong>", info, fam)? {
            return Err(format!(
                "Error prolonging {}",
                info.get("ip").unwrap_or_default()
            ));
        }
        Ok(())
    }

    /// `actioncheck` of every started family, repairing broken ones; false if any
    /// stayed broken.
    pub(crate) fn consistency_check(
        &mut self,
        ctx: &mut OpCtx<'_>,
        before_repair: Option<&dyn Fn() -> bool>,
    ) -> Result<bool, String> {
        let mut ret = true;
        if self.has_check() {
            for (f, st) in self.started.0.clone() {
                if st != 0 && self.invariant_check(ctx, f, before_repair, true)? == 0 {
                    self.started.set(f, 0);
                    self.set_executed("<actionstart>", f, None);
                    ret = false;
                }
            }
        }
        Ok(ret)
    }

    fn invalidate_ban_epoch(&mut self, ctx: &mut OpCtx<'_>) {
        *ctx.epoch += 1;
        self.ban_epoch = *ctx.epoch;
    }

    /// Runs `actioncheck`; on failure repairs (`actionrepair`, else stop+start) and
    /// re-checks. 1 = sane, 0 = broken, -1 = repair declined by `before_repair`.
    fn invariant_check(
        &mut self,
        ctx: &mut OpCtx<'_>,
        fam: Fam,
        before_repair: Option<&dyn Fn() -> bool>,
        force_start: bool,
    ) -> Result<i32, String> {
        if !force_start && fam != Fam::Raw && self.started.get(fam).is_none() {
            return Ok(1);
        }
        let check = self.get_operation("<actioncheck>", fam)?;
        if check.is_empty() || self.run_text(ctx, &check) {
            return Ok(1);
        }
        if let Some(b) = before_repair
            && !b()
        {
            return Ok(-1);
        }
        emit(
            LogLevel::ERROR,
            CA_LOG,
            "Invariant check failed. Trying to restore a sane environment",
        );
        self.invalidate_ban_epoch(ctx);
        let repair = self.get_operation("<actionrepair>", fam)?;
        let which = if fam == Fam::Raw { None } else { Some(fam) };
        if !repair.is_empty() {
            if !self.run_text(ctx, &repair) {
                self.started.set(fam, 0);
                emit(LogLevel::CRITICAL, CA_LOG, "Unable to restore environment");
                return Ok(0);
            }
            self.started.set(fam, 1);
        } else {
            // No repair command: restart the action for this family (a failing stop
            // does not matter if start and check succeed).
            let _ = self.stop_fams(ctx, which);
            let force = force_start || !self.start_on_demand();
            self.start_fams(ctx, which, force)?;
        }
        if self.started(fam) != 0 && !self.run_text(ctx, &check) {
            emit(LogLevel::CRITICAL, CA_LOG, "Unable to restore environment");
            return Ok(0);
        }
        Ok(1)
    }

    /// Static + dynamic pass and execution of a ticket operation; after a failure with
    /// an `actioncheck`, check (and repair) and try once more.
    fn process_cmd(
        &mut self,
        ctx: &mut OpCtx<'_>,
        tag: &str,
        info: &dyn TagSource,
        fam: Fam,
    ) -> Result<bool, String> {
        self.process_cmd_from(ctx, tag, info, fam, 0)
    }

    /// [`Self::process_cmd`] from attempt `repcnt` (1: the first attempt already failed).
    fn process_cmd_from(
        &mut self,
        ctx: &mut OpCtx<'_>,
        tag: &str,
        info: &dyn TagSource,
        fam: Fam,
        mut repcnt: u32,
    ) -> Result<bool, String> {
        let is_unban = tag == "<actionunban>";
        let repair_on_unban = self.repair_on_unban();
        let before = move || {
            if is_unban && !repair_on_unban {
                emit(
                    LogLevel::ERROR,
                    CA_LOG,
                    "Invariant check failed. Unban is impossible.",
                );
                return false;
            }
            true
        };
        loop {
            if repcnt > 0
                && self.has_check()
                && self.invariant_check(ctx, fam, Some(&before), !is_unban)? != 1
            {
                return Ok(false);
            }
            let real = self.replace_tag(tag, fam.cond())?;
            let prepared = replace_dynamic_tags(&real, info);
            let ret = self.run(ctx, &prepared);
            repcnt += 1;
            if ret || repcnt > 1 {
                return Ok(ret);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn static_pass_conditional_and_recursive() {
        let mut a = CommandAction::new("j", "a");
        a.set_property(
            "actionban",
            "<iptables> -I <chain> -s <ip> -j <blocktype><br>x",
        );
        a.set_property("iptables", "iptables <lockingopt>");
        a.set_property("iptables?family=inet6", "ip6tables <lockingopt>");
        a.set_property("lockingopt", "-w");
        a.set_property("chain", "INPUT");
        a.set_property("blocktype", "REJECT");
        assert!(a.has_cond_section() && a.start_on_demand());
        assert_eq!(
            a.operation("<actionban>", "inet6").unwrap(),
            "ip6tables -w -I INPUT -s <ip> -j REJECT\nx"
        );
        assert_eq!(
            a.operation("<actionban>", "").unwrap(),
            "iptables -w -I INPUT -s <ip> -j REJECT\nx"
        );
        a.set_property("chain", "<chain>X");
        assert!(a.operation("<actionban>", "").is_err());
    }

    #[test]
    fn escaped_property_and_flags() {
        let mut a = CommandAction::new("j", "a");
        a.set_property("actionban", "echo <matches> <x>");
        a.set_property("matches", "a;b`c` $d");
        a.set_property("x", "<y>");
        a.set_property("y", "Y");
        assert_eq!(
            a.operation("<actionban>", "").unwrap(),
            "echo a\\;b\\`c\\` \\$d Y"
        );
        assert!(!a.start_on_demand());
        a.set_value("actionstart_on_demand", &Value::Bool(true))
            .unwrap();
        assert!(a.start_on_demand());
        a.set_property("timeout", "1m");
        assert_eq!(a.timeout(), Duration::from_secs(60));
        a.set_property("bantime", "100");
        assert!(a.property("bantime").is_none());
    }
}

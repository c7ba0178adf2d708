//! The shared lookup memos behind [`super::reader::DefReader`]: a definition value read
//! without jail variables (or with variables that none of its names touch) is the same for
//! every jail, so it is computed once per file and reused. [`VarNames`] hashes a jail's
//! variable names for that test; [`def_get`] and [`comb_option`] answer from the memo
//! when they can; [`init_plain`] reads `[Init]` without variables once per file.

use std::collections::{HashMap, HashSet};
use std::rc::Rc;

use super::files::{Config, ConfigError, InitPlain, TagMemo};
use super::ini::FxBuild;
use super::interp::{GetError, Vars};
use super::reader::SharedVars;

/// The names of a variable list as hashes: a name that hashes like a variable counts as
/// one, which only costs a recomputation (the shared memos stay exact). The jail's
/// layer is hashed once for its filter and all its actions (see [`shared_hashes`]).
#[derive(Default)]
pub(super) struct VarNames {
    own: HashSet<u64, FxBuild>,
    shared: Rc<HashSet<u64, FxBuild>>,
}

impl VarNames {
    pub(super) fn of(vars: &Vars, shared: &SharedVars) -> Self {
        VarNames {
            own: vars.iter().map(|(k, _)| name_hash(k)).collect(),
            shared: shared_hashes(shared),
        }
    }
    fn may_contain(&self, k: &str) -> bool {
        self.has_hash(name_hash(k))
    }
    fn has_hash(&self, h: u64) -> bool {
        self.own.contains(&h) || self.shared.contains(&h)
    }
}

thread_local! {
    /// The last jail variable list hashed, with its hashes. The `Weak` keeps the list's
    /// allocation from being reused, so pointer equality means the same list.
    static SHARED_HASHES: std::cell::RefCell<Option<HashedVars>> =
        const { std::cell::RefCell::new(None) };
}

/// A jail variable list (held weakly) with the hashes of its names.
type HashedVars = (
    std::rc::Weak<Vec<(String, String)>>,
    Rc<HashSet<u64, FxBuild>>,
);

/// The names of a jail's variables as hashes, computed once per list.
fn shared_hashes(shared: &SharedVars) -> Rc<HashSet<u64, FxBuild>> {
    SHARED_HASHES.with(|c| {
        let mut c = c.borrow_mut();
        if let Some((w, h)) = c.as_ref()
            && std::ptr::eq(w.as_ptr(), Rc::as_ptr(shared))
        {
            return h.clone();
        }
        let h: Rc<HashSet<u64, FxBuild>> =
            Rc::new(shared.iter().map(|(k, _)| name_hash(k)).collect());
        *c = Some((Rc::downgrade(shared), h.clone()));
        h
    })
}

/// The looked-up names of a shared value as [`name_hash`]es, each once (the memo tests
/// only ask whether a caller's variables hold any of them).
fn key_hashes(keys: Vec<String>) -> Vec<u64> {
    let mut h: Vec<u64> = keys.iter().map(|k| name_hash(k)).collect();
    h.sort_unstable();
    h.dedup();
    h
}

fn name_hash(k: &str) -> u64 {
    use std::hash::BuildHasher;
    FxBuild::default().hash_one(k)
}

/// The `[Init]` options of `cfg` read without variables (memoised in the config: the
/// same for every jail); `None` without an `[Init]` section.
pub(super) fn init_plain(
    cfg: &Config,
    names: &[String],
) -> Result<Option<Rc<InitPlain>>, GetError> {
    if let Some(p) = cfg.init_memo.borrow().as_ref() {
        return Ok(Some(p.clone()));
    }
    if !cfg.has_section("Init") {
        return Ok(None);
    }
    let mut out: InitPlain = Vec::new();
    for opt in cfg.own_options("Init") {
        let v = cfg.get_plain("Init", &opt, names)?;
        let known = (!opt.starts_with("known/")).then(|| format!("known/{opt}"));
        out.push((opt, known, v));
    }
    let out = Rc::new(out);
    *cfg.init_memo.borrow_mut() = Some(out.clone());
    Ok(Some(out))
}

/// `cfg.get("Definition", name, vars)`, answered from the shared [`Config::tag_memo`] when
/// none of the names the value was built from is among `vars` (the same rule as
/// [`comb_option`], whose answers for plain names are the same lookup).
pub(super) fn def_get(
    cfg: &Config,
    vars: (&Vars, &Vars),
    vnames: &VarNames,
    has_def: bool,
    names: &[String],
    name: &str,
) -> Result<String, GetError> {
    let in_vars = |k: &str| vnames.may_contain(k);
    {
        let memo = cfg.tag_memo.borrow();
        match memo.get(name) {
            Some(TagMemo::Value(v, keys)) if !keys.iter().any(|&h| vnames.has_hash(h)) => {
                return Ok(v.clone());
            }
            // absent, and a section to be absent from (else the error is NoSection)
            // (names come from the templates: already lower-case)
            Some(TagMemo::Absent) if has_def && !in_vars(name) => {
                return Err(GetError::NoOption(
                    name.to_string(),
                    "Definition".to_string(),
                ));
            }
            _ => {}
        }
    }
    match cfg.get_tracked2("Definition", name, vars, names) {
        Ok((v, keys)) => {
            if let Some(k) = keys {
                memo_insert(cfg, name, TagMemo::Value(v.clone(), key_hashes(k)));
            }
            Ok(v)
        }
        Err(e) => {
            if matches!(e, GetError::NoOption(..)) {
                memo_insert(cfg, name, TagMemo::Absent);
            }
            Err(e)
        }
    }
}

/// Records a shared lookup result. The memo grows as used: room for a definition's
/// usual few dozen names, reserved up front, saved some regrowths but cost ~70 fresh
/// pages on the all-jails tree, most memos staying small.
fn memo_insert(cfg: &Config, name: &str, m: TagMemo) {
    cfg.tag_memo.borrow_mut().insert(name.to_string(), m);
}

/// fail2ban's `get_ex("Definition", name, vars=pOpts)`, cached per reader like
/// `getCombOption`, and shared between readers of the same file when no jail variable
/// influenced it.
pub(super) fn comb_option(
    cfg: &Config,
    p_vars: (&Vars, &Vars),
    p_names: &VarNames,
    def_cache: &mut HashMap<String, Option<String>, FxBuild>,
    names: &[String],
    name: &str,
) -> Result<Option<String>, ConfigError> {
    if let Some(v) = def_cache.get(name) {
        return Ok(v.clone());
    }
    let in_vars = |k: &str| p_names.may_contain(k);
    {
        // a shared answer is as good as a cached one (both are fixed for this reader)
        let memo = cfg.tag_memo.borrow();
        match memo.get(name) {
            Some(TagMemo::Value(v, keys)) if !keys.iter().any(|&h| p_names.has_hash(h)) => {
                return Ok(Some(v.clone()));
            }
            // absent from the file: only the jail's variables could still supply it
            Some(TagMemo::Absent) if !in_vars(&super::interp::lower(name)) => {
                return Ok(None);
            }
            _ => {}
        }
    }
    let vars = p_vars;
    let mut result: Option<String> = None;
    let mut done = false;
    if let Some((sec, opt)) = name.split_once('/') {
        let valid_sec = !sec.is_empty()
            && sec
                .chars()
                .all(|c| c.is_alphanumeric() || c == '_' || c == '-');
        let valid_opt = !opt.is_empty() && !opt.chars().any(|c| c.is_whitespace() || c == '>');
        if valid_sec && valid_opt {
            let seclwr = sec.to_lowercase();
            let secs: &[&str] = if seclwr == "known" {
                &["KNOWN/Definition", "Definition"]
            } else if seclwr == "default" {
                &["DEFAULT"]
            } else {
                &[sec]
            };
            for s in secs {
                match cfg.get(s, opt, &[], names) {
                    Ok(v) => {
                        result = Some(v);
                        done = true;
                        break;
                    }
                    Err(GetError::Interp(e)) => return Err(e),
                    Err(_) => {}
                }
            }
        }
    }
    // what may be shared with other jails: values that no jail variable influenced,
    // and names absent from the file
    let mut share: Option<TagMemo> = None;
    if done {
        if let Some(v) = &result {
            share = Some(TagMemo::Value(v.clone(), Vec::new()));
        }
    } else {
        match cfg.get_tracked2("Definition", name, vars, names) {
            Ok((v, keys)) => {
                share = keys.map(|k| TagMemo::Value(v.clone(), key_hashes(k)));
                result = Some(v);
            }
            Err(GetError::Interp(e)) => return Err(e),
            Err(_) => share = Some(TagMemo::Absent),
        }
    }
    if let Some(m) = share {
        memo_insert(cfg, name, m);
    }
    def_cache.insert(name.to_string(), result.clone());
    Ok(result)
}

//! The restore's batch shell: [`run_batch`] runs several prepared ban commands in ONE
//! `/bin/sh`, each in its own subshell, so that a command costs a fork of the shell
//! instead of a fresh `sh` exec (the floor of a restore of many bans).
//!
//! Data flow: the scripts travel as positional parameters of the batch shell (never
//! pasted into its code), each after its mode; a fixed driver runs each as
//! `( eval "set --; $2" )` (or `eval "$2"`, see below), and after each success prints a per-batch random marker on stdout and stderr, which
//! splits the shared output pipes into each command's output and tells when it ended
//! (for its own timeout). The first failing command ends the batch shell with its exit
//! status. Each command is logged through [`CmdLog`] exactly as [`super::execute`]
//! logs it.
//!
//! Only [`batchable`] commands take this path: those for which the subshell cannot be
//! told from `sh -c script` (no positional values, no `$$`, no `eval`, no `kill`, no
//! background `&`). What stays the same for them: `$0` (`/bin/sh`), `$#`/`$@` (empty),
//! `$?` at start (0), environment, cwd, umask, stdin (`/dev/null`), stdout/stderr
//! (pipes to the server), no extra fd, `$PPID` (the server), error messages (dash
//! names `eval` in them: that prefix is taken out again, see [`strip_eval_prefix`]).
//! What differs: the command's process group also holds the batch shell, and output
//! written by a process it left running after it ended goes to a later command.
//!
//! A command that provably cannot change the shell's state ([`stateless`]: simple
//! commands of plain names that are neither special builtins nor state-changing ones,
//! no expansion, assignment, grouping or compound command) skips the subshell and is
//! evaluated by the batch shell itself: one fork less per command (two for an external
//! program, which the subshell's `eval` forks again), the same output, status and
//! messages (dash prefixes `eval` alike in both). What it keeps across commands is
//! dash's table of program paths already looked up: PATH never changes in a batch, so
//! only a program moved while the batch runs (well under a second) could be sought at
//! its old place.

use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::PreparedCommand;
use super::exec::{
    Capture, CmdLog, command_lock, kill_and_reap, pidfd_open, status_code, wait_reading,
};

/// Largest script taken into a batch, and the most script bytes in one batch (the
/// kernel limits one argument to 128 KiB and all of them to a fraction of the stack).
const MAX_SCRIPT: usize = 16 * 1024;
pub(crate) const MAX_BATCH_BYTES: usize = 64 * 1024;

/// Batch shells started so far.
static SHELLS: AtomicU64 = AtomicU64::new(0);

/// How many batch shells the server started (tests check that the batch path ran).
pub fn batch_shells_started() -> u64 {
    SHELLS.load(Ordering::Relaxed)
}

/// `/bin/sh` is dash: the shell whose subshell behaviour (and `eval` messages) the
/// batch path was checked against. bash, for one, marks subshell levels in `set -x`.
fn shell_is_dash() -> bool {
    static DASH: OnceLock<bool> = OnceLock::new();
    *DASH.get_or_init(|| {
        std::fs::canonicalize("/bin/sh").is_ok_and(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("dash"))
        })
    })
}

/// Whether `cmd` runs the same in a subshell of the batch shell as with `sh -c`.
pub(crate) fn batchable(cmd: &PreparedCommand) -> bool {
    let s = cmd.script.as_str();
    shell_is_dash()
        && cmd.args.is_empty()
        && !s.is_empty()
        && s.len() <= MAX_SCRIPT
        && !s.contains('\0')
        // `$$` is the batch shell's pid in a subshell.
        && !s.contains("$$")
        && !s.contains("${$")
        // dash names `eval` in its messages (undone for ours, so none of the script's).
        && !s.contains("eval")
        // `kill 0` and the like would reach the batch shell's group.
        && !s.contains("kill")
        && !has_background(s)
}

/// Whether the batch shell can run `script` (a [`batchable`] one) without a subshell:
/// nothing in it can change the shell's state, so the commands after it see the same
/// shell either way. Deliberately narrow, the shape of firewall and file-writing ban
/// commands: each simple command (split at unquoted `;`, `&`, `|`, newline) starts
/// with a plain name (letters, digits, `_./+,:@%-`) that is neither a reserved word
/// nor a builtin with lasting effects or one whose errors end the shell (the special
/// builtins); no `$`, backquote, backslash, parenthesis, brace, here-document or
/// comment anywhere, and quotes balanced. Anything else keeps its subshell.
pub(crate) fn stateless(script: &str) -> bool {
    // POSIX special builtins (their redirection and usage errors end the shell), dash's
    // builtins that change the shell, and the reserved words.
    const DENY: &[&str] = &[
        ".", ":", "break", "continue", "eval", "exec", "exit", "export", "readonly", "return",
        "set", "shift", "times", "trap", "unset", "alias", "unalias", "bg", "cd", "chdir",
        "command", "fg", "getopts", "hash", "jobs", "local", "read", "ulimit", "umask", "wait",
        "kill", "if", "then", "else", "elif", "fi", "while", "until", "for", "in", "do", "done",
        "case", "esac", "function", "select",
    ];
    let b = script.as_bytes();
    if b.iter().any(|c| {
        matches!(
            c,
            b'$' | b'`' | b'\\' | b'(' | b')' | b'{' | b'}' | b'#' | b'\0'
        )
    }) || script.contains("<<")
    {
        return false;
    }
    let mut i = 0;
    // At the start of a simple command (before its first word).
    let mut at_start = true;
    while i < b.len() {
        match b[i] {
            b' ' | b'\t' => i += 1,
            b';' | b'&' | b'|' | b'\n' => {
                at_start = true;
                i += 1;
            }
            _ if at_start => {
                let end = b[i..]
                    .iter()
                    .position(|c| matches!(c, b' ' | b'\t' | b';' | b'&' | b'|' | b'\n'))
                    .map_or(b.len(), |n| i + n);
                let word = &script[i..end];
                let plain = word.bytes().all(|c| {
                    c.is_ascii_alphanumeric()
                        || matches!(
                            c,
                            b'_' | b'.' | b'/' | b'+' | b',' | b':' | b'@' | b'%' | b'-'
                        )
                });
                if !plain || DENY.contains(&word) {
                    return false;
                }
                at_start = false;
                i = end;
            }
            q @ (b'\'' | b'"') => match b[i + 1..].iter().position(|&c| c == q) {
                Some(n) => i += n + 2,
                None => return false,
            },
            _ => i += 1,
        }
    }
    true
}

/// A `&` that is not part of `&&`, `>&` or `<&`: a job left running in the background.
fn has_background(s: &str) -> bool {
    let b = s.as_bytes();
    (0..b.len()).any(|i| {
        b[i] == b'&'
            && !(i > 0 && matches!(b[i - 1], b'&' | b'>' | b'<'))
            && b.get(i + 1) != Some(&b'&')
    })
}

/// The batch shell's program. Its only state is its positional parameters (no variable
/// the scripts could see): pairs of a mode and a script, `d` for a [`stateless`] script
/// run directly (it names no parameter, so none needs clearing), `s` for one run in a
/// subshell. `MARK` is replaced by the batch's marker (hex digits).
const DRIVER: &str = "while [ $# -gt 1 ]; do if [ \"$1\" = d ]; then eval \"$2\"; \
                      else ( eval \"set --; $2\" ); fi || exit; \
                      printf %s MARK; printf %s MARK >&2; shift 2; done";

/// What a batch did.
#[derive(Debug, Default)]
pub(crate) struct BatchRun {
    /// The outcome of each command run, in order; stops after the first failure.
    pub results: Vec<bool>,
    /// The batch could not go on past `results` (no shell, a timeout): the caller runs
    /// what is left one by one.
    pub aborted: bool,
}

/// A marker no command output will contain: 128 random bits.
fn marker() -> String {
    let mut buf = [0u8; 16];
    // SAFETY: buf is a live writable buffer of the given length.
    let n = unsafe { libc::getrandom(buf.as_mut_ptr().cast(), buf.len(), 0) };
    if n != buf.len() as isize {
        // No getrandom: time and pid are unique enough against accidental collisions.
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        buf = (t ^ (u128::from(std::process::id()) << 64)).to_le_bytes();
    }
    let hex: String = buf.iter().map(|b| format!("{b:02x}")).collect();
    format!("@gaol{hex}@")
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    memchr::memmem::find(hay, needle)
}

/// Undoes the one thing `eval` changes in dash's own messages: `/bin/sh: 3: eval: x`
/// is `/bin/sh: 3: x` with `sh -c` (scripts naming `eval` are not batched, so no such
/// line comes from the script itself).
pub(crate) fn strip_eval_prefix(err: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    const HEAD: &[u8] = b"/bin/sh: ";
    const EVAL: &[u8] = b": eval: ";
    if find(err, EVAL).is_none() {
        return std::borrow::Cow::Borrowed(err);
    }
    let mut out = Vec::with_capacity(err.len());
    for line in err.split_inclusive(|&c| c == b'\n') {
        let digits = line
            .strip_prefix(HEAD)
            .map(|rest| rest.iter().take_while(|c| c.is_ascii_digit()).count())
            .unwrap_or(0);
        let at = HEAD.len() + digits;
        if digits > 0 && line[at..].starts_with(EVAL) {
            out.extend_from_slice(&line[..at + 2]);
            out.extend_from_slice(&line[at + EVAL.len()..]);
        } else {
            out.extend_from_slice(line);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Runs `cmds` (each with its timeout) in one batch shell, in order, until the first
/// failure; each logged as [`super::execute`] logs it. Call only with [`batchable`]
/// commands; runs under the server-wide command lock like any command.
pub(crate) fn run_batch(cmds: &[(&PreparedCommand, Duration)]) -> BatchRun {
    let mut run = BatchRun::default();
    if cmds.is_empty() {
        return run;
    }
    let mark = marker();
    let _guard = command_lock();
    let spawned = Command::new("/bin/sh")
        .arg("-c")
        .arg(DRIVER.replace("MARK", &mark))
        .arg("/bin/sh")
        .args(cmds.iter().flat_map(|(c, _)| {
            let mode = if stateless(&c.script) { "d" } else { "s" };
            [mode, c.script.as_str()]
        }))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn();
    SHELLS.fetch_add(1, Ordering::Relaxed);
    let Ok(mut child) = spawned else {
        // The one-by-one runs that follow report the error per command.
        run.aborted = true;
        return run;
    };
    let pid = child.id() as i32;
    let pidfd = pidfd_open(child.id());
    let mut cap = Capture::of(&mut child);
    let mut p = Progress {
        cmds,
        mark: mark.into_bytes(),
        out_at: 0,
        err_at: 0,
        started: Instant::now(),
        log: CmdLog::new(cmds[0].0),
        pid,
        run,
    };
    let mut pause = Duration::from_micros(200);
    let exit = loop {
        p.collect(&cap);
        match child.try_wait() {
            Ok(Some(st)) => break Some(status_code(st)),
            Ok(None) => {}
            Err(_) => break None,
        }
        if p.all_done() {
            // The driver ends right after the last marker.
            break wait_reading(&mut child, &mut cap, Duration::from_secs(2));
        }
        let limit = cmds[p.run.results.len()].1;
        let spent = p.started.elapsed();
        if spent >= limit {
            p.log.timed_out(limit);
            let code = kill_and_reap(&mut child, pid);
            cap.drain_to_eof(true);
            p.fail(&cap, code, true);
            p.run.aborted = true;
            return p.run;
        }
        match &pidfd {
            Some(fd) => {
                use std::os::fd::AsRawFd;
                cap.pump(limit - spent, Some(fd.as_raw_fd()));
            }
            None => {
                cap.pump(pause.min(limit - spent), None);
                pause = (pause * 2).min(Duration::from_millis(20));
            }
        }
    };
    // The shell ended (or would not): the rest of its output, then the markers in it.
    if exit.is_none() {
        let _ = kill_and_reap(&mut child, pid);
    }
    cap.drain_to_eof(exit.is_none());
    p.collect(&cap);
    if p.all_done() {
        return p.run;
    }
    // It ended early: the next command failed with its status (or the shell was killed
    // while it ran). Its output is the rest of the pipes.
    let ok = p.fail(&cap, exit, false);
    // A shell ending with 0 before its last command is no failure of that command: what
    // is left runs one by one.
    p.run.aborted = ok || exit.is_none();
    if ok {
        p.run.results.pop();
    }
    p.run
}

/// The state of a running batch: where the current command's output starts, since when
/// it runs, its log.
struct Progress<'c> {
    cmds: &'c [(&'c PreparedCommand, Duration)],
    mark: Vec<u8>,
    out_at: usize,
    err_at: usize,
    started: Instant,
    log: CmdLog<'c>,
    pid: i32,
    run: BatchRun,
}

impl Progress<'_> {
    fn all_done(&self) -> bool {
        self.run.results.len() == self.cmds.len()
    }

    /// Every command whose markers arrived on both pipes succeeded: logs them.
    fn collect(&mut self, cap: &Capture) {
        while !self.all_done() {
            let Some(o) = find(&cap.out_buf[self.out_at..], &self.mark) else {
                break;
            };
            let Some(e) = find(&cap.err_buf[self.err_at..], &self.mark) else {
                break;
            };
            let err = strip_eval_prefix(&cap.err_buf[self.err_at..self.err_at + e]);
            let out = &cap.out_buf[self.out_at..self.out_at + o];
            let r = self.log.finish(Some(0), false, out, &err, &[0], self.pid);
            self.run.results.push(r.success);
            self.out_at += o + self.mark.len();
            self.err_at += e + self.mark.len();
            self.started = Instant::now();
            if let Some((next, _)) = self.cmds.get(self.run.results.len()) {
                self.log = CmdLog::new(next);
            }
        }
    }

    /// The current command ended with `code` and the rest of the output; its outcome.
    fn fail(&mut self, cap: &Capture, code: Option<i32>, timed_out: bool) -> bool {
        let err = strip_eval_prefix(&cap.err_buf[self.err_at..]).into_owned();
        let out = &cap.out_buf[self.out_at..];
        let r = self.log.finish(code, timed_out, out, &err, &[0], self.pid);
        self.run.results.push(r.success);
        r.success
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_batchable() {
        // Only with dash as /bin/sh (Debian's default) anything is batchable.
        if shell_is_dash() {
            assert!(batchable(&PreparedCommand::plain(
                "echo \"ban 10.0.0.1\" >> /tmp/x"
            )));
            assert!(batchable(&PreparedCommand::plain(
                "iptables -w -I f2b-x 1 -s 1.2.3.4 -j REJECT 2>&1"
            )));
            assert!(batchable(&PreparedCommand::plain("a && b || c <&0")));
        }
        assert!(!batchable(&PreparedCommand::plain("sleep 1 &")));
        assert!(!batchable(&PreparedCommand::plain("x &> /dev/null")));
        assert!(!batchable(&PreparedCommand::plain("echo $$")));
        assert!(!batchable(&PreparedCommand::plain("echo ${$}")));
        assert!(!batchable(&PreparedCommand::plain("eval x")));
        assert!(!batchable(&PreparedCommand::plain("pkill x")));
        assert!(!batchable(&PreparedCommand::plain("")));
        let mut c = PreparedCommand::plain("f2bV_ip=$0 \necho $f2bV_ip");
        c.args.push("a;b".into());
        assert!(!batchable(&c));
    }

    #[test]
    fn what_runs_without_subshell() {
        for ok in [
            "echo \"ban 10.0.0.1\" >> /tmp/x/bans.txt",
            "iptables -w -I f2b-sshd 1 -s 192.0.2.1 -j REJECT --reject-with icmp-port-unreachable",
            "ipset -exist add f2b-x 192.0.2.1 timeout 600 2>&1",
            "a; b && c || d | e\n/usr/sbin/f 'x; cd /' \"y | exit\"",
            // The scripts of tests/server_actions_batch_direct.rs.
            "echo \"a 192.0.2.1\" >> /tmp/.tmpAb_9/a",
            "echo out 192.0.2.1; echo err 192.0.2.1 >&2; cat /tmp/.tmpAb_9/in/192.0.2.1",
            "echo \"r 192.0.2.1\" >> /tmp/.tmpAb_9/r192.0.2.1/f",
            "/tmp/.tmpAb_9/bin/192.0.2.1 192.0.2.1 && echo ran",
            "echo \"p 192.0.2.1\" | cat >> /tmp/.tmpAb_9/p || echo never; printf 'no eol' >&2",
        ] {
            assert!(stateless(ok), "{ok}");
        }
        for not in [
            "cd /tmp; echo x",
            "echo x; exit 3",
            "echo x\nset -- a",
            ": > /x",
            "umask 077",
            "X=1 echo x",
            "echo $X",
            "echo `id`",
            "echo $(id)",
            "echo a\\\nb",
            "{ echo x; }",
            "(cd /)",
            "f() { :; }",
            "if true; then echo; fi",
            "for x in 1; do echo; done",
            "[ -e x ] && echo",
            "! false",
            "echo x # ; cd /",
            "cat <<EOF\nx\nEOF",
            "'cd' /",
            "\"echo\" x",
            ">>f echo x",
            "echo 'unclosed",
            "echo x; read y",
            "ec*o x",
        ] {
            assert!(!stateless(not), "{not}");
        }
    }

    #[test]
    fn eval_prefix_only_on_dash_lines() {
        let e = b"/bin/sh: 2: eval: foo: not found\nx: 2: eval: y\n/bin/sh: 3: eval: z";
        assert_eq!(
            &*strip_eval_prefix(e),
            b"/bin/sh: 2: foo: not found\nx: 2: eval: y\n/bin/sh: 3: z"
        );
        assert_eq!(
            &*strip_eval_prefix(b"/bin/sh: eval: a"),
            b"/bin/sh: eval: a"
        );
    }
}

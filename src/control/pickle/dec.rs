//! The pickle decoder: a stack machine over [`Obj`] that only builds data.

use super::{Decoded, ExcReply, Limits, Mode, PickleError, err};
use crate::stream::Value;

/// A decoder stack item: data, or (reply mode only) a class reference / exception.
#[derive(Debug, Clone)]
enum Obj {
    Val(Value),
    Global(String, String),
    Exc(ExcReply),
    ErrReply(Value, ExcReply),
    Mark,
}

/// A stack slot: the object, its nesting depth, and memo ids still pointing at it.
struct Slot {
    obj: Obj,
    depth: usize,
    memo: Vec<usize>,
    serial: u64,
}

enum MemoEntry {
    /// The object is still on the stack at `pos` (it may be mutated by APPENDS etc.);
    /// `serial` tells it apart from a later object at the same position.
    OnStack {
        pos: usize,
        serial: u64,
    },
    Done(Obj, usize),
}

struct Machine<'a> {
    data: &'a [u8],
    pos: usize,
    mode: Mode,
    limits: Limits,
    stack: Vec<Slot>,
    memo: Vec<Option<MemoEntry>>,
    /// Nodes we may still copy out of the memo; bounds work and memory.
    budget: usize,
    /// Objects pushed so far (checked against `Limits::max_nodes`).
    nodes: usize,
    serial: u64,
}

/// Decode `data` (one whole pickle, nothing after `STOP` but ignored) under `limits`.
pub fn decode_with(data: &[u8], mode: Mode, limits: Limits) -> Result<Decoded, PickleError> {
    if data.len() > limits.max_size {
        return err(format!(
            "message too large ({} bytes, limit {})",
            data.len(),
            limits.max_size
        ));
    }
    if data.is_empty() {
        return err("Ran out of input");
    }
    let mut m = Machine {
        data,
        pos: 0,
        mode,
        limits,
        stack: Vec::new(),
        memo: Vec::new(),
        budget: data.len().saturating_mul(16).saturating_add(4096),
        nodes: 0,
        serial: 0,
    };
    m.run()
}

fn node_count(v: &Value) -> usize {
    match v {
        Value::List(xs) | Value::Tuple(xs) => 1 + xs.iter().map(node_count).sum::<usize>(),
        Value::Dict(kv) => {
            1 + kv
                .iter()
                .map(|(k, v)| node_count(k) + node_count(v))
                .sum::<usize>()
        }
        _ => 1,
    }
}

fn load_key_error(op: u8) -> PickleError {
    if op.is_ascii_graphic() || op == b' ' {
        PickleError(format!("invalid load key, '{}'.", op as char))
    } else {
        PickleError(format!("invalid load key, '\\x{op:02x}'."))
    }
}

impl Machine<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], PickleError> {
        if n > self.data.len() - self.pos {
            return err("pickle data was truncated");
        }
        let s = &self.data[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn byte(&mut self) -> Result<u8, PickleError> {
        Ok(self.take(1)?[0])
    }

    fn uint(&mut self, n: usize) -> Result<u64, PickleError> {
        let b = self.take(n)?;
        Ok(b.iter()
            .rev()
            .fold(0u64, |acc, &x| (acc << 8) | u64::from(x)))
    }

    /// A length prefix, refused if it claims more bytes than remain.
    fn len_prefix(&mut self, n: usize) -> Result<usize, PickleError> {
        let len = self.uint(n)?;
        let remaining = (self.data.len() - self.pos) as u64;
        if len > remaining {
            return err("pickle data was truncated");
        }
        Ok(len as usize)
    }

    /// A protocol-0 argument: the raw bytes up to (not including) the newline.
    fn line_bytes(&mut self) -> Result<Vec<u8>, PickleError> {
        let rest = &self.data[self.pos..];
        let Some(n) = memchr::memchr(b'\n', rest) else {
            return err("pickle data was truncated");
        };
        self.pos += n + 1;
        Ok(rest[..n].to_vec())
    }

    /// A protocol-0 text argument (numbers, names): must be UTF-8.
    fn line(&mut self) -> Result<&str, PickleError> {
        let rest = &self.data[self.pos..];
        let Some(n) = memchr::memchr(b'\n', rest) else {
            return err("pickle data was truncated");
        };
        self.pos += n + 1;
        std::str::from_utf8(&rest[..n]).map_err(|_| PickleError("invalid text argument".into()))
    }

    fn push(&mut self, obj: Obj, depth: usize) -> Result<(), PickleError> {
        if depth > self.limits.max_depth {
            return err(format!("nesting deeper than {}", self.limits.max_depth));
        }
        self.nodes += 1;
        if self.nodes > self.limits.max_nodes {
            return err(format!(
                "too many objects (limit {})",
                self.limits.max_nodes
            ));
        }
        self.serial += 1;
        self.stack.push(Slot {
            obj,
            depth,
            memo: Vec::new(),
            serial: self.serial,
        });
        Ok(())
    }

    fn push_val(&mut self, v: Value) -> Result<(), PickleError> {
        self.push(Obj::Val(v), 0)
    }

    /// Pop one slot, freezing any memo entries that still refer to it.
    fn pop(&mut self) -> Result<(Obj, usize), PickleError> {
        let Some(slot) = self.stack.pop() else {
            return err("unpickling stack underflow");
        };
        if matches!(slot.obj, Obj::Mark) {
            return err("unexpected MARK found");
        }
        self.freeze(&slot)?;
        Ok((slot.obj, slot.depth))
    }

    fn freeze(&mut self, slot: &Slot) -> Result<(), PickleError> {
        for &id in &slot.memo {
            if !matches!(self.memo[id], Some(MemoEntry::OnStack { serial, .. }) if serial == slot.serial)
            {
                continue; // the id was re-bound to a newer object
            }
            let cost = match &slot.obj {
                Obj::Val(v) => node_count(v),
                _ => 1,
            };
            self.spend(cost)?;
            self.memo[id] = Some(MemoEntry::Done(slot.obj.clone(), slot.depth));
        }
        Ok(())
    }

    fn spend(&mut self, cost: usize) -> Result<(), PickleError> {
        match self.budget.checked_sub(cost) {
            Some(b) => {
                self.budget = b;
                Ok(())
            }
            None => err("pickle expands too much (memo budget exceeded)"),
        }
    }

    fn pop_val(&mut self) -> Result<(Value, usize), PickleError> {
        match self.pop()? {
            (Obj::Val(v), d) => Ok((v, d)),
            _ => err("unsupported object inside a container"),
        }
    }

    /// Pop everything above the topmost MARK (and the mark), in stack order.
    fn pop_mark(&mut self) -> Result<Vec<(Obj, usize)>, PickleError> {
        let Some(k) = self.stack.iter().rposition(|s| matches!(s.obj, Obj::Mark)) else {
            return err("could not find MARK");
        };
        let items: Vec<Slot> = self.stack.drain(k + 1..).collect();
        self.stack.pop();
        let mut out = Vec::with_capacity(items.len());
        for s in items {
            self.freeze(&s)?;
            out.push((s.obj, s.depth));
        }
        Ok(out)
    }

    fn vals(items: Vec<(Obj, usize)>) -> Result<(Vec<Value>, usize), PickleError> {
        let mut depth = 0;
        let mut out = Vec::with_capacity(items.len());
        for (o, d) in items {
            match o {
                Obj::Val(v) => out.push(v),
                _ => return err("unsupported object inside a container"),
            }
            depth = depth.max(d);
        }
        Ok((out, depth))
    }

    fn top(&mut self) -> Result<&mut Slot, PickleError> {
        match self.stack.last_mut() {
            Some(s) if !matches!(s.obj, Obj::Mark) => Ok(s),
            _ => err("unpickling stack underflow"),
        }
    }

    /// Add items to the list/set/dict now on top of the stack.
    fn extend_top(
        &mut self,
        items: Vec<Value>,
        depth: usize,
        dict: bool,
    ) -> Result<(), PickleError> {
        let max = self.limits.max_depth;
        let top = self.top()?;
        let new_depth = top.depth.max(depth + 1);
        if new_depth > max {
            return err(format!("nesting deeper than {max}"));
        }
        top.depth = new_depth;
        match (&mut top.obj, dict) {
            (Obj::Val(Value::List(xs)), false) => xs.extend(items),
            (Obj::Val(Value::Dict(kv)), true) => {
                if !items.len().is_multiple_of(2) {
                    return err("odd number of items for SETITEMS");
                }
                let mut it = items.into_iter();
                while let (Some(k), Some(v)) = (it.next(), it.next()) {
                    dict_set(kv, k, v)?;
                }
            }
            _ => return err("append to an object of the wrong type"),
        }
        Ok(())
    }

    fn make_tuple(&mut self, items: Vec<(Obj, usize)>) -> Result<(), PickleError> {
        // The reply shape `(code, exception)` is the only place an exception may sit.
        if self.mode == Mode::Reply
            && items.len() == 2
            && matches!(items[1].0, Obj::Exc(_))
            && let [(Obj::Val(code), _), (Obj::Exc(e), _)] =
                <[_; 2]>::try_from(items.clone()).map_err(|_| PickleError("internal".into()))?
        {
            return self.push(Obj::ErrReply(code, e), 1);
        }
        let (vals, d) = Self::vals(items)?;
        self.push(Obj::Val(Value::Tuple(vals)), d + 1)
    }

    fn memo_put(&mut self, id: usize) -> Result<(), PickleError> {
        // Memo ids come from the input; cap them so a huge id cannot allocate.
        if id > self.data.len() {
            return err(format!("memo index {id} out of range"));
        }
        if self.stack.is_empty() || matches!(self.stack.last().map(|s| &s.obj), Some(Obj::Mark)) {
            return err("unpickling stack underflow");
        }
        if self.memo.len() <= id {
            self.memo.resize_with(id + 1, || None);
        }
        let pos = self.stack.len() - 1;
        if let Some(top) = self.stack.last_mut() {
            top.memo.push(id);
            self.memo[id] = Some(MemoEntry::OnStack {
                pos,
                serial: top.serial,
            });
        }
        Ok(())
    }

    fn memo_get(&mut self, id: usize) -> Result<(), PickleError> {
        let (obj, depth) = match self.memo.get(id) {
            Some(Some(MemoEntry::Done(o, d))) => (o.clone(), *d),
            Some(Some(MemoEntry::OnStack { pos, serial })) => match self.stack.get(*pos) {
                Some(s) if s.serial == *serial => (s.obj.clone(), s.depth),
                _ => return err(format!("Memo value not found at index {id}")),
            },
            _ => return err(format!("Memo value not found at index {id}")),
        };
        let cost = match &obj {
            Obj::Val(v) => node_count(v),
            _ => 1,
        };
        self.spend(cost)?;
        self.push(obj, depth)
    }

    fn run(&mut self) -> Result<Decoded, PickleError> {
        loop {
            // Like CPython: EOF where an opcode should be is "Ran out of input",
            // EOF inside an opcode's argument is "truncated".
            if self.pos >= self.data.len() {
                return err("Ran out of input");
            }
            let op = self.byte()?;
            match op {
                b'.' => return self.finish(),
                // PROTO
                0x80 => {
                    let p = self.byte()?;
                    if p > 5 {
                        return err(format!("unsupported pickle protocol: {p}"));
                    }
                }
                // FRAME: framing is only a read-ahead hint; the length is not needed.
                0x95 => {
                    self.take(8)?;
                }
                b'N' => self.push_val(Value::None)?,
                0x88 => self.push_val(Value::Bool(true))?,
                0x89 => self.push_val(Value::Bool(false))?,
                b'K' => {
                    let v = self.uint(1)?;
                    self.push_val(Value::Int(v as i64))?
                }
                b'M' => {
                    let v = self.uint(2)?;
                    self.push_val(Value::Int(v as i64))?
                }
                b'J' => {
                    let v = self.uint(4)? as u32 as i32;
                    self.push_val(Value::Int(i64::from(v)))?
                }
                0x8a => {
                    let n = self.len_prefix(1)?;
                    let v = long_le(self.take(n)?)?;
                    self.push_val(Value::Int(v))?
                }
                0x8b => {
                    let n = self.len_prefix(4)?;
                    let v = long_le(self.take(n)?)?;
                    self.push_val(Value::Int(v))?
                }
                b'I' => {
                    let l = self.line()?;
                    let v = match l {
                        "01" => Value::Bool(true),
                        "00" => Value::Bool(false),
                        _ => Value::Int(parse_int(l)?),
                    };
                    self.push_val(v)?
                }
                b'L' => {
                    let l = self.line()?;
                    let l = l.strip_suffix('L').unwrap_or(l);
                    let v = parse_int(l)?;
                    self.push_val(Value::Int(v))?
                }
                b'F' => {
                    let l = self.line()?;
                    let v = parse_float(l)?;
                    self.push_val(Value::Float(v))?
                }
                b'G' => {
                    let b = self.take(8)?;
                    let mut a = [0u8; 8];
                    a.copy_from_slice(b);
                    self.push_val(Value::Float(f64::from_be_bytes(a)))?
                }
                0x8c => {
                    let n = self.len_prefix(1)?;
                    let s = utf8(self.take(n)?)?;
                    self.push_val(Value::Str(s))?
                }
                b'X' => {
                    let n = self.len_prefix(4)?;
                    let s = utf8(self.take(n)?)?;
                    self.push_val(Value::Str(s))?
                }
                0x8d => {
                    let n = self.len_prefix(8)?;
                    let s = utf8(self.take(n)?)?;
                    self.push_val(Value::Str(s))?
                }
                b'V' => {
                    let l = self.line_bytes()?;
                    let s = raw_unicode_escape(&l)?;
                    self.push_val(Value::Str(s))?
                }
                // Python 2 `str`: ASCII text in a Python 3 unpickler (default encoding).
                b'S' => {
                    let l = self.line()?.to_owned();
                    let s = py2_string_literal(&l)?;
                    self.push_val(Value::Str(s))?
                }
                b'T' => {
                    let n = self.len_prefix(4)?;
                    let s = ascii(self.take(n)?)?;
                    self.push_val(Value::Str(s))?
                }
                b'U' => {
                    let n = self.len_prefix(1)?;
                    let s = ascii(self.take(n)?)?;
                    self.push_val(Value::Str(s))?
                }
                b']' => self.push(Obj::Val(Value::List(Vec::new())), 1)?,
                b'}' => self.push(Obj::Val(Value::Dict(Vec::new())), 1)?,
                b')' => self.push(Obj::Val(Value::Tuple(Vec::new())), 1)?,
                // EMPTY_SET: a set becomes a list (documented above).
                0x8f => self.push(Obj::Val(Value::List(Vec::new())), 1)?,
                b'(' => self.push(Obj::Mark, 0)?,
                b'l' => {
                    let items = self.pop_mark()?;
                    let (v, d) = Self::vals(items)?;
                    self.push(Obj::Val(Value::List(v)), d + 1)?
                }
                0x91 => {
                    let items = self.pop_mark()?;
                    let (v, d) = Self::vals(items)?;
                    self.push(Obj::Val(Value::List(v)), d + 1)?
                }
                b't' => {
                    let items = self.pop_mark()?;
                    self.make_tuple(items)?
                }
                0x85..=0x87 => {
                    let n = usize::from(op - 0x84);
                    if self.stack.len() < n
                        || self.stack[self.stack.len() - n..]
                            .iter()
                            .any(|s| matches!(s.obj, Obj::Mark))
                    {
                        return err("unpickling stack underflow");
                    }
                    let mut items = Vec::with_capacity(n);
                    for _ in 0..n {
                        items.push(self.pop()?);
                    }
                    items.reverse();
                    self.make_tuple(items)?
                }
                b'd' => {
                    let items = self.pop_mark()?;
                    let (v, d) = Self::vals(items)?;
                    if !v.len().is_multiple_of(2) {
                        return err("odd number of items for DICT");
                    }
                    let mut kv = Vec::with_capacity(v.len() / 2);
                    let mut it = v.into_iter();
                    while let (Some(k), Some(x)) = (it.next(), it.next()) {
                        dict_set(&mut kv, k, x)?;
                    }
                    self.push(Obj::Val(Value::Dict(kv)), d + 1)?
                }
                b'a' => {
                    let (v, d) = self.pop_val()?;
                    self.extend_top(vec![v], d, false)?
                }
                b'e' | 0x90 => {
                    let items = self.pop_mark()?;
                    let (v, d) = Self::vals(items)?;
                    self.extend_top(v, d, false)?
                }
                b's' => {
                    let (v, dv) = self.pop_val()?;
                    let (k, dk) = self.pop_val()?;
                    self.extend_top(vec![k, v], dk.max(dv), true)?
                }
                b'u' => {
                    let items = self.pop_mark()?;
                    let (v, d) = Self::vals(items)?;
                    self.extend_top(v, d, true)?
                }
                b'0' => {
                    match self.stack.last() {
                        None => return err("unpickling stack underflow"),
                        Some(s) if matches!(s.obj, Obj::Mark) => {
                            self.stack.pop();
                        }
                        Some(_) => {
                            self.pop()?;
                        }
                    };
                }
                b'1' => {
                    self.pop_mark()?;
                }
                b'2' => {
                    let top = self.top()?;
                    let (o, d) = (top.obj.clone(), top.depth);
                    let cost = match &o {
                        Obj::Val(v) => node_count(v),
                        _ => 1,
                    };
                    self.spend(cost)?;
                    self.push(o, d)?
                }
                0x94 => {
                    let id = self.memo.len();
                    self.memo_put(id)?
                }
                b'q' => {
                    let id = self.uint(1)? as usize;
                    self.memo_put(id)?
                }
                b'r' => {
                    let id = self.uint(4)? as usize;
                    self.memo_put(id)?
                }
                b'p' => {
                    let id = parse_memo_id(self.line()?)?;
                    self.memo_put(id)?
                }
                b'h' => {
                    let id = self.uint(1)? as usize;
                    self.memo_get(id)?
                }
                b'j' => {
                    let id = self.uint(4)? as usize;
                    self.memo_get(id)?
                }
                b'g' => {
                    let id = parse_memo_id(self.line()?)?;
                    self.memo_get(id)?
                }
                b'c' if self.mode == Mode::Reply => {
                    let module = self.line()?.to_owned();
                    let name = self.line()?.to_owned();
                    self.push(Obj::Global(module, name), 0)?
                }
                0x93 if self.mode == Mode::Reply => {
                    let (name, _) = self.pop_val()?;
                    let (module, _) = self.pop_val()?;
                    match (module, name) {
                        (Value::Str(m), Value::Str(n)) => self.push(Obj::Global(m, n), 0)?,
                        _ => return err("STACK_GLOBAL requires str"),
                    }
                }
                b'R' if self.mode == Mode::Reply => {
                    let (args, depth) = self.pop()?;
                    let (func, _) = self.pop()?;
                    match (func, args) {
                        (Obj::Global(module, name), Obj::Val(Value::Tuple(args))) => {
                            match builtin_value(&module, &name, &args) {
                                // e.g. fail2ban's IPAddr, a str subclass, pickles as
                                // builtins.str('1.2.3.4'): it is plain data.
                                Some(v) => self.push(Obj::Val(v), depth)?,
                                None => self.push(Obj::Exc(ExcReply { module, name, args }), 1)?,
                            }
                        }
                        _ => return err("REDUCE of something other than class(*args)"),
                    }
                }
                // An exception with attributes carries them as BUILD state; a reader
                // only needs class and args, so the state is dropped.
                b'b' if self.mode == Mode::Reply
                    && self.stack.len() >= 2
                    && matches!(self.stack[self.stack.len() - 2].obj, Obj::Exc(_)) =>
                {
                    match self.pop()? {
                        (Obj::Val(Value::Dict(_) | Value::None | Value::Tuple(_)), _) => {}
                        _ => return err("BUILD state must be data"),
                    }
                }
                b'c' | 0x93 | b'R' | b'i' | b'o' | 0x81 | 0x92 | b'b' | b'P' | b'Q' | 0x82
                | 0x83 | 0x84 => {
                    return err(format!(
                        "forbidden pickle opcode {} (code objects are never loaded)",
                        opname(op)
                    ));
                }
                b'B' | b'C' | 0x8e | 0x96 | 0x97 | 0x98 => {
                    return err("bytes objects are not accepted");
                }
                _ => return Err(load_key_error(op)),
            }
        }
    }

    fn finish(&mut self) -> Result<Decoded, PickleError> {
        // Leftovers below the result (even an open MARK) are ignored, as CPython does.
        let (obj, _) = self.pop()?;
        match obj {
            Obj::Val(v) => Ok(Decoded::Value(v)),
            Obj::ErrReply(code, e) => Ok(Decoded::ErrorReply(code, e)),
            Obj::Exc(_) | Obj::Global(..) => err("bare object at top level"),
            Obj::Mark => err("unexpected MARK"),
        }
    }
}

fn opname(op: u8) -> &'static str {
    match op {
        b'c' => "GLOBAL",
        0x93 => "STACK_GLOBAL",
        b'R' => "REDUCE",
        b'i' => "INST",
        b'o' => "OBJ",
        0x81 => "NEWOBJ",
        0x92 => "NEWOBJ_EX",
        b'b' => "BUILD",
        b'P' => "PERSID",
        b'Q' => "BINPERSID",
        _ => "EXT",
    }
}

/// Dict assignment with Python semantics: a repeated key overwrites in place.
fn dict_set(kv: &mut Vec<(Value, Value)>, k: Value, v: Value) -> Result<(), PickleError> {
    if matches!(k, Value::List(_) | Value::Dict(_)) {
        return err("unhashable type used as dict key");
    }
    // Linear scan: fail2ban dicts are tiny; big ones are bounded by the message cap.
    if kv.len() <= 64
        && let Some(slot) = kv.iter_mut().find(|(ek, _)| *ek == k)
    {
        slot.1 = v;
        return Ok(());
    }
    kv.push((k, v));
    Ok(())
}

fn long_le(b: &[u8]) -> Result<i64, PickleError> {
    if b.is_empty() {
        return Ok(0);
    }
    if b.len() > 8 {
        // Allow sign-extension bytes beyond 8 only if they are redundant.
        let (lo, hi) = b.split_at(8);
        let neg = lo[7] & 0x80 != 0;
        let fill = if neg { 0xff } else { 0 };
        if hi.iter().any(|&x| x != fill) {
            return err("integer too large");
        }
        return long_le(lo);
    }
    let neg = b[b.len() - 1] & 0x80 != 0;
    let mut a = if neg { [0xffu8; 8] } else { [0u8; 8] };
    a[..b.len()].copy_from_slice(b);
    Ok(i64::from_le_bytes(a))
}

fn parse_int(s: &str) -> Result<i64, PickleError> {
    s.trim()
        .parse::<i64>()
        .map_err(|_| PickleError(format!("invalid literal for int() with base 10: {s:?}")))
}

fn parse_float(s: &str) -> Result<f64, PickleError> {
    let t = s.trim();
    match t {
        "inf" => Ok(f64::INFINITY),
        "-inf" => Ok(f64::NEG_INFINITY),
        "nan" => Ok(f64::NAN),
        _ => t
            .parse::<f64>()
            .map_err(|_| PickleError(format!("could not convert string to float: {s:?}"))),
    }
}

fn parse_memo_id(s: &str) -> Result<usize, PickleError> {
    s.parse::<usize>()
        .map_err(|_| PickleError(format!("invalid memo key {s:?}")))
}

fn utf8(b: &[u8]) -> Result<String, PickleError> {
    String::from_utf8(b.to_vec()).map_err(|_| PickleError("invalid UTF-8 in string".into()))
}

fn ascii(b: &[u8]) -> Result<String, PickleError> {
    if !b.is_ascii() {
        return err("non-ASCII Python 2 string");
    }
    utf8(b)
}

/// Protocol-0 `UNICODE` argument: latin-1 bytes with `\uXXXX` / `\UXXXXXXXX` escapes.
fn raw_unicode_escape(b: &[u8]) -> Result<String, PickleError> {
    let s: String = b.iter().map(|&c| char::from(c)).collect();
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' && matches!(chars.peek(), Some('u' | 'U')) {
            let n = if chars.next() == Some('u') { 4 } else { 8 };
            let hex: String = chars.by_ref().take(n).collect();
            let cp = u32::from_str_radix(&hex, 16)
                .ok()
                .filter(|_| hex.len() == n)
                .and_then(char::from_u32)
                .ok_or_else(|| PickleError("bad \\u escape in UNICODE".into()))?;
            out.push(cp);
        } else {
            out.push(c);
        }
    }
    Ok(out)
}

/// Protocol-0 `STRING` argument: a quoted Python 2 literal with simple escapes.
fn py2_string_literal(s: &str) -> Result<String, PickleError> {
    let b = s.as_bytes();
    if b.len() < 2 || b[0] != b[b.len() - 1] || !(b[0] == b'\'' || b[0] == b'"') {
        return err("the STRING opcode argument must be quoted");
    }
    let inner = &s[1..s.len() - 1];
    let mut out = String::with_capacity(inner.len());
    let mut it = inner.chars();
    while let Some(c) = it.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match it.next() {
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('t') => out.push('\t'),
            Some('\\') => out.push('\\'),
            Some('\'') => out.push('\''),
            Some('"') => out.push('"'),
            Some('x') => {
                let h: String = it.by_ref().take(2).collect();
                let v = u8::from_str_radix(&h, 16)
                    .ok()
                    .filter(|v| h.len() == 2 && v.is_ascii())
                    .ok_or_else(|| PickleError("bad escape in STRING".into()))?;
                out.push(char::from(v));
            }
            _ => return err("bad escape in STRING"),
        }
    }
    if !out.is_ascii() {
        return err("non-ASCII Python 2 string");
    }
    Ok(out)
}

/// `builtins.<type>(arg)` for the plain data types, as a value (reply mode only).
fn builtin_value(module: &str, name: &str, args: &[Value]) -> Option<Value> {
    if module != "builtins" {
        return None;
    }
    Some(match (name, args) {
        ("str", []) => Value::Str(String::new()),
        ("str", [Value::Str(s)]) => Value::Str(s.clone()),
        ("int", [Value::Int(i)]) => Value::Int(*i),
        ("int", [Value::Bool(b)]) => Value::Int(i64::from(*b)),
        ("float", [Value::Float(f)]) => Value::Float(*f),
        ("list" | "set" | "frozenset", [Value::List(x) | Value::Tuple(x)]) => {
            Value::List(x.clone())
        }
        ("tuple", [Value::List(x) | Value::Tuple(x)]) => Value::Tuple(x.clone()),
        _ => return None,
    })
}

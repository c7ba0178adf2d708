//! The pickle encoder: protocol 5 in CPython's layout (frames, MEMOIZE, batching).

use super::ExcReply;
use crate::stream::Value;

const FRAME_TARGET: usize = 64 * 1024;
const BATCH: usize = 1000;

struct Enc {
    out: Vec<u8>,
    /// Where the current frame's 9-byte header placeholder starts.
    frame_start: usize,
}

impl Enc {
    fn new() -> Self {
        let mut e = Enc {
            out: vec![0x80, 5],
            frame_start: 2,
        };
        e.out.extend_from_slice(&[0; 9]);
        e
    }

    /// Close the current frame: fill its header, or drop it if tiny (as CPython does).
    fn commit_frame(&mut self, reopen: bool) {
        let body = self.out.len() - self.frame_start - 9;
        if body >= 4 {
            self.out[self.frame_start] = 0x95;
            self.out[self.frame_start + 1..self.frame_start + 9]
                .copy_from_slice(&(body as u64).to_le_bytes());
        } else {
            self.out.drain(self.frame_start..self.frame_start + 9);
        }
        if reopen {
            self.frame_start = self.out.len();
            self.out.extend_from_slice(&[0; 9]);
        }
    }

    fn boundary(&mut self) {
        if self.out.len() - self.frame_start - 9 >= FRAME_TARGET {
            self.commit_frame(true);
        }
    }

    fn memoize(&mut self) {
        self.out.push(0x94);
    }

    fn str(&mut self, s: &str) {
        self.boundary();
        let b = s.as_bytes();
        if b.len() < 256 {
            self.out.push(0x8c);
            self.out.push(b.len() as u8);
        } else if let Ok(n) = u32::try_from(b.len()) {
            self.out.push(b'X');
            self.out.extend_from_slice(&n.to_le_bytes());
        } else {
            self.out.push(0x8d);
            self.out.extend_from_slice(&(b.len() as u64).to_le_bytes());
        }
        if b.len() >= FRAME_TARGET {
            // CPython writes big payloads outside any frame: close the current frame
            // before this opcode, and open a new one after the payload.
            let header = self.out.split_off(
                self.out.len()
                    - if b.len() < 256 {
                        2
                    } else if b.len() <= u32::MAX as usize {
                        5
                    } else {
                        9
                    },
            );
            self.commit_frame(false);
            self.out.extend_from_slice(&header);
            self.out.extend_from_slice(b);
            self.frame_start = self.out.len();
            self.out.extend_from_slice(&[0; 9]);
        } else {
            self.out.extend_from_slice(b);
        }
        self.memoize();
    }

    fn int(&mut self, i: i64) {
        if (0..=0xff).contains(&i) {
            self.out.extend_from_slice(&[b'K', i as u8]);
        } else if (0..=0xffff).contains(&i) {
            self.out.push(b'M');
            self.out.extend_from_slice(&(i as u16).to_le_bytes());
        } else if let Ok(x) = i32::try_from(i) {
            self.out.push(b'J');
            self.out.extend_from_slice(&x.to_le_bytes());
        } else {
            // LONG1: minimal two's-complement little-endian.
            let bytes = i.to_le_bytes();
            let mut n = 8;
            while n > 1 {
                let (last, prev) = (bytes[n - 1], bytes[n - 2]);
                let redundant =
                    (last == 0 && prev & 0x80 == 0) || (last == 0xff && prev & 0x80 != 0);
                if !redundant {
                    break;
                }
                n -= 1;
            }
            self.out.extend_from_slice(&[0x8a, n as u8]);
            self.out.extend_from_slice(&bytes[..n]);
        }
    }

    fn save(&mut self, v: &Value) {
        self.boundary();
        match v {
            Value::None => self.out.push(b'N'),
            Value::Bool(true) => self.out.push(0x88),
            Value::Bool(false) => self.out.push(0x89),
            Value::Int(i) => self.int(*i),
            Value::Float(x) => {
                self.out.push(b'G');
                self.out.extend_from_slice(&x.to_be_bytes());
            }
            Value::Str(s) => self.str(s),
            Value::Tuple(items) => self.tuple(items),
            Value::List(items) => {
                self.out.push(b']');
                self.memoize();
                // CPython: a lone item uses APPEND; otherwise every batch (even a
                // final batch of one) is MARK ... APPENDS.
                if let [one] = items.as_slice() {
                    self.save(one);
                    self.out.push(b'a');
                    return;
                }
                for chunk in items.chunks(BATCH) {
                    self.out.push(b'(');
                    for x in chunk {
                        self.save(x);
                    }
                    self.out.push(b'e');
                }
            }
            Value::Dict(pairs) => {
                self.out.push(b'}');
                self.memoize();
                // CPython: a lone pair uses SETITEM; otherwise MARK ... SETITEMS per
                // batch, and a dict whose size is a multiple of the batch size gets a
                // trailing empty batch.
                if let [(k, x)] = pairs.as_slice() {
                    self.save(k);
                    self.save(x);
                    self.out.push(b's');
                    return;
                }
                if pairs.is_empty() {
                    return;
                }
                let mut rest: &[(Value, Value)] = pairs;
                loop {
                    let n = rest.len().min(BATCH);
                    self.out.push(b'(');
                    for (k, x) in &rest[..n] {
                        self.save(k);
                        self.save(x);
                    }
                    self.out.push(b'u');
                    rest = &rest[n..];
                    if n < BATCH {
                        break;
                    }
                }
            }
        }
    }

    fn tuple(&mut self, items: &[Value]) {
        match items.len() {
            0 => {
                self.out.push(b')');
                return;
            }
            n @ 1..=3 => {
                for x in items {
                    self.save(x);
                }
                self.out.push(0x84 + n as u8);
            }
            _ => {
                self.out.push(b'(');
                for x in items {
                    self.save(x);
                }
                self.out.push(b't');
            }
        }
        self.memoize();
    }

    fn exception(&mut self, e: &ExcReply) {
        self.boundary();
        self.str(&e.module);
        self.str(&e.name);
        self.out.push(0x93);
        self.memoize();
        self.tuple(&e.args);
        self.out.push(b'R');
        self.memoize();
    }

    fn finish(mut self) -> Vec<u8> {
        self.out.push(b'.');
        self.commit_frame(false);
        self.out
    }
}

/// `pickle.dumps(v, protocol=5)` of a plain value.
pub fn encode(v: &Value) -> Vec<u8> {
    let mut e = Enc::new();
    e.save(v);
    e.finish()
}

/// `pickle.dumps((code, exc), protocol=5)`: fail2ban's failure reply (code is 1 there).
pub fn encode_exception_reply(code: i64, exc: &ExcReply) -> Vec<u8> {
    let mut e = Enc::new();
    e.boundary();
    e.int(code);
    e.exception(exc);
    e.out.push(0x86);
    e.memoize();
    e.finish()
}

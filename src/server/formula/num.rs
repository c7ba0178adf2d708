//! [`Num`]: a Python number (int, float or bool) with Python's operator semantics —
//! true division, floor division and modulo with the divisor's sign, `**` giving a float
//! for negative exponents, shifts and bit operations on ints only, comparisons across
//! types. Python ints are unbounded; here an int that leaves the i128 range becomes a
//! float (close enough for ban times, which are capped by `maxtime` anyway).

use std::cmp::Ordering;
use std::fmt;

use crate::stream::py_float_repr;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Num {
    Int(i128),
    Float(f64),
    Bool(bool),
}

/// A Python-style exception text (`ZeroDivisionError: division by zero`).
pub type NumResult = Result<Num, String>;

fn type_name(n: Num) -> &'static str {
    match n {
        Num::Int(_) => "int",
        Num::Float(_) => "float",
        Num::Bool(_) => "bool",
    }
}

impl fmt::Display for Num {
    /// Python's `str()`/`repr()` of the number.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Num::Int(i) => write!(f, "{i}"),
            Num::Float(x) => f.write_str(&py_float_repr(*x)),
            Num::Bool(b) => f.write_str(if *b { "True" } else { "False" }),
        }
    }
}

impl Num {
    pub fn as_f64(self) -> f64 {
        match self {
            Num::Int(i) => i as f64,
            Num::Float(x) => x,
            Num::Bool(b) => f64::from(u8::from(b)),
        }
    }

    /// The int value (bools are ints); `None` for floats.
    pub fn as_int(self) -> Option<i128> {
        match self {
            Num::Int(i) => Some(i),
            Num::Bool(b) => Some(i128::from(b)),
            Num::Float(_) => None,
        }
    }

    pub fn truthy(self) -> bool {
        match self {
            Num::Int(i) => i != 0,
            Num::Float(x) => x != 0.0,
            Num::Bool(b) => b,
        }
    }

    pub fn is_float(self) -> bool {
        matches!(self, Num::Float(_))
    }

    /// Python's `int(x)`: truncation toward zero.
    pub fn to_int(self) -> NumResult {
        match self {
            Num::Float(x) if x.is_nan() => {
                Err("ValueError: cannot convert float NaN to integer".into())
            }
            Num::Float(x) if x.is_infinite() => {
                Err("OverflowError: cannot convert float infinity to integer".into())
            }
            Num::Float(x) => Ok(int_or_float_trunc(x)),
            n => Ok(Num::Int(n.as_int().unwrap_or(0))),
        }
    }

    /// `int(x)` clamped into i64 (what a ban time is stored as).
    pub fn to_i64_saturating(self) -> i64 {
        match self {
            Num::Float(x) => x as i64,
            n => {
                let i = n.as_int().unwrap_or(0);
                i.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
            }
        }
    }
}

fn int_or_float_trunc(x: f64) -> Num {
    let t = x.trunc();
    if t.abs() < 1.0e38 {
        Num::Int(t as i128)
    } else {
        Num::Float(t)
    }
}

/// An int result that overflowed i128 is carried on as a float.
fn int_or(v: Option<i128>, approx: f64) -> Num {
    v.map_or(Num::Float(approx), Num::Int)
}

fn ints(a: Num, b: Num) -> Option<(i128, i128)> {
    Some((a.as_int()?, b.as_int()?))
}

pub fn add(a: Num, b: Num) -> NumResult {
    Ok(match ints(a, b) {
        Some((x, y)) => int_or(x.checked_add(y), x as f64 + y as f64),
        None => Num::Float(a.as_f64() + b.as_f64()),
    })
}

pub fn sub(a: Num, b: Num) -> NumResult {
    Ok(match ints(a, b) {
        Some((x, y)) => int_or(x.checked_sub(y), x as f64 - y as f64),
        None => Num::Float(a.as_f64() - b.as_f64()),
    })
}

pub fn mul(a: Num, b: Num) -> NumResult {
    Ok(match ints(a, b) {
        Some((x, y)) => int_or(x.checked_mul(y), x as f64 * y as f64),
        None => Num::Float(a.as_f64() * b.as_f64()),
    })
}

pub fn truediv(a: Num, b: Num) -> NumResult {
    let (x, y) = (a.as_f64(), b.as_f64());
    if y == 0.0 {
        return Err(if ints(a, b).is_some() {
            "ZeroDivisionError: division by zero".into()
        } else {
            "ZeroDivisionError: float division by zero".into()
        });
    }
    Ok(Num::Float(x / y))
}

pub fn floordiv(a: Num, b: Num) -> NumResult {
    match ints(a, b) {
        Some((_, 0)) => Err("ZeroDivisionError: integer division or modulo by zero".into()),
        Some((x, y)) => Ok(match x.checked_div(y) {
            Some(q) if x % y != 0 && ((x < 0) != (y < 0)) => Num::Int(q - 1),
            Some(q) => Num::Int(q),
            None => Num::Float((x as f64 / y as f64).floor()),
        }),
        None => {
            let (x, y) = (a.as_f64(), b.as_f64());
            if y == 0.0 {
                return Err("ZeroDivisionError: float floor division by zero".into());
            }
            Ok(Num::Float(((x - fmod_py(x, y)) / y).round()))
        }
    }
}

/// Python's float `%`: result has the divisor's sign.
fn fmod_py(x: f64, y: f64) -> f64 {
    let mut r = x % y;
    if r != 0.0 && ((r < 0.0) != (y < 0.0)) {
        r += y;
    }
    r
}

pub fn modulo(a: Num, b: Num) -> NumResult {
    match ints(a, b) {
        Some((_, 0)) => Err("ZeroDivisionError: integer division or modulo by zero".into()),
        Some((x, y)) => {
            let mut r = x.checked_rem(y).unwrap_or(0);
            if r != 0 && ((r < 0) != (y < 0)) {
                r += y;
            }
            Ok(Num::Int(r))
        }
        None => {
            let (x, y) = (a.as_f64(), b.as_f64());
            if y == 0.0 {
                return Err("ZeroDivisionError: float modulo".into());
            }
            Ok(Num::Float(fmod_py(x, y)))
        }
    }
}

pub fn pow(a: Num, b: Num) -> NumResult {
    if let Some((x, y)) = ints(a, b) {
        if y >= 0 {
            let exact = u32::try_from(y).ok().and_then(|e| x.checked_pow(e));
            return Ok(int_or(exact, (x as f64).powf(y as f64)));
        }
        if x == 0 {
            return Err("ZeroDivisionError: 0.0 cannot be raised to a negative power".into());
        }
        return Ok(Num::Float((x as f64).powf(y as f64)));
    }
    let (x, y) = (a.as_f64(), b.as_f64());
    if x == 0.0 && y < 0.0 {
        return Err("ZeroDivisionError: 0.0 cannot be raised to a negative power".into());
    }
    if x < 0.0 && y.fract() != 0.0 {
        return Err("TypeError: complex result not supported in a ban time formula".into());
    }
    let r = x.powf(y);
    if r.is_infinite() && x.is_finite() && y.is_finite() {
        return Err("OverflowError: (34, 'Numerical result out of range')".into());
    }
    Ok(Num::Float(r))
}

fn int_operands(op: &str, a: Num, b: Num) -> Result<(i128, i128), String> {
    ints(a, b).ok_or_else(|| {
        format!(
            "TypeError: unsupported operand type(s) for {op}: '{}' and '{}'",
            type_name(a),
            type_name(b)
        )
    })
}

pub fn shl(a: Num, b: Num) -> NumResult {
    let (x, n) = int_operands("<<", a, b)?;
    if n < 0 {
        return Err("ValueError: negative shift count".into());
    }
    if x == 0 {
        return Ok(Num::Int(0));
    }
    // Exact while the value stays inside i128, else a float (2^n grows past f64 → inf).
    if n < 127 {
        let r = x << n;
        if r >> n == x {
            return Ok(Num::Int(r));
        }
    }
    Ok(Num::Float(x as f64 * 2f64.powf(n.min(4096) as f64)))
}

pub fn shr(a: Num, b: Num) -> NumResult {
    let (x, n) = int_operands(">>", a, b)?;
    if n < 0 {
        return Err("ValueError: negative shift count".into());
    }
    Ok(Num::Int(if n >= 127 {
        if x < 0 { -1 } else { 0 }
    } else {
        x >> n
    }))
}

pub fn bitand(a: Num, b: Num) -> NumResult {
    let (x, y) = int_operands("&", a, b)?;
    Ok(bool_or_int(a, b, x & y))
}

pub fn bitor(a: Num, b: Num) -> NumResult {
    let (x, y) = int_operands("|", a, b)?;
    Ok(bool_or_int(a, b, x | y))
}

pub fn bitxor(a: Num, b: Num) -> NumResult {
    let (x, y) = int_operands("^", a, b)?;
    Ok(bool_or_int(a, b, x ^ y))
}

/// `True & False` stays a bool in Python.
fn bool_or_int(a: Num, b: Num, v: i128) -> Num {
    match (a, b) {
        (Num::Bool(_), Num::Bool(_)) => Num::Bool(v != 0),
        _ => Num::Int(v),
    }
}

pub fn neg(a: Num) -> NumResult {
    Ok(match a {
        Num::Float(x) => Num::Float(-x),
        n => {
            let i = n.as_int().unwrap_or(0);
            int_or(i.checked_neg(), -(i as f64))
        }
    })
}

pub fn pos(a: Num) -> NumResult {
    Ok(match a {
        Num::Bool(b) => Num::Int(i128::from(b)),
        n => n,
    })
}

pub fn invert(a: Num) -> NumResult {
    match a.as_int() {
        Some(i) => Ok(Num::Int(!i)),
        None => Err("TypeError: bad operand type for unary ~: 'float'".into()),
    }
}

/// Numeric comparison across int/float/bool.
pub fn compare(a: Num, b: Num) -> Option<Ordering> {
    match ints(a, b) {
        Some((x, y)) => Some(x.cmp(&y)),
        None => a.as_f64().partial_cmp(&b.as_f64()),
    }
}

/// Python's `round(x)` (half to even, an int) and `round(x, n)`.
pub fn round(a: Num, digits: Option<Num>) -> NumResult {
    match digits {
        None => match a {
            Num::Float(x) => Num::Float(x.round_ties_even()).to_int(),
            n => pos(n),
        },
        Some(d) => {
            let d = d
                .as_int()
                .ok_or("TypeError: 'float' object cannot be interpreted as an integer")?;
            match a {
                Num::Float(x) => {
                    let p = 10f64.powi(d.clamp(-400, 400) as i32);
                    let r = (x * p).round_ties_even() / p;
                    Ok(Num::Float(if r.is_finite() { r } else { x }))
                }
                n if d >= 0 => pos(n),
                n => {
                    let i = n.as_int().unwrap_or(0);
                    let p = 10i128.checked_pow(u32::try_from(-d).unwrap_or(u32::MAX));
                    Ok(Num::Int(match p {
                        Some(p) => {
                            let q = (i as f64 / p as f64).round_ties_even() as i128;
                            q.saturating_mul(p)
                        }
                        None => 0,
                    }))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_division_semantics() {
        let i = Num::Int;
        assert_eq!(floordiv(i(-7), i(2)), Ok(i(-4)));
        assert_eq!(modulo(i(-7), i(2)), Ok(i(1)));
        assert_eq!(modulo(i(7), i(-2)), Ok(i(-1)));
        assert_eq!(truediv(i(1), i(2)), Ok(Num::Float(0.5)));
        assert!(truediv(i(1), i(0)).is_err());
        assert_eq!(pow(i(2), i(-1)), Ok(Num::Float(0.5)));
        assert_eq!(shl(i(1), i(20)), Ok(i(1 << 20)));
        assert!(shl(i(1), i(-1)).is_err());
        assert_eq!(shl(i(1), i(200)), Ok(Num::Float(2f64.powi(200))));
        assert_eq!(shr(i(-5), i(1)), Ok(i(-3)));
        assert_eq!(round(Num::Float(2.5), None), Ok(i(2)));
        assert_eq!(round(Num::Float(3.5), None), Ok(i(4)));
        assert_eq!(Num::Float(40.0).to_string(), "40.0");
        assert_eq!(mul(i(i128::MAX), i(2)).map(|n| n.is_float()), Ok(true));
    }
}

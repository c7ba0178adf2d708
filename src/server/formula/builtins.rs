//! Names a formula can use besides numbers: `ban.Time`, `ban.Count`, `math.e/pi/inf`,
//! and the callable builtins (`float int abs max min round pow`, `math.exp log log2 log10
//! sqrt pow floor ceil fabs trunc`), with Python's results and exception texts.

use super::num::{self, Num};
use super::{Env, Expr, Kind, eval};

pub(super) fn attribute(obj: &Expr, attr: &str, env: &Env) -> Result<Num, String> {
    match (&obj.kind, attr) {
        (Kind::Name(o), "Time") if o == "ban" => Ok(env.ban_time),
        (Kind::Name(o), "Count") if o == "ban" => Ok(env.ban_count),
        (Kind::Name(o), _) if o == "ban" => Err(format!(
            "AttributeError: 'BanTimeIncr' object has no attribute '{attr}'"
        )),
        (Kind::Name(o), "e") if o == "math" => Ok(Num::Float(std::f64::consts::E)),
        (Kind::Name(o), "pi") if o == "math" => Ok(Num::Float(std::f64::consts::PI)),
        (Kind::Name(o), "inf") if o == "math" => Ok(Num::Float(f64::INFINITY)),
        (Kind::Name(o), _) if o == "math" => Err(format!(
            "unsupported in a ban time formula: math.{attr} (use it as a call)"
        )),
        _ => {
            eval(obj, env)?;
            Err(format!("AttributeError: number has no attribute '{attr}'"))
        }
    }
}

pub(super) fn call(f: &Expr, args: &[Expr], env: &Env) -> Result<Num, String> {
    let name = match &f.kind {
        Kind::Name(n) => n.clone(),
        Kind::Attr(o, a) if matches!(&o.kind, Kind::Name(m) if m == "math") => format!("math.{a}"),
        _ => return Err("unsupported call in a ban time formula".into()),
    };
    let vals = args
        .iter()
        .map(|a| eval(a, env))
        .collect::<Result<Vec<Num>, String>>()?;
    builtin(&name, &vals)
}

fn arity(name: &str, vals: &[Num], min: usize, max: usize) -> Result<(), String> {
    if vals.len() < min || vals.len() > max {
        return Err(format!(
            "TypeError: {name}() takes {} argument(s) ({} given)",
            if min == max {
                min.to_string()
            } else {
                format!("{min} to {max}")
            },
            vals.len()
        ));
    }
    Ok(())
}

fn math_result(x: f64, input_finite: bool) -> Result<Num, String> {
    if x.is_nan() {
        Err("ValueError: math domain error".into())
    } else if x.is_infinite() && input_finite {
        Err("OverflowError: math range error".into())
    } else {
        Ok(Num::Float(x))
    }
}

fn builtin(name: &str, v: &[Num]) -> Result<Num, String> {
    let f1 = |v: &[Num]| v[0].as_f64();
    match name {
        "float" => {
            arity(name, v, 0, 1)?;
            Ok(Num::Float(v.first().map_or(0.0, |n| n.as_f64())))
        }
        "int" => {
            arity(name, v, 0, 1)?;
            v.first().map_or(Ok(Num::Int(0)), |n| n.to_int())
        }
        "abs" => {
            arity(name, v, 1, 1)?;
            match v[0] {
                Num::Float(x) => Ok(Num::Float(x.abs())),
                n if num::compare(n, Num::Int(0)) == Some(std::cmp::Ordering::Less) => num::neg(n),
                n => num::pos(n),
            }
        }
        "max" | "min" => {
            if v.len() < 2 {
                return Err(format!(
                    "TypeError: {name}() of a single number is not supported (give two or more)"
                ));
            }
            let want = if name == "max" {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Less
            };
            // Python keeps the first of equal extremes.
            let mut best = v[0];
            for &n in &v[1..] {
                if num::compare(n, best) == Some(want) {
                    best = n;
                }
            }
            Ok(best)
        }
        "round" => {
            arity(name, v, 1, 2)?;
            num::round(v[0], v.get(1).copied())
        }
        "pow" => {
            arity(name, v, 2, 2)?;
            num::pow(v[0], v[1])
        }
        "math.exp" => {
            arity(name, v, 1, 1)?;
            math_result(f1(v).exp(), f1(v).is_finite())
        }
        "math.sqrt" => {
            arity(name, v, 1, 1)?;
            math_result(f1(v).sqrt(), true)
        }
        "math.log" | "math.log2" | "math.log10" => {
            let max = if name == "math.log" { 2 } else { 1 };
            arity(name, v, 1, max)?;
            let x = f1(v);
            if x <= 0.0 || v.get(1).is_some_and(|b| b.as_f64() <= 0.0) {
                return Err("ValueError: math domain error".into());
            }
            let r = match (name, v.get(1)) {
                ("math.log2", _) => x.log2(),
                ("math.log10", _) => x.log10(),
                (_, Some(b)) => {
                    let d = b.as_f64().ln();
                    if d == 0.0 {
                        return Err("ZeroDivisionError: float division by zero".into());
                    }
                    x.ln() / d
                }
                _ => x.ln(),
            };
            Ok(Num::Float(r))
        }
        "math.pow" => {
            arity(name, v, 2, 2)?;
            let (x, y) = (v[0].as_f64(), v[1].as_f64());
            if x == 0.0 && y < 0.0 || x < 0.0 && y.fract() != 0.0 {
                return Err("ValueError: math domain error".into());
            }
            math_result(x.powf(y), x.is_finite() && y.is_finite())
        }
        "math.floor" | "math.ceil" | "math.trunc" => {
            arity(name, v, 1, 1)?;
            let x = match v[0] {
                Num::Float(x) => x,
                n => return num::pos(n),
            };
            let r = match name {
                "math.floor" => x.floor(),
                "math.ceil" => x.ceil(),
                _ => x.trunc(),
            };
            Num::Float(r).to_int()
        }
        "math.fabs" => {
            arity(name, v, 1, 1)?;
            Ok(Num::Float(f1(v).abs()))
        }
        n if n.starts_with("math.") => Err(format!("unsupported in a ban time formula: {n}()")),
        n => Err(format!("NameError: name '{n}' is not defined")),
    }
}

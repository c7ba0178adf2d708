//! fail2ban's time abbreviations (`MyTime.str2seconds`): `10m`, `1h 30m`, `1d12h`,
//! `1year-6mo`, plain numbers. The stream carries them as strings; the server converts.

fn unit_factor(word: &str) -> Option<f64> {
    let w = word.to_ascii_lowercase();
    let f = match w.as_str() {
        "day" | "days" | "da" | "d" | "dd" => 86400.0,
        "week" | "weeks" | "wee" | "we" | "w" | "ww" => 604800.0,
        "month" | "months" | "mon" | "mo" => 2629800.0,
        "year" | "years" | "yea" | "ye" | "y" | "yy" => 31557600.0,
        "second" | "seconds" | "sec" | "se" | "s" | "ss" => 1.0,
        "minute" | "minutes" | "min" | "mi" | "m" | "mm" => 60.0,
        "hour" | "hours" | "hou" | "ho" | "h" | "hh" => 3600.0,
        _ => return None,
    };
    Some(f)
}

/// Seconds of a time expression, e.g. `parse_time("1h 30m") == Ok(5400.0)`.
pub fn parse_time(s: &str) -> Result<f64, String> {
    parse_time_typed(s).map(|(v, _)| v)
}

/// As [`parse_time`], also telling whether Python would compute a float (a decimal point,
/// or a month/year unit, whose factors are floats): `fail2ban-client --str2sec` prints
/// `2629800.0` for `1mo` but `5400` for `1h 30m`.
pub fn parse_time_typed(s: &str) -> Result<(f64, bool), String> {
    let mut is_float = false;
    let bad = || format!("invalid time value {s:?}");
    let b = s.trim();
    if b.is_empty() {
        return Err(bad());
    }
    let chars: Vec<char> = b.chars().collect();
    let mut i = 0;
    let mut total = 0.0;
    let mut sign = 1.0;
    let mut expect_term = true;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        if c == '+' || c == '-' {
            sign = if c == '-' { -sign } else { sign };
            expect_term = true;
            i += 1;
            continue;
        }
        if c.is_ascii_digit() || c == '.' {
            let st = i;
            while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                i += 1;
            }
            let text: String = chars[st..i].iter().collect();
            is_float |= text.contains('.');
            let num: f64 = text.parse().map_err(|_| bad())?;
            let mut j = i;
            while j < chars.len() && chars[j] == ' ' {
                j += 1;
            }
            let ws = j;
            while j < chars.len() && chars[j].is_ascii_alphabetic() {
                j += 1;
            }
            let mut val = num;
            if j > ws {
                let word: String = chars[ws..j].iter().collect();
                let f = unit_factor(&word).ok_or_else(bad)?;
                is_float |= f == 2629800.0 || f == 31557600.0;
                val *= f;
                i = j;
            }
            let _ = expect_term;
            total += sign * val;
            sign = 1.0;
            expect_term = false;
            continue;
        }
        return Err(bad());
    }
    if expect_term {
        return Err(bad());
    }
    Ok((total, is_float))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn abbreviations() {
        assert_eq!(parse_time("10m"), Ok(600.0));
        assert_eq!(parse_time("1h 30m"), Ok(5400.0));
        assert_eq!(parse_time("0d 1h 30m"), Ok(5400.0));
        assert_eq!(parse_time("1hour+30min"), Ok(5400.0));
        assert_eq!(parse_time("1d12h"), Ok(129600.0));
        assert_eq!(parse_time("1w"), Ok(604800.0));
        assert_eq!(parse_time("1year-6mo"), Ok(15778800.0));
        assert_eq!(parse_time("6 months"), Ok(15778800.0));
        assert_eq!(parse_time("600"), Ok(600.0));
        assert_eq!(parse_time("-1"), Ok(-1.0));
        assert_eq!(parse_time_typed("1mo"), Ok((2629800.0, true)));
        assert_eq!(parse_time_typed("1h 30m"), Ok((5400.0, false)));
        assert!(parse_time("abc").is_err());
        assert!(parse_time("").is_err());
    }
}

//! [`Pending::append_matches`]: the repeat failure's lines added to a packed entry
//! without re-encoding the lines already kept (see the parent module for the layout).

use super::{Key, Pending, Reader, base_line, decode_line, encode_line, put_varint};

impl Pending {
    /// Appends matched lines after the kept ones (the common repeat failure) without
    /// re-encoding the others: the first line, which later lines and data refer to, stays.
    /// Returns false (nothing changed) when there is no first line yet or the buffer does
    /// not parse; the caller then uses [`Pending::update_matches`].
    pub fn append_matches(&mut self, added: &[String]) -> bool {
        let Some((key, key_len)) = Key::decode(&self.packed) else {
            return false;
        };
        let fid = key.text();
        let body = &self.packed[key_len..];
        let mut r = Reader::new(body);
        let (Some(_flags), Some(n)) = (r.byte(), r.varint()) else {
            return false;
        };
        let count_at = (1, r.pos);
        let Some(shared) = r.varint() else {
            return false;
        };
        let shared_base = match shared {
            0 => Some(""),
            i => usize::try_from(i - 1).ok().and_then(base_line),
        };
        // The first line in clear (later lines are encoded against it), then skip the rest.
        let mut first: Option<Vec<u8>> = None;
        for _ in 0..n {
            let enc = match r.varint().and_then(|len| r.take(len as usize)) {
                Some(enc) => enc,
                None => return false,
            };
            if first.is_none() {
                match shared_base.and_then(|b| decode_line(enc, &fid, b.as_bytes())) {
                    Some(l) => first = Some(l),
                    None => return false,
                }
            }
        }
        let Some(first) = first.and_then(|f| String::from_utf8(f).ok()) else {
            return false;
        };
        let data_at = r.pos;
        let mut out = Vec::with_capacity(self.packed.len() + added.len() * 48);
        out.extend_from_slice(&self.packed[..key_len + count_at.0]);
        put_varint(&mut out, n + added.len() as u64);
        out.extend_from_slice(&body[count_at.1..data_at]);
        let mut enc = Vec::new();
        for line in added {
            enc.clear();
            encode_line(&mut enc, line, &fid, Some(&first));
            put_varint(&mut out, enc.len() as u64);
            out.extend_from_slice(&enc);
        }
        out.extend_from_slice(&body[data_at..]);
        // Exact size, as in `pack`.
        self.packed = Box::from(out.as_slice());
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::addr::IpAddr;
    use crate::server::ticket::Ticket;
    use crate::stream::Value;

    #[test]
    fn appended_lines_equal_repacked_ones() {
        // Real sshd failures (upstream sample log): a first one, then repeats appended.
        let Some(text) = super::super::upstream_sshd_log() else {
            return;
        };
        let lines: Vec<String> = text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .take(40)
            .map(str::to_string)
            .collect();
        assert!(lines.len() >= 10, "too few sample lines");
        for fid in ["10.1.1.1", "2001:db8::1", "some host\0x"] {
            let mut t = Ticket::new(fid, IpAddr::parse(fid).ok(), 1.0)
                .with_matches(vec![format!("{} {fid} \0", lines[0])]);
            t.set_data("user", Value::str(lines[0].split(' ').next().unwrap_or("")));
            t.set_data("ip", Value::str(fid));
            let mut fast = Pending::from_ticket(t);
            let mut slow = fast.clone();
            let mut want = vec![format!("{} {fid} \0", lines[0])];
            for chunk in lines[1..].chunks(3) {
                let chunk: Vec<String> = chunk.iter().map(|l| format!("{l} {fid}")).collect();
                assert!(fast.append_matches(&chunk));
                slow.update_matches(|l| l.extend(chunk.iter().cloned()));
                want.extend(chunk);
                let (a, b) = (fast.to_ticket(), slow.to_ticket());
                assert_eq!(a.matches, want);
                assert_eq!(a.matches, b.matches);
                assert_eq!(a.data, b.data);
                assert_eq!(fast.key(), slow.key());
                assert_eq!(fast.match_count(), want.len());
            }
        }
        // No first line yet: the caller must re-pack.
        let mut empty = Pending::from_ticket(Ticket::new("10.0.0.9", None, 1.0));
        assert!(!empty.append_matches(&["x".to_string()]));
        assert_eq!(empty.match_count(), 0);
    }
}

//! `stageTimestamp` → nanoseconds since the Unix epoch.
//!
//! Upstream parses with Go's `time.RFC3339Nano` layout. The same input is accepted here:
//! `YYYY-MM-DDTHH:MM:SS`, an optional fraction (`.` or `,`, any number of digits, only the
//! first nine count), then `Z` or `±HH:MM`. Fields are range-checked as Go does. Times
//! before 1970 cannot be a Falco timestamp and are rejected.

/// Parses an RFC 3339 time into nanoseconds since the epoch.
pub fn parse_rfc3339_nanos(text: &[u8]) -> Result<u64, String> {
    let bad = || {
        format!(
            "cannot parse \"{}\" as an RFC 3339 time",
            String::from_utf8_lossy(text)
        )
    };
    let mut p = Cursor { s: text, i: 0 };
    let year = p.digits(4).ok_or_else(bad)?;
    p.expect(b'-').ok_or_else(bad)?;
    let month = p.digits(2).ok_or_else(bad)?;
    p.expect(b'-').ok_or_else(bad)?;
    let day = p.digits(2).ok_or_else(bad)?;
    p.expect(b'T').ok_or_else(bad)?;
    let hour = p.digits(2).ok_or_else(bad)?;
    p.expect(b':').ok_or_else(bad)?;
    let minute = p.digits(2).ok_or_else(bad)?;
    p.expect(b':').ok_or_else(bad)?;
    let second = p.digits(2).ok_or_else(bad)?;
    let mut nanos = 0u64;
    if matches!(p.peek(), Some(b'.' | b',')) && p.s.get(p.i + 1).is_some_and(u8::is_ascii_digit) {
        p.i += 1;
        let mut scale = 100_000_000u64;
        while let Some(d) = p.peek().filter(u8::is_ascii_digit) {
            nanos += u64::from(d - b'0') * scale;
            scale /= 10;
            p.i += 1;
        }
    }
    let offset_secs: i64 = match p.peek() {
        Some(b'Z') => {
            p.i += 1;
            0
        }
        Some(sign @ (b'+' | b'-')) => {
            p.i += 1;
            let oh = p.digits(2).ok_or_else(bad)?;
            p.expect(b':').ok_or_else(bad)?;
            let om = p.digits(2).ok_or_else(bad)?;
            if oh > 24 || om > 59 {
                return Err(format!("{}: time zone offset out of range", bad()));
            }
            let secs = i64::from(oh) * 3600 + i64::from(om) * 60;
            if sign == b'-' { -secs } else { secs }
        }
        _ => return Err(bad()),
    };
    if p.i != text.len() {
        return Err(format!("{}: extra text at the end", bad()));
    }
    let range = |what: &str| Err(format!("{}: {what} out of range", bad()));
    if !(1..=12).contains(&month) {
        return range("month");
    }
    if day < 1 || day > days_in_month(year, month) {
        return range("day");
    }
    if hour > 23 {
        return range("hour");
    }
    if minute > 59 {
        return range("minute");
    }
    if second > 59 {
        return range("second");
    }
    let days = days_from_civil(i64::from(year), month, day);
    let secs = days * 86_400 + i64::from(hour) * 3600 + i64::from(minute) * 60 + i64::from(second)
        - offset_secs;
    let secs = u64::try_from(secs).map_err(|_| format!("{}: before 1970", bad()))?;
    secs.checked_mul(1_000_000_000)
        .and_then(|n| n.checked_add(nanos))
        .ok_or_else(|| format!("{}: too far in the future", bad()))
}

struct Cursor<'a> {
    s: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn expect(&mut self, b: u8) -> Option<()> {
        (self.peek()? == b).then(|| self.i += 1)
    }

    fn digits(&mut self, n: usize) -> Option<u32> {
        let part = self.s.get(self.i..self.i + n)?;
        if !part.iter().all(u8::is_ascii_digit) {
            return None;
        }
        self.i += n;
        Some(part.iter().fold(0, |acc, d| acc * 10 + u32::from(d - b'0')))
    }
}

fn is_leap(year: u32) -> bool {
    year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400))
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Formats nanoseconds since the epoch as RFC 3339 UTC with nine fractional digits, the
/// way Falco prints an alert's `time`: `YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ`.
pub fn format_rfc3339_nanos(ns: u64) -> String {
    let mut out = String::with_capacity(30);
    push_rfc3339(&mut out, ns);
    out
}

/// [`format_rfc3339_nanos`] appended to `out`, without formatting machinery: every alert
/// writes one.
pub fn push_rfc3339(out: &mut String, ns: u64) {
    let sec = ns / 1_000_000_000;
    push_date(out, sec);
    out.push('T');
    push_clock(out, sec);
    out.push('.');
    push_digits(out, ns % 1_000_000_000, 9);
    out.push('Z');
}

/// `YYYY-MM-DD` of the day `sec` (seconds since the epoch) falls on.
pub fn push_date(out: &mut String, sec: u64) {
    let (y, m, d) = civil_from_days((sec / 86_400) as i64);
    if (0..=9999).contains(&y) {
        push_digits(out, y as u64, 4);
    } else {
        use std::fmt::Write as _;
        let _ = write!(out, "{y:04}");
    }
    out.push('-');
    push_digits(out, u64::from(m), 2);
    out.push('-');
    push_digits(out, u64::from(d), 2);
}

/// `HH:MM:SS` of `sec` (seconds since the epoch), in UTC.
pub fn push_clock(out: &mut String, sec: u64) {
    let s = sec % 86_400;
    push_digits(out, s / 3600, 2);
    out.push(':');
    push_digits(out, (s % 3600) / 60, 2);
    out.push(':');
    push_digits(out, s % 60, 2);
}

/// Appends the `width` (at most 20) last decimal digits of `n`, zero-padded.
pub fn push_digits(out: &mut String, n: u64, width: usize) {
    let width = width.min(20);
    let mut buf = [b'0'; 20];
    let mut n = n;
    for slot in buf[20 - width..].iter_mut().rev() {
        *slot = b'0' + (n % 10) as u8;
        n /= 10;
    }
    for &digit in &buf[20 - width..] {
        out.push(char::from(digit));
    }
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian.
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ns(s: &str) -> Result<u64, String> {
        parse_rfc3339_nanos(s.as_bytes())
    }

    #[test]
    fn parses_kubernetes_timestamps() {
        assert_eq!(ns("1970-01-01T00:00:00Z"), Ok(0));
        assert_eq!(
            ns("2018-10-25T13:58:49.730588Z"),
            Ok(1_540_475_929_730_588_000)
        );
        assert_eq!(
            ns("2023-07-31T01:58:11.751914Z"),
            Ok(1_690_768_691_751_914_000)
        );
        assert_eq!(
            ns("2024-02-29T12:00:00.123456789+02:00"),
            Ok(1_709_200_800_123_456_789)
        );
        assert_eq!(
            ns("2024-02-29T12:00:00,5-01:30"),
            Ok(1_709_213_400_500_000_000)
        );
        // Go keeps only nine fractional digits.
        assert_eq!(ns("1970-01-01T00:00:01.1234567899Z"), Ok(1_123_456_789));
    }

    #[test]
    fn rejects_what_go_rejects() {
        for bad in [
            "",
            "2023-07-31",
            "2023-07-31 01:58:11Z",
            "2023-13-01T00:00:00Z",
            "2023-02-29T00:00:00Z",
            "2023-01-01T24:00:00Z",
            "2023-01-01T00:60:00Z",
            "2023-01-01T00:00:60Z",
            "2023-01-01T00:00:00",
            "2023-01-01T00:00:00.Z",
            "2023-01-01T00:00:00Zjunk",
            "1969-12-31T23:59:59Z",
            "2023-01-01T00:00:00+2:00",
        ] {
            assert!(ns(bad).is_err(), "accepted {bad:?}");
        }
    }

    #[test]
    fn days_to_dates_either_side_of_the_epoch() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(-719_468), (0, 3, 1));
    }

    #[test]
    fn formats_with_nine_digits() {
        assert_eq!(
            format_rfc3339_nanos(1_540_475_929_730_588_000),
            "2018-10-25T13:58:49.730588000Z"
        );
        assert_eq!(format_rfc3339_nanos(0), "1970-01-01T00:00:00.000000000Z");
        for t in [
            "2024-02-29T23:59:59.999999999Z",
            "2000-03-01T00:00:00.000000001Z",
        ] {
            assert_eq!(format_rfc3339_nanos(ns(t).unwrap()), t);
        }
    }
}

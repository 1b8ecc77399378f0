//! Prometheus' spellings of time: durations (`1h30m`, `5m`, `0s`) and the timestamps and steps of
//! its HTTP API (RFC 3339 or Unix seconds with a fraction; a step is a duration or seconds).

/// Parses a Prometheus duration (`[0-9]+(ms|s|m|h|d|w|y)` units, largest first, each at most
/// once) into milliseconds.
pub fn parse_duration(text: &str) -> Result<u64, String> {
    const UNITS: [(&str, u64); 7] = [
        ("y", 365 * 86_400_000),
        ("w", 7 * 86_400_000),
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
        ("ms", 1),
    ];
    let bad = || format!("'{text}' is not a duration like 30s, 5m, 1h30m or 2d");
    if text.is_empty() || text.len() > 32 {
        return Err(bad());
    }
    let mut rest = text;
    let mut total: u64 = 0;
    // Index into UNITS of the last unit seen: each unit must be smaller than the one before.
    let mut last: Option<usize> = None;
    while !rest.is_empty() {
        let digits = rest.chars().take_while(char::is_ascii_digit).count();
        if digits == 0 {
            return Err(bad());
        }
        let n: u64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        // `ms` before `m`, so "5ms" is not read as "5m" + "s".
        let (idx, unit_len, factor) = if rest.starts_with("ms") {
            (6, 2, 1)
        } else {
            let c = rest.get(..1).ok_or_else(bad)?;
            let idx = UNITS.iter().position(|(u, _)| *u == c).ok_or_else(bad)?;
            (idx, 1, UNITS[idx].1)
        };
        if last.is_some_and(|l| idx <= l) {
            return Err(bad());
        }
        last = Some(idx);
        rest = &rest[unit_len..];
        total = n
            .checked_mul(factor)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(bad)?;
    }
    Ok(total)
}

/// Parses a timestamp of the Prometheus API (RFC 3339, or Unix seconds, possibly fractional)
/// into Unix milliseconds.
pub fn parse_timestamp(name: &str, text: &str) -> Result<i64, String> {
    if let Ok(secs) = text.parse::<f64>()
        && secs.is_finite()
    {
        #[expect(
            clippy::cast_possible_truncation,
            reason = "timestamps are far inside i64 milliseconds; the fraction below 1 ms is dropped"
        )]
        return Ok((secs * 1000.0).round() as i64);
    }
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .map(|t| i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX))
        .map_err(|_| format!("'{name}' must be RFC 3339 or Unix seconds, not '{text}'"))
}

/// Parses a `step`: a duration, or seconds (possibly fractional), into milliseconds.
pub fn parse_step(text: &str) -> Result<u64, String> {
    if let Ok(secs) = text.parse::<f64>() {
        if !(secs.is_finite() && secs > 0.0) {
            return Err("'step' must be a positive duration or number of seconds".into());
        }
        #[expect(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "positive and finite, checked above"
        )]
        return Ok(((secs * 1000.0).round() as u64).max(1));
    }
    match parse_duration(text) {
        Ok(0) => Err("'step' must be a positive duration or number of seconds".into()),
        Ok(ms) => Ok(ms),
        Err(_) => Err(format!(
            "'step' must be a duration like 15s or a number of seconds, not '{text}'"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_follow_prometheus() {
        assert_eq!(parse_duration("0s"), Ok(0));
        assert_eq!(parse_duration("5m"), Ok(300_000));
        assert_eq!(parse_duration("1h30m"), Ok(5_400_000));
        assert_eq!(parse_duration("2d"), Ok(172_800_000));
        assert_eq!(parse_duration("1s500ms"), Ok(1_500));
        assert_eq!(parse_duration("250ms"), Ok(250));
        for bad in ["", "5", "m", "5 m", "30m1h", "5mm", "1.5h", "-5m", "5x"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn timestamps_and_steps() {
        assert_eq!(
            parse_timestamp("start", "1700000000"),
            Ok(1_700_000_000_000)
        );
        assert_eq!(
            parse_timestamp("start", "1700000000.5"),
            Ok(1_700_000_000_500)
        );
        assert_eq!(
            parse_timestamp("start", "2026-11-27T04:14:29.123Z"),
            Ok(1_795_752_869_123)
        );
        assert!(parse_timestamp("start", "yesterday").is_err());
        assert_eq!(parse_step("15s"), Ok(15_000));
        assert_eq!(parse_step("0.5"), Ok(500));
        assert!(parse_step("0").is_err());
        assert!(parse_step("-1").is_err());
        assert!(parse_step("0s").is_err());
    }
}

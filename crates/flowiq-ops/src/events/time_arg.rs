//! Time arguments (`--since`, `--until`): an RFC 3339 date-time, or a duration before now
//! (`30m`, `2h`, `7d`). Both become the table's sortable UTC form, so they compare with stored
//! times as strings.

use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

use flowiq_webhooks::clock::format_sortable;

/// What a malformed time argument is told (clap prefixes the argument's name).
const INVALID: &str = "expected an RFC 3339 date-time (e.g. 2026-03-07T10:00:00Z) or a duration \
    before now: a whole number followed by s, m, h, d or w (e.g. 30m, 2h, 7d)";

/// For clap's `value_parser`: the time as the sortable UTC text (`2026-03-07T10:00:00.000Z`).
pub fn parse_time_arg(value: &str) -> Result<String, &'static str> {
    parse_at(value, OffsetDateTime::now_utc())
}

/// Parses `value` relative to `now` (durations count back from it).
fn parse_at(value: &str, now: OffsetDateTime) -> Result<String, &'static str> {
    let value = value.trim();
    let at = match OffsetDateTime::parse(value, &Rfc3339) {
        Ok(at) => at,
        Err(_) => relative(value)
            .and_then(|ago| now.checked_sub(ago))
            .ok_or(INVALID)?,
    };
    format_sortable(at).ok_or(INVALID)
}

/// A whole number and a unit.
fn relative(value: &str) -> Option<Duration> {
    let (number, unit) = value.split_at_checked(value.len().checked_sub(1)?)?;
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let seconds_per_unit = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        "w" => 604_800,
        _ => return None,
    };
    let number: i64 = number.parse().ok()?;
    number.checked_mul(seconds_per_unit).map(Duration::seconds)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-03-07 12:00:00 UTC);

    #[test]
    fn rfc3339_and_durations_become_sortable_utc() {
        let parse = |v| parse_at(v, NOW);
        assert_eq!(
            parse("2026-03-07T10:00:00Z").unwrap(),
            "2026-03-07T10:00:00.000Z"
        );
        assert_eq!(
            parse("2026-03-07T12:00:00+02:00").unwrap(),
            "2026-03-07T10:00:00.000Z"
        );
        assert_eq!(parse("2h").unwrap(), "2026-03-07T10:00:00.000Z");
        assert_eq!(parse("30m").unwrap(), "2026-03-07T11:30:00.000Z");
        assert_eq!(parse("7d").unwrap(), "2026-02-28T12:00:00.000Z");
        assert_eq!(parse("1w").unwrap(), "2026-02-28T12:00:00.000Z");
        assert_eq!(parse("45s").unwrap(), "2026-03-07T11:59:15.000Z");
    }

    #[test]
    fn anything_else_is_refused() {
        for bad in [
            "",
            "h",
            "2",
            "-2h",
            "2x",
            "2.5h",
            "yesterday",
            "2026-03-07",
            "99999999999999999d",
            "2é",
        ] {
            assert_eq!(parse_at(bad, NOW), Err(INVALID), "{bad:?}");
        }
    }
}

//! Timestamps: FlowIQ's are RFC 3339; stored ones are normalised to UTC with milliseconds so that
//! they sort as strings in DynamoDB sort keys.

use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{OffsetDateTime, UtcOffset};

/// `2026-03-07T00:00:00.000Z`: fixed width, so lexicographic order is time order.
const SORTABLE: &[time::format_description::BorrowedFormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("is not an RFC 3339 date-time between years 1 and 9999 (e.g. 2026-03-07T00:00:00.000Z)")]
pub struct InvalidTimestamp;

/// Parses an RFC 3339 date-time and returns it in the sortable UTC form.
pub fn normalize_rfc3339(value: &str) -> Result<String, InvalidTimestamp> {
    let parsed = OffsetDateTime::parse(value, &Rfc3339).map_err(|_| InvalidTimestamp)?;
    format_sortable(parsed).ok_or(InvalidTimestamp)
}

/// The sortable form, or `None` when the instant falls outside years 1..=9999 in UTC.
pub fn format_sortable(at: OffsetDateTime) -> Option<String> {
    let utc = at.to_offset(UtcOffset::UTC);
    if !(1..=9999).contains(&utc.year()) {
        return None;
    }
    utc.format(SORTABLE).ok()
}

/// Now, in the sortable form.
pub fn now_sortable() -> String {
    format_sortable(OffsetDateTime::now_utc()).expect("the current time is within years 1..=9999")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_offsets_and_precision_to_utc_millis() {
        assert_eq!(
            normalize_rfc3339("2026-03-08T00:00:00.000+02:00").unwrap(),
            "2026-03-07T22:00:00.000Z"
        );
        assert_eq!(
            normalize_rfc3339("2026-03-07T00:00:00Z").unwrap(),
            "2026-03-07T00:00:00.000Z"
        );
        assert_eq!(
            normalize_rfc3339("2026-03-07T00:00:00.123456789Z").unwrap(),
            "2026-03-07T00:00:00.123Z"
        );
    }

    #[test]
    fn rejects_what_is_not_a_date_time() {
        for bad in [
            "",
            "yesterday",
            "2026-13-01T00:00:00Z",
            "2026-02-30T00:00:00Z",
            "2026-03-07",
            "1772841600",
            "0000-01-01T00:00:00+01:00",
        ] {
            assert_eq!(normalize_rfc3339(bad), Err(InvalidTimestamp), "{bad:?}");
        }
    }

    #[test]
    fn sortable_form_sorts_like_time() {
        let a = normalize_rfc3339("2026-03-07T09:00:00.5+00:00").unwrap();
        let b = normalize_rfc3339("2026-03-07T10:00:00.05+01:00").unwrap();
        let c = normalize_rfc3339("2026-03-07T09:00:01Z").unwrap();
        assert!(b < a && a < c, "{b} < {a} < {c}");
    }
}

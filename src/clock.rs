//! Timestamps: FlowIQ's are RFC 3339; stored ones are normalised to UTC with milliseconds so that
//! they sort as strings in DynamoDB sort keys.

use time::format_description::BorrowedFormatItem;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{OffsetDateTime, UtcOffset};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("is not an RFC 3339 date-time between years 1 and 9999 (e.g. 2026-03-07T00:00:00.000Z)")]
pub struct InvalidTimestamp;

/// Parses an RFC 3339 date-time and returns it in the sortable UTC form.
pub fn normalize_rfc3339(value: &str) -> Result<String, InvalidTimestamp> {
    let parsed = OffsetDateTime::parse(value, &Rfc3339).map_err(|_| InvalidTimestamp)?;
    format_sortable(parsed).ok_or(InvalidTimestamp)
}

/// The sortable form, `2026-03-07T00:00:00.000Z`: fixed width, so string order is time order.
const SORTABLE: &[BorrowedFormatItem<'_>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");

/// `at` in the sortable form (sub-milliseconds are cut, not rounded), or `None` when the instant
/// falls outside years 1..=9999 in UTC.
pub fn format_sortable(at: OffsetDateTime) -> Option<String> {
    // Checked: `to_offset` panics when UTC falls outside `time`'s range (a FlowIQ timestamp of
    // `9999-12-31T23:00:00-05:00` is year 10000 in UTC).
    let utc = at.checked_to_offset(UtcOffset::UTC)?;
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
    fn sortable_form_covers_years_1_to_9999_in_utc() {
        let first = OffsetDateTime::from_unix_timestamp(-62_135_596_800).unwrap(); // 0001-01-01
        assert_eq!(format_sortable(first).unwrap(), "0001-01-01T00:00:00.000Z");
        let end = OffsetDateTime::from_unix_timestamp(253_402_300_799).unwrap();
        let late = end + time::Duration::nanoseconds(999_999_999);
        assert_eq!(format_sortable(late).unwrap(), "9999-12-31T23:59:59.999Z");
        assert_eq!(
            normalize_rfc3339("9999-12-31T23:00:00-05:00"),
            Err(InvalidTimestamp)
        );
        let offset = OffsetDateTime::from_unix_timestamp(0)
            .unwrap()
            .to_offset(UtcOffset::from_hms(5, 30, 0).unwrap());
        assert_eq!(format_sortable(offset).unwrap(), "1970-01-01T00:00:00.000Z");
    }

    #[test]
    fn sortable_form_sorts_like_time() {
        let a = normalize_rfc3339("2026-03-07T09:00:00.5+00:00").unwrap();
        let b = normalize_rfc3339("2026-03-07T10:00:00.05+01:00").unwrap();
        let c = normalize_rfc3339("2026-03-07T09:00:01Z").unwrap();
        assert!(b < a && a < c, "{b} < {a} < {c}");
    }
}

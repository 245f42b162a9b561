//! Tests of the parts of the core that need no server: URI redaction, calendar arithmetic,
//! and the BSON codec driven through an embedded interpreter.

use _core::codec::datetime::{civil_from_millis, millis_from_civil, Civil};
use _core::uri::redact;

#[test]
fn redact_hides_only_the_password() {
    assert_eq!(
        redact("mongodb://ada:s3cret@h:27017/app"),
        "mongodb://ada:***@h:27017/app"
    );
    assert_eq!(
        redact("mongodb+srv://ada:p@ss@cluster.example/db?x=1"),
        "mongodb+srv://ada:***@cluster.example/db?x=1"
    );
    assert_eq!(
        redact("mongodb://h:27017/?replicaSet=rs0"),
        "mongodb://h:27017/?replicaSet=rs0"
    );
    assert_eq!(redact("mongodb://user@h"), "mongodb://user@h");
    assert_eq!(redact("not a uri"), "not a uri");
}

fn civil(
    year: i32,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
    microsecond: u32,
) -> Civil {
    Civil {
        year,
        month,
        day,
        hour,
        minute,
        second,
        microsecond,
    }
}

#[test]
fn datetimes_truncate_to_milliseconds_towards_the_past() {
    assert_eq!(
        millis_from_civil(civil(1970, 1, 1, 0, 0, 0, 1999), 0),
        Some(1)
    );
    // Before the epoch, truncation still goes towards the past (floor), as MongoDB stores it.
    assert_eq!(
        millis_from_civil(civil(1969, 12, 31, 23, 59, 59, 999_500), 0),
        Some(-1)
    );
}

#[test]
fn utc_offsets_are_subtracted() {
    let plus_two = 2 * 3600 * 1_000_000;
    let utc = millis_from_civil(civil(2024, 5, 1, 10, 0, 0, 0), 0).unwrap();
    assert_eq!(
        millis_from_civil(civil(2024, 5, 1, 12, 0, 0, 0), plus_two),
        Some(utc)
    );
}

#[test]
fn civil_round_trips_and_rejects_years_python_cannot_hold() {
    let c = civil(2024, 2, 29, 23, 59, 58, 123_000);
    let ms = millis_from_civil(c, 0).unwrap();
    assert_eq!(civil_from_millis(ms), Some(c));
    assert_eq!(civil_from_millis(i64::MAX), None);
    assert_eq!(millis_from_civil(civil(2023, 2, 29, 0, 0, 0, 0), 0), None);
}

//! Calendar arithmetic for BSON datetimes (UTC milliseconds since the Unix epoch).
//!
//! BSON stores milliseconds: microseconds are truncated towards the past on the way in (see
//! `encode_datetime`), as the server and the other MongoDB drivers do.

use chrono::{DateTime, Datelike, Timelike};

/// A UTC wall-clock time with microseconds, as Python's `datetime` holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Civil {
    pub year: i32,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
    pub microsecond: u32,
}

/// The UTC wall-clock time of a BSON datetime, if Python's `datetime` can hold it
/// (years 1 to 9999).
pub fn civil_from_millis(millis: i64) -> Option<Civil> {
    let dt = DateTime::from_timestamp_millis(millis)?.naive_utc();
    if !(1..=9999).contains(&dt.year()) {
        return None;
    }
    Some(Civil {
        year: dt.year(),
        month: dt.month(),
        day: dt.day(),
        hour: dt.hour(),
        minute: dt.minute(),
        second: dt.second(),
        microsecond: dt.nanosecond() / 1000,
    })
}

/// A timezone-aware UTC `datetime.datetime` for `millis`, or a clear error outside the years
/// 1 to 9999 that Python's datetime supports.
///
/// Built with `datetime(state, tzinfo)`, the constructor that unpickling uses: `state` is the
/// 10-byte form `datetime.__reduce__` gives (year in two bytes, then month, day, hour, minute,
/// second, and microseconds in three bytes, all big-endian). CPython copies it in without
/// parsing eight arguments, which makes it about three times faster than
/// `datetime(y, m, d, H, M, S, us, tzinfo)`. Pickles depend on this form, so it is stable across
/// Python versions; the fields come from chrono and are always in range.
pub fn py_datetime<'py>(
    py: pyo3::Python<'py>,
    millis: i64,
    t: &super::types::PyTypes,
) -> pyo3::PyResult<pyo3::Bound<'py, pyo3::PyAny>> {
    use pyo3::types::PyAnyMethods;
    let c = civil_from_millis(millis).ok_or_else(|| {
        pyo3::exceptions::PyValueError::new_err(format!(
            "datetime ({millis} ms since 1970) is outside the years 1 to 9999 that Python's \
             datetime supports"
        ))
    })?;
    let state = pyo3::types::PyBytes::new(py, &pickle_state(&c));
    t.datetime_cls.bind(py).call1((state, t.utc.bind(py)))
}

/// `datetime.__reduce__`'s state bytes for a wall-clock time (fold 0).
#[allow(clippy::cast_possible_truncation)] // every field is range-checked by chrono
pub fn pickle_state(c: &Civil) -> [u8; 10] {
    let [_, _, year_hi, year_lo] = (c.year as u32).to_be_bytes();
    let [_, us_hi, us_mid, us_lo] = c.microsecond.to_be_bytes();
    [
        year_hi,
        year_lo,
        c.month as u8,
        c.day as u8,
        c.hour as u8,
        c.minute as u8,
        c.second as u8,
        us_hi,
        us_mid,
        us_lo,
    ]
}

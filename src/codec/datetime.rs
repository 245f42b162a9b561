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
    t.datetime_cls.bind(py).call1((
        c.year,
        c.month,
        c.day,
        c.hour,
        c.minute,
        c.second,
        c.microsecond,
        t.utc.bind(py),
    ))
}

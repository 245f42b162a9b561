//! Connection-string helpers that need no I/O.

/// Returns `uri` with the password of its user-info part replaced by `***`, so it can be shown
/// in error messages and logs. Everything else is kept as written.
///
/// ```
/// assert_eq!(
///     _core::uri::redact("mongodb://ada:s3cret@db.example:27017/app"),
///     "mongodb://ada:***@db.example:27017/app"
/// );
/// ```
pub fn redact(uri: &str) -> String {
    let Some(scheme_end) = uri.find("://") else {
        return uri.to_owned();
    };
    let rest_start = scheme_end + 3;
    let rest = &uri[rest_start..];
    // The user info ends at the last '@' before the path or query: passwords may contain '@'
    // only percent-encoded, but be lenient and take the last one.
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let Some(at) = authority.rfind('@') else {
        return uri.to_owned();
    };
    let user_info = &authority[..at];
    let redacted_user_info = match user_info.find(':') {
        Some(colon) => format!("{}:***", &user_info[..colon]),
        None => user_info.to_owned(),
    };
    format!(
        "{}{}{}",
        &uri[..rest_start],
        redacted_user_info,
        &rest[at..]
    )
}

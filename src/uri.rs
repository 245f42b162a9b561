//! Connection-string helpers that need no I/O: what of a URI may be shown.
//!
//! A URI's secrets are the password of its user info and the values of options that carry
//! credentials (`tlsCertificateKeyFilePassword`, `authMechanismProperties` with its AWS session
//! token, anything named like a password, secret or token). [`redact`] replaces each with
//! `***`; [`scrub`] replaces them in any text (a driver's error message may quote them), so no
//! message, `repr` or log line shows a credential. Both are lenient with URIs that are not
//! valid (an unescaped `/`, `?` or `@` in a password): they mask too much rather than too little.

const MASK: &str = "***";

/// Returns `uri` with its password and credential-carrying option values replaced by `***`.
/// Everything else is kept as written.
///
/// ```
/// assert_eq!(
///     _core::uri::redact("mongodb://ada:s3cret@db.example:27017/app"),
///     "mongodb://ada:***@db.example:27017/app"
/// );
/// ```
pub fn redact(uri: &str) -> String {
    let parts = Parts::of(uri);
    let mut out = String::with_capacity(uri.len());
    let mut at = 0;
    for (start, end) in parts.secrets {
        out.push_str(&uri[at..start]);
        out.push_str(MASK);
        at = end;
    }
    out.push_str(&uri[at..]);
    out
}

/// `text` with every secret of `uri` (as written, and percent-decoded) replaced by `***`.
pub fn scrub(text: &str, uri: &str) -> String {
    let mut secrets: Vec<String> = Vec::new();
    for (start, end) in Parts::of(uri).secrets {
        let raw = &uri[start..end];
        secrets.push(raw.to_owned());
        let decoded = percent_decode(raw);
        if decoded != raw {
            secrets.push(decoded);
        }
    }
    // Longest first, so that a secret containing another is masked whole.
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    let mut out = text.to_owned();
    for secret in secrets.iter().filter(|s| !s.is_empty()) {
        out = out.replace(secret.as_str(), MASK);
    }
    out
}

/// The byte ranges of a URI's secrets, in order.
struct Parts {
    secrets: Vec<(usize, usize)>,
}

impl Parts {
    fn of(uri: &str) -> Self {
        let mut secrets = Vec::new();
        let Some(scheme_end) = uri.find("://") else {
            return Parts { secrets };
        };
        let start = scheme_end + 3;
        let rest = &uri[start..];
        // The user info ends at the last '@' that is not inside an option's value (an
        // unescaped '/', '?' or '@' in a password can make the '@' come after them).
        let query = rest.find('?');
        let at = rest.match_indices('@').map(|(i, _)| i).rfind(|&i| {
            !query.is_some_and(|q| i > q && in_option_value(&rest[q + 1..], i - q - 1))
        });
        let mut options_from = start;
        if let Some(at) = at {
            let user_info = &rest[..at];
            if let Some(colon) = user_info.find(':') {
                secrets.push((start + colon + 1, start + at));
            }
            options_from = start + at + 1;
        }
        if let Some(q) = uri[options_from..].find('?') {
            let mut pos = options_from + q + 1;
            for option in uri[pos..].split(['&', ';']) {
                if let Some(eq) = option.find('=') {
                    if is_secret_option(&option[..eq]) && eq + 1 < option.len() {
                        secrets.push((pos + eq + 1, pos + option.len()));
                    }
                }
                pos += option.len() + 1;
            }
        }
        Parts { secrets }
    }
}

/// Whether byte `at` of `query` (a URI's text after its first '?') lies in the value of a
/// well-formed option (`name=value`, the name made of letters).
fn in_option_value(query: &str, at: usize) -> bool {
    let start = query[..at].rfind(['&', ';']).map_or(0, |i| i + 1);
    let option = &query[start..];
    match option.find('=') {
        Some(eq) => {
            start + eq < at
                && !option[..eq].is_empty()
                && option[..eq].chars().all(|c| c.is_ascii_alphabetic())
        }
        None => false,
    }
}

/// Options whose value is (or holds) a credential.
fn is_secret_option(name: &str) -> bool {
    let name = percent_decode(name).to_ascii_lowercase();
    name == "authmechanismproperties"
        || ["password", "secret", "token", "credential"]
            .iter()
            .any(|word| name.contains(word))
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = |b: u8| (b as char).to_digit(16);
            if let (Some(high), Some(low)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                #[allow(clippy::cast_possible_truncation)] // two hex digits: at most 255
                out.push((high * 16 + low) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

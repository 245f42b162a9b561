//! Tests of the parts of the core that need no server: URI redaction, calendar arithmetic,
//! and the BSON codec driven through an embedded interpreter.

use _core::codec::datetime::{civil_from_millis, Civil};
use _core::uri::{redact, scrub};

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

#[test]
fn redact_hides_passwords_that_are_not_escaped_and_credential_options() {
    // Unescaped '/', '?' and '@' in a password: masked all the same.
    assert_eq!(redact("mongodb://u:s3cret/x@h/"), "mongodb://u:***@h/");
    assert_eq!(
        redact("mongodb://u:a?b@h/db?w=1"),
        "mongodb://u:***@h/db?w=1"
    );
    assert_eq!(redact("mongodb://u:a@b/c?d@h/"), "mongodb://u:***@h/");
    assert_eq!(
        redact("mongodb://u:p@h/?appName=me@corp"),
        "mongodb://u:***@h/?appName=me@corp"
    );
    assert_eq!(
        redact("mongodb://h/?tls=true&tlsCertificateKeyFilePassword=pw&appName=x"),
        "mongodb://h/?tls=true&tlsCertificateKeyFilePassword=***&appName=x"
    );
    assert_eq!(
        redact(
            "mongodb://h/?authMechanism=MONGODB-AWS&authMechanismProperties=AWS_SESSION_TOKEN:tok"
        ),
        "mongodb://h/?authMechanism=MONGODB-AWS&authMechanismProperties=***"
    );
    assert_eq!(
        scrub("bad value 'p%40ss' and p@ss", "mongodb://u:p%40ss@h/"),
        "bad value '***' and ***"
    );
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
fn civil_times_of_stored_millis_and_years_python_cannot_hold() {
    assert_eq!(
        civil_from_millis(1_709_251_198_123),
        Some(civil(2024, 2, 29, 23, 59, 58, 123_000))
    );
    assert_eq!(
        civil_from_millis(-1),
        Some(civil(1969, 12, 31, 23, 59, 59, 999_000))
    );
    assert_eq!(civil_from_millis(i64::MAX), None);
}

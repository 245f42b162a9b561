//! Decimal128 as text for Python's `Decimal`.
//!
//! BSON stores Decimal128 in IEEE 754-2008's binary integer decimal (BID) encoding: a sign, a
//! 14-bit biased exponent and a 113-bit integer coefficient. A finite value is written here as
//! `[-]<coefficient>E<exponent>`, which `Decimal` reads back with exactly that coefficient and
//! exponent (`"110E-2"` is `Decimal('1.10')`, trailing zero kept). The bson crate's `Display`
//! gives the same value in scientific notation but goes through a bit-slice parse that cost more
//! than the rest of the decimal's decoding; infinities, NaNs and non-canonical encodings (rare,
//! and with rules of their own) still use it.

use std::fmt::Write;

use bson::Decimal128;

const EXPONENT_BIAS: i32 = 6176;
const MAX_COEFFICIENT: u128 = 10u128.pow(34) - 1;

/// The text `Decimal(text)` turns into exactly the value `d` holds.
pub fn decimal_text(d: Decimal128) -> String {
    finite_text(d.bytes()).unwrap_or_else(|| d.to_string())
}

/// `[-]<coefficient>E<exponent>` for a finite, canonical encoding; `None` for the rest.
fn finite_text(bytes: [u8; 16]) -> Option<String> {
    let bits = u128::from_le_bytes(bytes);
    // With both bits after the sign set, the value is an infinity, a NaN, or a coefficient
    // above 2^113 (always non-canonical).
    if (bits >> 125) & 0b11 == 0b11 {
        return None;
    }
    let coefficient = bits & ((1u128 << 113) - 1);
    if coefficient > MAX_COEFFICIENT {
        return None; // non-canonical: IEEE 754 reads it as zero
    }
    // 14 bits: the cast cannot truncate.
    #[allow(clippy::cast_possible_truncation, clippy::cast_possible_wrap)]
    let exponent = ((bits >> 113) & 0x3FFF) as i32 - EXPONENT_BIAS;
    let mut text = String::with_capacity(48);
    if bits >> 127 == 1 {
        text.push('-');
    }
    write!(text, "{coefficient}E{exponent}").expect("writing to a String cannot fail");
    Some(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[test]
    fn finite_values_keep_their_coefficient_and_exponent() {
        for (text, expected) in [
            ("1.10", "110E-2"),
            ("-0.00", "-0E-2"),
            ("0", "0E0"),
            ("1E+6111", "1E6111"),
            (
                "9999999999999999999999999999999999E-6176",
                "9999999999999999999999999999999999E-6176",
            ),
        ] {
            let d = Decimal128::from_str(text).unwrap();
            assert_eq!(decimal_text(d), expected, "{text}");
        }
    }

    #[test]
    fn special_values_use_the_scientific_form() {
        for text in ["Infinity", "-Infinity", "NaN"] {
            let d = Decimal128::from_str(text).unwrap();
            assert_eq!(decimal_text(d), d.to_string());
        }
    }
}

//! The canned items of the migration benchmark, and the tally of the replacements that
//! clients write to them.
//!
//! Item `i` is `{_id, name, sku, price, stock, created_at, updated_at}`: its `_id` is a UUID
//! whose first four bytes are `i` (big-endian), so the canned order is `_id` order, and its
//! `price` is a string such as `"4711.05"` (`price_cents(i)` / 100). The benchmark migrates
//! `price` to a Decimal128 of the same value, each client writing whole replacement documents
//! (`update` statements whose `u` has no operators).
//!
//! The stub stores nothing, but while recording (the `stubRecordItems` command) it checks each
//! replacement of an item: its `q` names the item by `_id`, its `price` is a Decimal128 equal
//! to the item's string, its other fields are the item's own (a number of the same value, a
//! string, a date), and `_id`, if the replacement has one, is unchanged. Fields the canned item
//! does not have are not looked at (a marker a client removes at the end, for instance).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use bson::{RawBsonRef, RawDocument};

use crate::bsonw::{BsonBuf, UUID_SUBTYPE};
use crate::generator::Generator;

pub const ITEMS: &str = "items";

const PRODUCTS: [&str; 8] = [
    "Lamp", "Kettle", "Chair", "Notebook", "Backpack", "Teapot", "Clock", "Scarf",
];
const COLOURS: [&str; 6] = ["red", "teal", "amber", "slate", "ivory", "olive"];
/// 2024-01-01T00:00:00Z in milliseconds.
const BASE_MILLIS: i64 = 1_704_067_200_000;
/// Decimal128's exponent bias, and the mask of its 49-bit high coefficient part.
const EXPONENT_BIAS: i32 = 6176;
const HIGH_COEFFICIENT: u64 = (1 << 49) - 1;

/// The price of item `index` in cents (the stored string is this over 100, with two decimals).
pub fn price_cents(index: usize) -> i64 {
    (i64::try_from(index).unwrap_or(0) * 7919 + 13) % 1_000_000
}

/// The encoded items, `_id` first in each.
pub struct Items {
    pub documents: Vec<Vec<u8>>,
}

impl Items {
    pub fn generate(generator: &mut Generator, count: usize) -> Items {
        let documents = (0..count).map(|i| item(generator, i)).collect();
        Items { documents }
    }

    /// The position of the item whose `_id` is this UUID.
    pub fn position(&self, id: &[u8]) -> Option<usize> {
        let index = u32::from_be_bytes(id.get(..4)?.try_into().ok()?);
        let index = usize::try_from(index).ok()?;
        let document = self.documents.get(index)?;
        let stored = RawDocument::from_bytes(document).ok()?.get("_id").ok()??;
        matches!(stored, RawBsonRef::Binary(binary) if binary.bytes == id).then_some(index)
    }

    /// How many of these UUIDs are the `_id` of an item (what `{_id: {$in: ids}}` counts).
    pub fn count_of<'a>(&self, ids: impl IntoIterator<Item = RawBsonRef<'a>>) -> usize {
        ids.into_iter()
            .filter(|id| matches!(id, RawBsonRef::Binary(b) if self.position(b.bytes).is_some()))
            .count()
    }
}

fn item(generator: &mut Generator, index: usize) -> Vec<u8> {
    let mut id = generator.uuid_v4();
    id[..4].copy_from_slice(
        &u32::try_from(index)
            .expect("under 2^32 items")
            .to_be_bytes(),
    );
    let cents = price_cents(index);
    let created = BASE_MILLIS + i64::try_from(index).unwrap_or(0) * 1000;
    let mut buf = Vec::with_capacity(160);
    let start = buf.doc_start();
    buf.put_binary("_id", UUID_SUBTYPE, &id);
    let product = PRODUCTS[generator.below(8) as usize];
    let colour = COLOURS[generator.below(6) as usize];
    buf.put_str("name", &format!("{colour} {product} {index}"));
    buf.put_str("sku", &format!("SKU-{index:07}"));
    buf.put_str("price", &format!("{}.{:02}", cents / 100, cents % 100));
    buf.put_i32("stock", generator.below(500) as i32);
    buf.put_datetime("created_at", created);
    let updated = created + i64::try_from(generator.below(86_400_000)).unwrap_or(0);
    buf.put_datetime("updated_at", updated);
    buf.doc_end(start);
    buf
}

/// What the replacements recorded so far amount to.
#[derive(Default, Clone)]
pub struct Tally {
    /// Replacement statements on items seen.
    pub statements: usize,
    /// Items replaced correctly at least once.
    pub replaced: usize,
    /// Correct replacements of an item already replaced.
    pub repeated: usize,
    /// Replacements that failed the check.
    pub wrong: usize,
    /// Why the first wrong one did.
    pub problem: Option<String>,
}

#[derive(Default)]
struct Recorded {
    tally: Tally,
    done: Vec<bool>,
}

/// The replacements of items received while recording.
#[derive(Default)]
pub struct Replacements {
    recording: AtomicBool,
    recorded: Mutex<Recorded>,
}

impl Replacements {
    pub fn recording(&self) -> bool {
        self.recording.load(Ordering::Relaxed)
    }

    /// Starts recording with an empty tally, or stops; returns the tally up to now.
    pub fn set_recording(&self, on: bool) -> Tally {
        let mut recorded = self.recorded.lock().expect("replacement tally");
        let tally = recorded.tally.clone();
        if on {
            *recorded = Recorded::default();
        }
        self.recording.store(on, Ordering::Relaxed);
        tally
    }

    /// Checks the replacement statements among `statements` (an `update` command's).
    pub fn record(&self, items: &Items, statements: &[&RawDocument]) {
        let mut recorded = self.recorded.lock().expect("replacement tally");
        if recorded.done.len() != items.documents.len() {
            recorded.done = vec![false; items.documents.len()];
        }
        for statement in statements {
            let Ok(replacement) = statement.get_document("u") else {
                continue; // an update pipeline
            };
            let is_operator = |(key, _): (&str, RawBsonRef<'_>)| key.starts_with('$');
            if replacement
                .into_iter()
                .flatten()
                .next()
                .is_some_and(is_operator)
            {
                continue; // an update with operators, not a replacement
            }
            recorded.tally.statements += 1;
            match check(items, statement, replacement) {
                Ok(index) if recorded.done[index] => recorded.tally.repeated += 1,
                Ok(index) => {
                    recorded.done[index] = true;
                    recorded.tally.replaced += 1;
                }
                Err(problem) => {
                    recorded.tally.wrong += 1;
                    recorded.tally.problem.get_or_insert(problem);
                }
            }
        }
    }
}

/// The position of the item `statement` replaces, if `replacement` is that item with its price
/// as a Decimal128.
fn check(
    items: &Items,
    statement: &RawDocument,
    replacement: &RawDocument,
) -> Result<usize, String> {
    let target = statement
        .get_document("q")
        .ok()
        .and_then(|q| q.get("_id").ok().flatten());
    let index = match target {
        Some(RawBsonRef::Binary(id)) => items.position(id.bytes),
        _ => None,
    }
    .ok_or_else(|| format!("a replacement whose q names no item by _id: {statement:?}"))?;
    let original = RawDocument::from_bytes(&items.documents[index]).map_err(|e| e.to_string())?;
    for element in original {
        let (key, value) = element.map_err(|e| e.to_string())?;
        let written = replacement.get(key).ok().flatten();
        let fine = match (key, written) {
            ("_id", None) => true,
            ("price", Some(RawBsonRef::Decimal128(price))) => {
                is_cents(price.bytes(), price_cents(index))
            }
            (_, Some(written)) => same_value(value, written),
            (_, None) => false,
        };
        if !fine {
            let (written, value) = (shown(written), shown(Some(value)));
            return Err(format!(
                "item {index}: {key} written as {written}, from {value}"
            ));
        }
    }
    Ok(index)
}

/// Whether two values are equal, numbers of different widths included.
fn same_value(a: RawBsonRef<'_>, b: RawBsonRef<'_>) -> bool {
    let number = |value| match value {
        RawBsonRef::Int32(n) => Some(i64::from(n)),
        RawBsonRef::Int64(n) => Some(n),
        _ => None,
    };
    match (number(a), number(b)) {
        (Some(a), Some(b)) => a == b,
        _ => a == b,
    }
}

/// The sign, coefficient and exponent of the Decimal128 `bytes` (IEEE 754-2008 BID,
/// little-endian); None for infinities, NaNs and the large-coefficient form, which never hold
/// a price.
fn decimal_parts(bytes: [u8; 16]) -> Option<(bool, u128, i32)> {
    let low = u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes"));
    let high = u64::from_le_bytes(bytes[8..].try_into().expect("8 bytes"));
    if (high >> 61) & 0b11 == 0b11 {
        return None;
    }
    let exponent = i32::try_from((high >> 49) & 0x3FFF).ok()? - EXPONENT_BIAS;
    let coefficient = (u128::from(high & HIGH_COEFFICIENT) << 64) | u128::from(low);
    Some((high >> 63 == 1, coefficient, exponent))
}

/// Whether the Decimal128 `bytes` equals `cents` / 100.
fn is_cents(bytes: [u8; 16], cents: i64) -> bool {
    let Some((negative, coefficient, exponent)) = decimal_parts(bytes) else {
        return false;
    };
    if negative != (cents < 0) {
        return false;
    }
    let cents = u128::from(cents.unsigned_abs());
    let scale = |n: u128, by: i32| {
        let power = 10u128.checked_pow(u32::try_from(by).ok()?)?;
        n.checked_mul(power)
    };
    // coefficient * 10^exponent == cents * 10^-2
    if exponent >= -2 {
        scale(coefficient, exponent + 2) == Some(cents)
    } else {
        scale(cents, -2 - exponent) == Some(coefficient)
    }
}

/// A value for a message: a Decimal128 as `[-]coefficientEexponent`, anything else as BSON.
fn shown(value: Option<RawBsonRef<'_>>) -> String {
    match value {
        None => "nothing".to_owned(),
        Some(RawBsonRef::Decimal128(decimal)) => match decimal_parts(decimal.bytes()) {
            Some((negative, coefficient, exponent)) => {
                let sign = if negative { "-" } else { "" };
                format!("Decimal128({sign}{coefficient}E{exponent})")
            }
            None => "Decimal128(not a finite number)".to_owned(),
        },
        Some(other) => format!("{other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use bson::spec::BinarySubtype;
    use bson::{rawdoc, Binary, Decimal128, RawDocumentBuf};

    use super::*;
    use crate::bsonw::decimal128;

    fn items() -> Items {
        Items::generate(&mut Generator(3), 20)
    }

    fn replaced(items: &Items, at: usize, price: [u8; 16]) -> RawDocumentBuf {
        let original = RawDocument::from_bytes(&items.documents[at]).unwrap();
        let id = original.get("_id").unwrap().unwrap();
        let mut u = RawDocumentBuf::new();
        for element in original {
            let (key, value) = element.unwrap();
            match key {
                "_id" => {}
                "price" => u.append("price", Decimal128::from_bytes(price)),
                // Written back wider, as some clients do.
                "stock" => u.append("stock", i64::from(value.as_i32().unwrap())),
                _ => u.append_ref(key, value),
            }
        }
        u.append("_marker", "ignored");
        let mut q = RawDocumentBuf::new();
        q.append_ref("_id", id);
        rawdoc! { "q": q, "u": u }
    }

    #[test]
    fn ids_are_in_order_and_found_again() {
        let items = items();
        let ids: Vec<Vec<u8>> = items
            .documents
            .iter()
            .map(
                |d| match RawDocument::from_bytes(d).unwrap().get("_id").unwrap() {
                    Some(RawBsonRef::Binary(b)) => b.bytes.to_vec(),
                    other => panic!("a UUID, not {other:?}"),
                },
            )
            .collect();
        assert!(ids.windows(2).all(|pair| pair[0] < pair[1]));
        assert_eq!(items.position(&ids[7]), Some(7));
        let mut forged = ids[7].clone();
        forged[15] ^= 1;
        assert_eq!(items.position(&forged), None);
        let price = RawDocument::from_bytes(&items.documents[3]).unwrap();
        let cents = price_cents(3);
        assert_eq!(
            price.get_str("price").unwrap(),
            format!("{}.{:02}", cents / 100, cents % 100)
        );
        let uuid = |bytes: &[u8]| Binary {
            subtype: BinarySubtype::Uuid,
            bytes: bytes.to_vec(),
        };
        let list = rawdoc! { "ids": [uuid(&ids[1]), uuid(&forged), uuid(&ids[2])] };
        let list = list.get_array("ids").unwrap().into_iter().flatten();
        assert_eq!(items.count_of(list), 2);
    }

    #[test]
    fn decimals_compare_by_value() {
        assert!(is_cents(decimal128(471_105, -2), 471_105));
        assert!(is_cents(decimal128(4_711_050, -3), 471_105));
        assert!(is_cents(decimal128(5, 0), 500));
        assert!(!is_cents(decimal128(471_106, -2), 471_105));
        assert!(!is_cents(decimal128(-5, -2), 5));
    }

    #[test]
    fn the_tally_counts_right_wrong_and_repeated_replacements() {
        let items = items();
        let log = Replacements::default();
        assert!(!log.recording());
        log.set_recording(true);
        let good = replaced(&items, 4, decimal128(price_cents(4), -2));
        let again = replaced(&items, 4, decimal128(price_cents(4) * 10, -3));
        let bad = replaced(&items, 5, decimal128(price_cents(5) + 1, -2));
        let unset = rawdoc! { "q": { "_marker": "x" }, "u": { "$unset": { "_marker": "" } } };
        log.record(&items, &[&good, &again, &bad, &unset]);
        let tally = log.set_recording(false);
        assert_eq!(
            (
                tally.statements,
                tally.replaced,
                tally.repeated,
                tally.wrong
            ),
            (3, 1, 1, 1)
        );
        let expected = format!(
            "item 5: price written as Decimal128({}E-2)",
            price_cents(5) + 1
        );
        assert!(tally.problem.unwrap().starts_with(&expected));
    }
}

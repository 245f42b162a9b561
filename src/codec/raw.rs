//! A lean walk over a BSON document's bytes, for building planned models.
//!
//! The bson crate's raw iterator checks each key as UTF-8, then re-reads every value through
//! several layers: about a quarter of the instructions spent building a model from a document.
//! A plan compares keys byte for byte with its field names (valid UTF-8 themselves), so this
//! walk only frames elements: type byte, key up to its NUL, value by its type's length rule,
//! every length checked against the bytes that are there. Values the plan reads become the
//! bson crate's `RawBsonRef` (strings checked as UTF-8 then), so they are decoded by the one
//! `decode_value`. Anything unexpected (a truncated or inconsistent element, an unknown type,
//! a boolean byte other than 0 or 1) is `Malformed`: the caller then decodes the document
//! through the bson crate, which reports the fault precisely.

use bson::oid::ObjectId;
use bson::raw::RawBsonRef;
use bson::spec::BinarySubtype;
use bson::{Decimal128, RawBinaryRef};

pub const DOCUMENT: u8 = 0x03;
pub const ARRAY: u8 = 0x04;
pub const NULL: u8 = 0x0A;

/// The bytes do not frame a BSON document as expected.
#[derive(Debug, PartialEq, Eq)]
pub struct Malformed;

/// One element: its type byte, its key's bytes, its value's bytes (for a document or array, the
/// embedded document whole, length prefix and final NUL included).
#[derive(Debug)]
pub struct Element<'a> {
    pub kind: u8,
    pub key: &'a [u8],
    pub value: &'a [u8],
}

/// The elements of one document, in order.
pub struct Elements<'a> {
    /// The elements' bytes: the document without its length prefix and final NUL.
    body: &'a [u8],
    pos: usize,
}

fn length_at(bytes: &[u8], at: usize) -> Result<usize, Malformed> {
    let raw = bytes.get(at..at + 4).ok_or(Malformed)?;
    let n = i32::from_le_bytes(raw.try_into().map_err(|_| Malformed)?);
    usize::try_from(n).map_err(|_| Malformed)
}

fn cstring_len(bytes: &[u8]) -> Result<usize, Malformed> {
    bytes.iter().position(|&b| b == 0).ok_or(Malformed)
}

/// A length-prefixed string's size (prefix, bytes, final NUL), checked as the bson crate checks
/// it when it frames an element: at least the NUL, and the NUL there. The walk must refuse at
/// least what the crate's framing refuses, or a document could be built by a plan while the
/// ordinary decoder, which frames every element, refuses it.
fn string_len(rest: &[u8]) -> Result<usize, Malformed> {
    let n = length_at(rest, 0)?;
    if n == 0 || rest.get(4 + n - 1) != Some(&0) {
        return Err(Malformed);
    }
    Ok(4 + n)
}

/// How many bytes the value of type `kind` takes at the start of `rest`.
fn value_len(kind: u8, rest: &[u8]) -> Result<usize, Malformed> {
    Ok(match kind {
        0x01 | 0x09 | 0x11 | 0x12 => 8, // double, datetime, timestamp, int64
        0x10 => 4,                      // int32
        0x13 => 16,                     // decimal128
        0x07 => 12,                     // ObjectId
        0x08 => 1,                      // boolean
        0x06 | 0x0A | 0x7F | 0xFF => 0, // undefined, null, max key, min key
        0x02 | 0x0D | 0x0E => string_len(rest)?, // string, JavaScript code, symbol
        DOCUMENT | ARRAY => {
            // the length counts itself; an empty document is 5 bytes, the last one NUL
            let n = length_at(rest, 0)?;
            if n < 5 || rest.get(n - 1) != Some(&0) {
                return Err(Malformed);
            }
            n
        }
        0x0F => {
            // code with scope: total length, then a string and a document that fill it exactly
            // (as the bson crate checks when it reads one)
            let n = length_at(rest, 0)?;
            let inner = rest.get(4..n).ok_or(Malformed)?;
            if n < 14 {
                return Err(Malformed);
            }
            let scope = inner.get(string_len(inner)?..).ok_or(Malformed)?;
            if scope.len() < 5 || length_at(scope, 0)? != scope.len() || scope.last() != Some(&0) {
                return Err(Malformed);
            }
            n
        }
        0x05 => {
            // binary: length, subtype, bytes; the old subtype 2 repeats the length inside, and
            // the bson crate refuses it unless the two agree (so must the walk)
            let n = length_at(rest, 0)?;
            if rest.get(4) == Some(&0x02)
                && (n < 4 || length_at(rest, 5)?.checked_add(4) != Some(n))
            {
                return Err(Malformed);
            }
            5 + n
        }
        0x0B => {
            // regular expression: pattern and options, two C strings
            let pattern = cstring_len(rest)? + 1;
            pattern + cstring_len(rest.get(pattern..).ok_or(Malformed)?)? + 1
        }
        0x0C => string_len(rest)? + 12, // DBPointer: string, ObjectId
        _ => return Err(Malformed),
    })
}

impl<'a> Elements<'a> {
    /// The elements of `doc`: a whole document, length prefix and final NUL included.
    pub fn of(doc: &'a [u8]) -> Result<Self, Malformed> {
        if length_at(doc, 0)? != doc.len() || doc.len() < 5 || doc[doc.len() - 1] != 0 {
            return Err(Malformed);
        }
        Ok(Elements {
            body: &doc[4..doc.len() - 1],
            pos: 0,
        })
    }
}

/// The elements in order; after a `Malformed` the walk stops.
impl<'a> Iterator for Elements<'a> {
    type Item = Result<Element<'a>, Malformed>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.element_at(self.pos) {
            Ok(None) => None,
            Ok(Some((element, end))) => {
                self.pos = end;
                Some(Ok(element))
            }
            Err(Malformed) => {
                self.pos = self.body.len();
                Some(Err(Malformed))
            }
        }
    }
}

impl<'a> Elements<'a> {
    /// The element starting at `pos` and where the next one starts; `None` at the end.
    fn element_at(&self, pos: usize) -> Result<Option<(Element<'a>, usize)>, Malformed> {
        let Some((&kind, rest)) = self.body.get(pos..).and_then(<[u8]>::split_first) else {
            return Ok(None);
        };
        let key_len = cstring_len(rest)?;
        let start = pos + 1 + key_len + 1;
        let len = value_len(kind, self.body.get(start..).ok_or(Malformed)?)?;
        let end = start.checked_add(len).ok_or(Malformed)?;
        let value = self.body.get(start..end).ok_or(Malformed)?;
        let key = &rest[..key_len];
        Ok(Some((Element { kind, key, value }, end)))
    }
}

fn array<const N: usize>(bytes: &[u8]) -> Result<[u8; N], Malformed> {
    bytes.try_into().map_err(|_| Malformed)
}

impl<'a> Element<'a> {
    /// The value as the bson crate's reference type, for the types a plan can hold (strings,
    /// numbers, booleans, datetimes, ObjectIds, Decimal128s, binaries, null); `Ok(None)` for
    /// the others.
    pub fn scalar(&self) -> Result<Option<RawBsonRef<'a>>, Malformed> {
        let v = self.value;
        Ok(Some(match self.kind {
            0x01 => RawBsonRef::Double(f64::from_le_bytes(array(v)?)),
            0x02 => {
                let (&nul, text) = v[4..].split_last().ok_or(Malformed)?;
                if nul != 0 {
                    return Err(Malformed);
                }
                RawBsonRef::String(std::str::from_utf8(text).map_err(|_| Malformed)?)
            }
            0x05 => RawBsonRef::Binary(RawBinaryRef {
                subtype: BinarySubtype::from(v[4]),
                // the old subtype's bytes follow its inner length (checked when framed)
                bytes: if v[4] == 0x02 { &v[9..] } else { &v[5..] },
            }),
            0x07 => RawBsonRef::ObjectId(ObjectId::from_bytes(array(v)?)),
            0x08 => match v[0] {
                0 => RawBsonRef::Boolean(false),
                1 => RawBsonRef::Boolean(true),
                _ => return Err(Malformed),
            },
            0x09 => {
                RawBsonRef::DateTime(bson::DateTime::from_millis(i64::from_le_bytes(array(v)?)))
            }
            NULL => RawBsonRef::Null,
            0x10 => RawBsonRef::Int32(i32::from_le_bytes(array(v)?)),
            0x12 => RawBsonRef::Int64(i64::from_le_bytes(array(v)?)),
            0x13 => RawBsonRef::Decimal128(Decimal128::from_bytes(array(v)?)),
            _ => return Ok(None),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::{doc, RawDocumentBuf};

    fn sample() -> RawDocumentBuf {
        RawDocumentBuf::from_document(&doc! {
            "s": "héllo", "i": 7, "l": 1_i64 << 40, "f": 1.5, "b": true, "n": null,
            "d": {"x": 1}, "a": [1, "two"], "re": bson::Regex { pattern: "a.c".into(), options: "i".into() },
            "bin": bson::Binary { subtype: BinarySubtype::Generic, bytes: vec![1, 2] },
            "ts": bson::Timestamp { time: 1, increment: 2 },
        })
        .unwrap()
    }

    fn walk(bytes: &[u8]) -> Result<Vec<(Vec<u8>, u8)>, Malformed> {
        let mut out = Vec::new();
        for e in Elements::of(bytes)? {
            let e = e?;
            e.scalar()?;
            out.push((e.key.to_vec(), e.kind));
        }
        Ok(out)
    }

    #[test]
    fn agrees_with_the_bson_crate() {
        let raw = sample();
        let expected: Vec<(Vec<u8>, u8)> = raw
            .iter()
            .map(|e| {
                let (k, v) = e.unwrap();
                (k.as_bytes().to_vec(), v.element_type() as u8)
            })
            .collect();
        assert_eq!(walk(raw.as_bytes()).unwrap(), expected);
        let first = Elements::of(raw.as_bytes())
            .unwrap()
            .next()
            .unwrap()
            .unwrap();
        assert_eq!(first.scalar().unwrap(), Some(RawBsonRef::String("héllo")));
    }

    #[test]
    fn every_truncation_and_corruption_is_malformed_or_consistent() {
        let raw = sample();
        let bytes = raw.as_bytes();
        for cut in 0..bytes.len() {
            let mut short = bytes[..cut].to_vec();
            // keep the header consistent with the shorter length, so the walk goes inside
            if cut >= 5 {
                short[..4].copy_from_slice(&(cut as i32).to_le_bytes());
                short[cut - 1] = 0;
            }
            let _ = walk(&short); // must not panic
        }
        for at in 4..bytes.len() - 1 {
            for byte in [0x00, 0x01, 0x7F, 0xFF] {
                let mut bad = bytes.to_vec();
                bad[at] = byte;
                let _ = walk(&bad); // must not panic
            }
        }
        assert_eq!(walk(&[5, 0, 0, 0, 0]).unwrap(), vec![]);
        assert_eq!(walk(&[6, 0, 0, 0, 0]).unwrap_err(), Malformed);
    }

    /// A small deterministic generator (xorshift64*), so the fuzz test needs no crate.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n.max(1) as u64) as usize
        }
    }

    /// The (key, kind) pairs of a document and of every document or array in it, as the walk
    /// frames them; Err if any element is Malformed.
    fn walk_deep(bytes: &[u8], depth: u32) -> Result<Vec<(Vec<u8>, u8)>, Malformed> {
        if depth > 100 {
            return Err(Malformed);
        }
        let mut out = Vec::new();
        for e in Elements::of(bytes)? {
            let e = e?;
            e.scalar()?;
            out.push((e.key.to_vec(), e.kind));
            if e.kind == DOCUMENT || e.kind == ARRAY {
                out.extend(walk_deep(e.value, depth + 1)?);
            }
        }
        Ok(out)
    }

    /// The same pairs as the bson crate frames them.
    fn crate_deep(doc: &bson::RawDocument) -> Result<Vec<(Vec<u8>, u8)>, bson::raw::Error> {
        let mut out = Vec::new();
        for element in doc {
            let (key, value) = element?;
            out.push((key.as_bytes().to_vec(), value.element_type() as u8));
            match value {
                RawBsonRef::Document(inner) => out.extend(crate_deep(inner)?),
                RawBsonRef::Array(inner) => {
                    out.extend(crate_deep(bson::RawDocument::from_bytes(
                        inner.as_bytes(),
                    )?)?);
                }
                _ => {}
            }
        }
        Ok(out)
    }

    #[test]
    fn fuzzed_documents_never_panic_and_agree_with_the_bson_crate_when_framed() {
        // 200 000 mutants of three seeds in about a second (VELLUM_FUZZ_ROUNDS=20000000 cargo
        // test fuzzed fuzzes longer). Whatever the walk frames, the crate frames the same way.
        let rounds: usize = std::env::var("VELLUM_FUZZ_ROUNDS")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(200_000);
        let seeds = [
            sample(),
            RawDocumentBuf::from_document(&doc! {
                "a": [[1, [2.5, {"b": "c"}]], {"d": null}], "e": {"f": {"g": {"h": [true]}}},
                "o": bson::oid::ObjectId::from_bytes([7; 12]), "dt": bson::DateTime::from_millis(-5),
            })
            .unwrap(),
            RawDocumentBuf::from_document(&doc! {
                "dec": bson::Decimal128::from_bytes([1; 16]), "code": bson::Bson::JavaScriptCode("x".into()),
                "max": bson::Bson::MaxKey, "min": bson::Bson::MinKey, "u": bson::Bson::Undefined,
            })
            .unwrap(),
        ];
        let interesting = [0x00, 0x01, 0x02, 0x03, 0x04, 0x7F, 0x80, 0xFE, 0xFF];
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        let mut framed = 0;
        for round in 0..rounds {
            let mut bytes = seeds[round % seeds.len()].as_bytes().to_vec();
            for _ in 0..=rng.below(3) {
                let at = rng.below(bytes.len());
                match rng.below(5) {
                    0 => bytes[at] ^= 1 << rng.below(8),
                    1 => bytes[at] = interesting[rng.below(interesting.len())],
                    2 => {
                        let end = (at + 1 + rng.below(8)).min(bytes.len());
                        bytes.drain(at..end);
                    }
                    3 => {
                        let end = (at + 1 + rng.below(8)).min(bytes.len());
                        let copy = bytes[at..end].to_vec();
                        bytes.splice(at..at, copy);
                    }
                    _ => {
                        // A header that agrees with the mutated length, so the walk goes in.
                        let n = i32::try_from(bytes.len()).unwrap().to_le_bytes();
                        let k = bytes.len().min(4);
                        bytes[..k].copy_from_slice(&n[..k]);
                    }
                }
                if bytes.is_empty() {
                    bytes.push(0);
                }
            }
            let Ok(walked) = walk_deep(&bytes, 0) else {
                continue; // refused: fine, the caller then asks the crate
            };
            if walked
                .iter()
                .any(|(key, _)| std::str::from_utf8(key).is_err())
            {
                continue; // the walk compares keys as bytes; the crate checks them as UTF-8
            }
            let by_crate = bson::RawDocument::from_bytes(&bytes).and_then(crate_deep);
            match by_crate {
                Ok(by_crate) => assert_eq!(walked, by_crate, "round {round}: {bytes:?}"),
                // Known and accepted: the walk frames strings it does not read (regexes,
                // code, unplanned fields) without checking their UTF-8, which the crate
                // checks while iterating. Stored documents are valid UTF-8 (the server
                // checks); only corrupted bytes differ, and only in fields a plan skips.
                Err(e) if matches!(e.kind, bson::raw::ErrorKind::Utf8EncodingError(_)) => {}
                Err(e) => panic!("round {round}: walk framed, crate refused: {e}: {bytes:?}"),
            }
            framed += 1;
        }
        assert!(
            framed > rounds / 20,
            "too few mutants framed ({framed}) to compare anything"
        );
    }
}

//! A minimal BSON writer appending straight into a byte buffer.
//!
//! Replies are built by hand so that the canned documents, encoded once at startup, are copied
//! into a reply with one `extend_from_slice` each: no value is ever re-encoded per request.

/// Element type bytes of the BSON specification.
pub mod kind {
    pub const DOUBLE: u8 = 0x01;
    pub const STRING: u8 = 0x02;
    pub const DOCUMENT: u8 = 0x03;
    pub const ARRAY: u8 = 0x04;
    pub const BINARY: u8 = 0x05;
    pub const BOOL: u8 = 0x08;
    pub const DATETIME: u8 = 0x09;
    pub const NULL: u8 = 0x0A;
    pub const INT32: u8 = 0x10;
    pub const INT64: u8 = 0x12;
    pub const DECIMAL128: u8 = 0x13;
}

/// Binary subtype of a UUID in the standard representation.
pub const UUID_SUBTYPE: u8 = 0x04;

/// Appends BSON documents and elements to a `Vec<u8>`.
///
/// `doc_start` returns the offset to hand back to `doc_end`, which writes the terminating
/// zero and patches the length prefix; sub-documents and arrays nest the same way.
pub trait BsonBuf {
    fn doc_start(&mut self) -> usize;
    fn doc_end(&mut self, start: usize);
    fn key(&mut self, kind: u8, key: &str);
    fn sub_start(&mut self, kind: u8, key: &str) -> usize;
    fn put_f64(&mut self, key: &str, value: f64);
    fn put_str(&mut self, key: &str, value: &str);
    fn put_bool(&mut self, key: &str, value: bool);
    fn put_i32(&mut self, key: &str, value: i32);
    fn put_i64(&mut self, key: &str, value: i64);
    fn put_datetime(&mut self, key: &str, millis: i64);
    fn put_binary(&mut self, key: &str, subtype: u8, data: &[u8]);
    fn put_decimal128(&mut self, key: &str, bytes: [u8; 16]);
    /// An embedded document whose complete encoding (length prefix included) is `encoded`.
    fn put_encoded_doc(&mut self, key: &str, encoded: &[u8]);
}

impl BsonBuf for Vec<u8> {
    fn doc_start(&mut self) -> usize {
        let start = self.len();
        self.extend_from_slice(&[0; 4]);
        start
    }

    fn doc_end(&mut self, start: usize) {
        self.push(0);
        let length = i32::try_from(self.len() - start).expect("BSON document over 2 GiB");
        self[start..start + 4].copy_from_slice(&length.to_le_bytes());
    }

    fn key(&mut self, kind: u8, key: &str) {
        self.push(kind);
        self.extend_from_slice(key.as_bytes());
        self.push(0);
    }

    fn sub_start(&mut self, kind: u8, key: &str) -> usize {
        self.key(kind, key);
        self.doc_start()
    }

    fn put_f64(&mut self, key: &str, value: f64) {
        self.key(kind::DOUBLE, key);
        self.extend_from_slice(&value.to_le_bytes());
    }

    fn put_str(&mut self, key: &str, value: &str) {
        self.key(kind::STRING, key);
        let length = i32::try_from(value.len() + 1).expect("string over 2 GiB");
        self.extend_from_slice(&length.to_le_bytes());
        self.extend_from_slice(value.as_bytes());
        self.push(0);
    }

    fn put_bool(&mut self, key: &str, value: bool) {
        self.key(kind::BOOL, key);
        self.push(u8::from(value));
    }

    fn put_i32(&mut self, key: &str, value: i32) {
        self.key(kind::INT32, key);
        self.extend_from_slice(&value.to_le_bytes());
    }

    fn put_i64(&mut self, key: &str, value: i64) {
        self.key(kind::INT64, key);
        self.extend_from_slice(&value.to_le_bytes());
    }

    fn put_datetime(&mut self, key: &str, millis: i64) {
        self.key(kind::DATETIME, key);
        self.extend_from_slice(&millis.to_le_bytes());
    }

    fn put_binary(&mut self, key: &str, subtype: u8, data: &[u8]) {
        self.key(kind::BINARY, key);
        let length = i32::try_from(data.len()).expect("binary over 2 GiB");
        self.extend_from_slice(&length.to_le_bytes());
        self.push(subtype);
        self.extend_from_slice(data);
    }

    fn put_decimal128(&mut self, key: &str, bytes: [u8; 16]) {
        self.key(kind::DECIMAL128, key);
        self.extend_from_slice(&bytes);
    }

    fn put_encoded_doc(&mut self, key: &str, encoded: &[u8]) {
        self.key(kind::DOCUMENT, key);
        self.extend_from_slice(encoded);
    }
}

/// A decimal number `coefficient * 10^exponent` in the IEEE 754-2008 BID encoding BSON's
/// Decimal128 uses (little-endian: the low 64 bits of the coefficient first).
pub fn decimal128(coefficient: i64, exponent: i16) -> [u8; 16] {
    const EXPONENT_BIAS: i64 = 6176;
    let biased = u64::try_from(i64::from(exponent) + EXPONENT_BIAS).expect("exponent in range");
    let mut high = biased << 49;
    if coefficient < 0 {
        high |= 1 << 63;
    }
    let mut bytes = [0; 16];
    bytes[..8].copy_from_slice(&coefficient.unsigned_abs().to_le_bytes());
    bytes[8..].copy_from_slice(&high.to_le_bytes());
    bytes
}

/// Writes `index` as the decimal key of an array element, without allocating.
pub fn put_index_key(buf: &mut Vec<u8>, kind: u8, index: usize) {
    buf.push(kind);
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    let mut rest = index;
    loop {
        at -= 1;
        digits[at] = b'0' + u8::try_from(rest % 10).expect("a digit");
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    buf.extend_from_slice(&digits[at..]);
    buf.push(0);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_a_document_the_bson_crate_reads() {
        let mut buf = Vec::new();
        let start = buf.doc_start();
        buf.put_i32("a", 1);
        buf.put_str("s", "hé");
        buf.put_decimal128("d", decimal128(-12345, -2));
        let array = buf.sub_start(kind::ARRAY, "list");
        put_index_key(&mut buf, kind::BOOL, 0);
        buf.push(1);
        buf.doc_end(array);
        buf.doc_end(start);
        let doc = bson::Document::from_reader(buf.as_slice()).unwrap();
        assert_eq!(doc.get_i32("a").unwrap(), 1);
        assert_eq!(doc.get_str("s").unwrap(), "hé");
        let decimal = doc.get("d").unwrap().to_string();
        assert_eq!(decimal, "-123.45");
        assert_eq!(doc.get_array("list").unwrap()[0], bson::Bson::Boolean(true));
    }
}

//! Small fixed-shape replies: `{ok: 1}`, write acknowledgements and errors.

use crate::bsonw::BsonBuf;

/// `{ok: 1.0}`, encoded once.
const OK: [u8; 17] = [
    17, 0, 0, 0, // length
    0x01, b'o', b'k', 0, // double "ok"
    0, 0, 0, 0, 0, 0, 0xF0, 0x3F, // 1.0
    0,
];

pub fn put_ok(out: &mut Vec<u8>) {
    out.extend_from_slice(&OK);
}

/// `{n: <n>, ok: 1}` for insert and delete; update adds `nModified`.
pub fn put_write_ack(out: &mut Vec<u8>, n: usize, modified: Option<usize>) {
    let n = i32::try_from(n).unwrap_or(i32::MAX);
    let reply = out.doc_start();
    out.put_i32("n", n);
    if let Some(modified) = modified {
        out.put_i32("nModified", i32::try_from(modified).unwrap_or(i32::MAX));
    }
    out.put_f64("ok", 1.0);
    out.doc_end(reply);
}

/// `{ok: 0, errmsg, code, codeName}`: a command error as MongoDB reports one.
pub fn put_error(out: &mut Vec<u8>, code: i32, code_name: &str, message: &str) {
    let reply = out.doc_start();
    out.put_f64("ok", 0.0);
    out.put_str("errmsg", message);
    out.put_i32("code", code);
    out.put_str("codeName", code_name);
    out.doc_end(reply);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_encoded_ok_is_ok_one() {
        let doc = bson::Document::from_reader(OK.as_slice()).unwrap();
        assert_eq!(doc.get_f64("ok").unwrap(), 1.0);
    }
}

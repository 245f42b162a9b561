//! MongoDB wire protocol framing: message headers, OP_MSG and legacy OP_QUERY requests, and
//! OP_MSG / OP_REPLY replies.

use bson::RawDocument;

pub const OP_REPLY: i32 = 1;
pub const OP_QUERY: i32 = 2004;
pub const OP_MSG: i32 = 2013;
pub const HEADER_LEN: usize = 16;

/// OP_MSG flag bits.
const CHECKSUM_PRESENT: u32 = 1;
const MORE_TO_COME: u32 = 1 << 1;

#[derive(Clone, Copy, Debug)]
pub struct Header {
    pub length: i32,
    pub request_id: i32,
    pub op_code: i32,
}

impl Header {
    pub fn parse(bytes: &[u8; HEADER_LEN]) -> Header {
        let field = |at: usize| i32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"));
        Header {
            length: field(0),
            request_id: field(4),
            op_code: field(12),
        }
    }
}

/// One kind-1 section: a named sequence of documents (`documents` of an insert...).
pub struct Sequence<'a> {
    pub identifier: &'a str,
    pub count: usize,
    /// The documents, one after another.
    pub bytes: &'a [u8],
}

/// A parsed OP_MSG: the command body and the document sequences sent beside it.
pub struct OpMsg<'a> {
    pub body: &'a RawDocument,
    pub sequences: Vec<Sequence<'a>>,
    /// The client expects no reply (an unacknowledged write).
    pub more_to_come: bool,
}

impl OpMsg<'_> {
    /// How many documents the command carries under `field`: a kind-1 sequence, or an array
    /// in the body.
    pub fn count_of(&self, field: &str) -> usize {
        if let Some(sequence) = self.sequences.iter().find(|s| s.identifier == field) {
            return sequence.count;
        }
        match self.body.get_array(field) {
            Ok(array) => array.into_iter().count(),
            Err(_) => 0,
        }
    }

    /// The first document the command carries under `field`, without reading the others.
    pub fn first_document_of(&self, field: &str) -> Option<&RawDocument> {
        if let Some(sequence) = self.sequences.iter().find(|s| s.identifier == field) {
            return read_document(sequence.bytes, 0)
                .ok()
                .map(|(document, _)| document);
        }
        let first = self.body.get_array(field).ok()?.into_iter().next()?;
        first.ok()?.as_document()
    }

    /// The documents the command carries under `field` (a kind-1 sequence, or an array in the
    /// body), in order.
    pub fn documents_of(&self, field: &str) -> Vec<&RawDocument> {
        if let Some(sequence) = self.sequences.iter().find(|s| s.identifier == field) {
            let mut documents = Vec::with_capacity(sequence.count);
            let mut at = 0;
            while at < sequence.bytes.len() {
                // Each was read once when the message was parsed.
                let Ok((document, next)) = read_document(sequence.bytes, at) else {
                    break;
                };
                documents.push(document);
                at = next;
            }
            return documents;
        }
        match self.body.get_array(field) {
            Ok(array) => array
                .into_iter()
                .flatten()
                .filter_map(|value| value.as_document())
                .collect(),
            Err(_) => Vec::new(),
        }
    }
}

pub type ParseResult<T> = Result<T, String>;

fn read_i32(bytes: &[u8], at: usize) -> ParseResult<i32> {
    bytes
        .get(at..at + 4)
        .map(|b| i32::from_le_bytes(b.try_into().expect("4 bytes")))
        .ok_or_else(|| format!("truncated message at byte {at}"))
}

fn read_cstring(bytes: &[u8], at: usize) -> ParseResult<(&str, usize)> {
    let tail = bytes.get(at..).ok_or("truncated C string")?;
    let end = tail
        .iter()
        .position(|&b| b == 0)
        .ok_or("unterminated C string")?;
    let text = std::str::from_utf8(&tail[..end]).map_err(|e| e.to_string())?;
    Ok((text, at + end + 1))
}

fn read_document(bytes: &[u8], at: usize) -> ParseResult<(&RawDocument, usize)> {
    let length = usize::try_from(read_i32(bytes, at)?).map_err(|e| e.to_string())?;
    let slice = bytes
        .get(at..at + length)
        .ok_or_else(|| format!("document of {length} bytes overruns the message"))?;
    let document = RawDocument::from_bytes(slice).map_err(|e| e.to_string())?;
    Ok((document, at + length))
}

/// Parses the part of an OP_MSG after its header.
pub fn parse_op_msg(message: &[u8]) -> ParseResult<OpMsg<'_>> {
    let flags = u32::from_le_bytes(read_i32(message, 0)?.to_le_bytes());
    let end = if flags & CHECKSUM_PRESENT != 0 {
        message.len().checked_sub(4).ok_or("checksum missing")?
    } else {
        message.len()
    };
    let sections = &message[..end];
    let mut at = 4;
    let mut body = None;
    let mut sequences = Vec::new();
    while at < sections.len() {
        let kind = sections[at];
        at += 1;
        match kind {
            0 => {
                let (document, next) = read_document(sections, at)?;
                body = Some(document);
                at = next;
            }
            1 => {
                let size = usize::try_from(read_i32(sections, at)?).map_err(|e| e.to_string())?;
                let section_end = at + size;
                let (identifier, first) = read_cstring(sections, at + 4)?;
                let bytes = sections
                    .get(first..section_end)
                    .ok_or("document sequence overruns the message")?;
                let (mut next, mut count) = (0, 0);
                while next < bytes.len() {
                    next = read_document(bytes, next)?.1;
                    count += 1;
                }
                sequences.push(Sequence {
                    identifier,
                    count,
                    bytes,
                });
                at = section_end;
            }
            other => return Err(format!("unknown OP_MSG section kind {other}")),
        }
    }
    Ok(OpMsg {
        body: body.ok_or("OP_MSG without a body section")?,
        sequences,
        more_to_come: flags & MORE_TO_COME != 0,
    })
}

/// Parses the part of an OP_QUERY after its header: the namespace and the query document.
pub fn parse_op_query(message: &[u8]) -> ParseResult<(&str, &RawDocument)> {
    let (namespace, at) = read_cstring(message, 4)?;
    // numberToSkip and numberToReturn follow the namespace.
    let (query, _) = read_document(message, at + 8)?;
    Ok((namespace, query))
}

/// Where a reply's header starts, for `end_reply` to patch its length.
pub struct ReplyStart(usize);

fn put_header(out: &mut Vec<u8>, request_id: i32, response_to: i32, op_code: i32) -> ReplyStart {
    let start = out.len();
    out.extend_from_slice(&0i32.to_le_bytes());
    out.extend_from_slice(&request_id.to_le_bytes());
    out.extend_from_slice(&response_to.to_le_bytes());
    out.extend_from_slice(&op_code.to_le_bytes());
    ReplyStart(start)
}

/// Starts an OP_MSG reply; the body document is appended next, then `end_reply`.
pub fn start_op_msg(out: &mut Vec<u8>, request_id: i32, response_to: i32) -> ReplyStart {
    let start = put_header(out, request_id, response_to, OP_MSG);
    out.extend_from_slice(&0u32.to_le_bytes()); // flag bits
    out.push(0); // section kind 0: the body
    start
}

/// Starts an OP_REPLY carrying one document, appended next, then `end_reply`.
pub fn start_op_reply(out: &mut Vec<u8>, request_id: i32, response_to: i32) -> ReplyStart {
    let start = put_header(out, request_id, response_to, OP_REPLY);
    out.extend_from_slice(&0i32.to_le_bytes()); // responseFlags
    out.extend_from_slice(&0i64.to_le_bytes()); // cursorID
    out.extend_from_slice(&0i32.to_le_bytes()); // startingFrom
    out.extend_from_slice(&1i32.to_le_bytes()); // numberReturned
    start
}

pub fn end_reply(out: &mut [u8], start: ReplyStart) {
    let length = i32::try_from(out.len() - start.0).expect("reply over 2 GiB");
    out[start.0..start.0 + 4].copy_from_slice(&length.to_le_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bsonw::BsonBuf;

    fn insert_message() -> Vec<u8> {
        let mut message = 0u32.to_le_bytes().to_vec();
        message.push(0);
        let body = message.doc_start();
        message.put_str("insert", "users");
        message.put_str("$db", "bench");
        message.doc_end(body);
        message.push(1);
        let size_at = message.len();
        message.extend_from_slice(&[0; 4]);
        message.extend_from_slice(b"documents\0");
        for i in 0..3 {
            let doc = message.doc_start();
            message.put_i32("i", i);
            message.doc_end(doc);
        }
        let size = i32::try_from(message.len() - size_at).unwrap();
        message[size_at..size_at + 4].copy_from_slice(&size.to_le_bytes());
        message
    }

    #[test]
    fn parses_body_and_document_sequence() {
        let message = insert_message();
        let parsed = parse_op_msg(&message).unwrap();
        assert_eq!(parsed.body.get_str("insert").unwrap(), "users");
        assert_eq!(parsed.count_of("documents"), 3);
        let documents = parsed.documents_of("documents");
        let values: Vec<i32> = documents.iter().map(|d| d.get_i32("i").unwrap()).collect();
        assert_eq!(values, [0, 1, 2]);
        assert!(!parsed.more_to_come);
    }
}

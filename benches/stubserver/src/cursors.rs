//! Server cursors over the canned documents, and the `{cursor: {...}, ok: 1}` replies.
//!
//! A cursor is only a position in one of the canned lists, so any connection of the pool may
//! send its getMore.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Mutex;

use crate::bsonw::{kind, put_index_key, BsonBuf};
use crate::data::Canned;

/// MongoDB's first batch when the request sets no batchSize.
pub const DEFAULT_FIRST_BATCH: usize = 101;
/// A getMore without batchSize returns as many documents as fit in this many bytes.
const MAX_BATCH_BYTES: usize = 16 * 1024 * 1024;

/// Which canned list a cursor walks.
#[derive(Clone, Copy)]
pub enum Source {
    Users,
    Groups,
}

impl Source {
    pub fn documents(self, canned: &Canned) -> &[Vec<u8>] {
        match self {
            Source::Users => &canned.users,
            Source::Groups => &canned.groups,
        }
    }
}

struct OpenCursor {
    source: Source,
    next: usize,
    end: usize,
    namespace: String,
}

/// What a getMore hands back: the documents to send and the cursor id to report (0 once the
/// cursor is exhausted).
pub struct NextBatch {
    pub source: Source,
    pub start: usize,
    pub end: usize,
    pub id: i64,
    pub namespace: String,
}

#[derive(Default)]
pub struct Cursors {
    open: Mutex<HashMap<i64, OpenCursor>>,
    last_id: AtomicI64,
}

impl Cursors {
    /// Registers the rest of a result (`next..end` of `source`) and returns its cursor id.
    pub fn open(&self, source: Source, next: usize, end: usize, namespace: String) -> i64 {
        let id = self.last_id.fetch_add(1, Ordering::Relaxed) + 1;
        let cursor = OpenCursor {
            source,
            next,
            end,
            namespace,
        };
        self.open.lock().expect("cursor table").insert(id, cursor);
        id
    }

    /// The next batch of cursor `id`, or None for an unknown (or exhausted) cursor.
    pub fn next_batch(
        &self,
        id: i64,
        batch_size: Option<usize>,
        canned: &Canned,
    ) -> Option<NextBatch> {
        let mut open = self.open.lock().expect("cursor table");
        let cursor = open.get_mut(&id)?;
        let start = cursor.next;
        let end = match batch_size {
            Some(n) => start.saturating_add(n).min(cursor.end),
            None => fill_end(cursor.source.documents(canned), start, cursor.end),
        };
        cursor.next = end;
        let batch = NextBatch {
            source: cursor.source,
            start,
            end,
            id: if end >= cursor.end { 0 } else { id },
            namespace: cursor.namespace.clone(),
        };
        if batch.id == 0 {
            open.remove(&id);
        }
        Some(batch)
    }

    pub fn kill(&self, id: i64) -> bool {
        self.open
            .lock()
            .expect("cursor table")
            .remove(&id)
            .is_some()
    }
}

/// The end of the longest run from `start` whose documents fit in one 16 MiB batch (at least
/// one document).
fn fill_end(documents: &[Vec<u8>], start: usize, end: usize) -> usize {
    let mut total = 0;
    for (at, document) in documents.iter().enumerate().take(end).skip(start) {
        total += document.len();
        if total > MAX_BATCH_BYTES && at > start {
            return at;
        }
    }
    end
}

/// Writes `{cursor: {<batch_field>: [docs...], id, ns}, ok: 1.0}`.
pub fn put_cursor_reply<D: AsRef<[u8]>>(
    out: &mut Vec<u8>,
    batch_field: &str,
    documents: &[D],
    id: i64,
    namespace: &str,
) {
    let reply = out.doc_start();
    let cursor = out.sub_start(kind::DOCUMENT, "cursor");
    let batch = out.sub_start(kind::ARRAY, batch_field);
    for (index, document) in documents.iter().enumerate() {
        put_index_key(out, kind::DOCUMENT, index);
        out.extend_from_slice(document.as_ref());
    }
    out.doc_end(batch);
    out.put_i64("id", id);
    out.put_str("ns", namespace);
    out.doc_end(cursor);
    out.put_f64("ok", 1.0);
    out.doc_end(reply);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_walks_to_its_end_then_closes() {
        let cursors = Cursors::default();
        let canned = Canned::generate(250);
        let id = cursors.open(Source::Users, 101, 250, "db.c".into());
        let first = cursors.next_batch(id, Some(100), &canned).unwrap();
        assert_eq!((first.start, first.end, first.id), (101, 201, id));
        let last = cursors.next_batch(id, None, &canned).unwrap();
        assert_eq!((last.start, last.end, last.id), (201, 250, 0));
        assert!(cursors.next_batch(id, None, &canned).is_none());
    }

    #[test]
    fn an_unsized_batch_stops_at_16_mib() {
        let documents = vec![vec![0u8; 1024 * 1024]; 40];
        assert_eq!(fill_end(&documents, 0, 40), 16);
        assert_eq!(fill_end(&documents, 30, 40), 40);
    }

    #[test]
    fn replies_decode() {
        let mut out = Vec::new();
        let docs = [bson::rawdoc! { "a": 1 }.into_bytes()];
        put_cursor_reply(&mut out, "firstBatch", &docs, 7, "db.c");
        let reply = bson::Document::from_reader(out.as_slice()).unwrap();
        let cursor = reply.get_document("cursor").unwrap();
        assert_eq!(cursor.get_i64("id").unwrap(), 7);
        assert_eq!(cursor.get_array("firstBatch").unwrap().len(), 1);
    }
}

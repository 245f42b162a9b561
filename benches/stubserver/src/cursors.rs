//! Server cursors over the canned documents, and the `{cursor: {...}, ok: 1}` replies.
//!
//! A cursor is only a position in one of the canned lists (or in a list of picked positions
//! in one), so any connection of the pool may send its getMore.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use crate::bsonw::{kind, put_index_key, BsonBuf};
use crate::data::Canned;

/// MongoDB's first batch when the request sets no batchSize.
pub const DEFAULT_FIRST_BATCH: usize = 101;
/// A getMore without batchSize returns as many documents as fit in this many bytes.
const MAX_BATCH_BYTES: usize = 16 * 1024 * 1024;

/// Which canned list a cursor walks.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Source {
    Users,
    Groups,
    Authors,
    Books,
    BooksDbref,
    BooksJoined,
    Items,
    /// A collection with no documents (the migration tools' own records).
    Empty,
}

impl Source {
    pub fn documents(self, canned: &Canned) -> &[Vec<u8>] {
        match self {
            Source::Users => &canned.users,
            Source::Groups => &canned.groups,
            Source::Authors => &canned.library.authors,
            Source::Books => &canned.library.books,
            Source::BooksDbref => &canned.library.books_dbref,
            Source::BooksJoined => &canned.library.joined,
            Source::Items => &canned.items.documents,
            Source::Empty => &[],
        }
    }
}

/// The documents of a result: a whole canned list, or the documents at some of its positions
/// (what a `$in` on `_id` selects).
#[derive(Clone)]
pub enum Rows {
    All(Source),
    Picked(Source, Arc<[usize]>),
}

impl Rows {
    pub fn len(&self, canned: &Canned) -> usize {
        match self {
            Rows::All(source) => source.documents(canned).len(),
            Rows::Picked(_, positions) => positions.len(),
        }
    }

    fn document<'a>(&self, canned: &'a Canned, at: usize) -> &'a [u8] {
        match self {
            Rows::All(source) => &source.documents(canned)[at],
            Rows::Picked(source, positions) => &source.documents(canned)[positions[at]],
        }
    }

    /// Writes the cursor reply holding the documents `start..end` of these rows.
    pub fn put_reply(
        &self,
        out: &mut Vec<u8>,
        canned: &Canned,
        batch_field: &str,
        (start, end): (usize, usize),
        id: i64,
        namespace: &str,
    ) {
        match self {
            Rows::All(source) => {
                let documents = &source.documents(canned)[start..end];
                put_cursor_reply(out, batch_field, documents, id, namespace);
            }
            Rows::Picked(..) => {
                let documents: Vec<&[u8]> =
                    (start..end).map(|at| self.document(canned, at)).collect();
                put_cursor_reply(out, batch_field, &documents, id, namespace);
            }
        }
    }
}

struct OpenCursor {
    rows: Rows,
    next: usize,
    end: usize,
    namespace: String,
}

/// What a getMore hands back: the documents to send and the cursor id to report (0 once the
/// cursor is exhausted).
pub struct NextBatch {
    pub rows: Rows,
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
    /// Registers the rest of a result (`next..end` of `rows`) and returns its cursor id.
    pub fn open(&self, rows: Rows, next: usize, end: usize, namespace: String) -> i64 {
        let id = self.last_id.fetch_add(1, Ordering::Relaxed) + 1;
        let cursor = OpenCursor {
            rows,
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
            None => fill_end(
                |at| cursor.rows.document(canned, at).len(),
                start,
                cursor.end,
            ),
        };
        cursor.next = end;
        let batch = NextBatch {
            rows: cursor.rows.clone(),
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

/// The end of the longest run from `start` whose documents (of these sizes) fit in one 16 MiB
/// batch (at least one document).
fn fill_end(size_at: impl Fn(usize) -> usize, start: usize, end: usize) -> usize {
    let mut total = 0;
    for at in start..end {
        total += size_at(at);
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
        let canned = Canned::generate(250, 0, 1, 0);
        let id = cursors.open(Rows::All(Source::Users), 101, 250, "db.c".into());
        let first = cursors.next_batch(id, Some(100), &canned).unwrap();
        assert_eq!((first.start, first.end, first.id), (101, 201, id));
        let last = cursors.next_batch(id, None, &canned).unwrap();
        assert_eq!((last.start, last.end, last.id), (201, 250, 0));
        assert!(cursors.next_batch(id, None, &canned).is_none());
    }

    #[test]
    fn an_unsized_batch_stops_at_16_mib() {
        let megabyte = |_| 1024 * 1024;
        assert_eq!(fill_end(megabyte, 0, 40), 16);
        assert_eq!(fill_end(megabyte, 30, 40), 40);
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

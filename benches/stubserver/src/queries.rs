//! Reads: find, aggregate, getMore, killCursors, findAndModify, count and the index and
//! collection listings, all answered from the canned documents.
//!
//! The library collections (`authors`, `books`, `books_dbref`) answer from the canned library,
//! `items` from the canned items, the migration tools' records (`vellum_migrations`, Beanie's
//! `migrations_log`) from no documents at all; every other collection from the canned users.
//! Filters are ignored except an equality on `_id` in a users collection, which returns the
//! first canned user under the queried `_id`, and `{_id: {$in: [...]}}` on `authors`, which
//! returns the authors with those ids (in stored order, as a collection scan would). `skip` and
//! `limit` (and the `$skip`/`$limit` stages) are honoured; an aggregate of books with a
//! `$lookup` stage returns each book with its author document in place of the link. Sorts are
//! ignored: the canned lists are in `_id` order where a client asks for it (items).
//!
//! Counts (drivers' `{$group: {_id: 1, n: {$sum: 1}}}`, and `count`) answer with the size of
//! the collection's canned list, 1 after an equality on `_id`, and on `items` after
//! `{_id: {$in: [...]}}` with how many of those ids are items'. A `findAndModify` returns the
//! first canned user (under the queried `_id`) in a users collection, elsewhere `{_id: <the
//! queried _id>}`: enough for an upsert of a lock or a record, which the stub does not keep.

use bson::{RawArray, RawBsonRef, RawDocument, RawDocumentBuf};

use crate::bsonw::{kind, BsonBuf};
use crate::cursors::{put_cursor_reply, Rows, Source, DEFAULT_FIRST_BATCH};
use crate::data::Canned;
use crate::items::ITEMS;
use crate::library::{AUTHORS, BOOKS, BOOKS_DBREF};
use crate::odm;
use crate::replies::put_error;
use crate::server::Server;

const CURSOR_NOT_FOUND: i32 = 43;
/// The collections where Vellum's and Beanie's migration runners keep their records.
const MIGRATION_RECORDS: [&str; 2] = ["vellum_migrations", "migrations_log"];

/// An integer option as a count, whatever numeric type the driver sent it as.
fn as_count(value: RawBsonRef<'_>) -> Option<i64> {
    match value {
        RawBsonRef::Int32(n) => Some(i64::from(n)),
        RawBsonRef::Int64(n) => Some(n),
        #[allow(clippy::cast_possible_truncation)]
        RawBsonRef::Double(n) => Some(n as i64),
        _ => None,
    }
}

fn count_field(document: &RawDocument, key: &str) -> Option<i64> {
    document.get(key).ok().flatten().and_then(as_count)
}

fn to_usize(n: i64) -> usize {
    usize::try_from(n.max(0)).unwrap_or(usize::MAX)
}

/// `"<$db>.<collection>"`, the collection being the string value of the command's field.
fn namespace(body: &RawDocument, command: &str) -> String {
    let database = body.get_str("$db").unwrap_or("test");
    let collection = match body.get(command) {
        Ok(Some(RawBsonRef::String(name))) => name,
        _ => "$cmd.aggregate",
    };
    format!("{database}.{collection}")
}

/// The canned list a collection reads from: the users, unless it is a library collection, the
/// items or a migration tool's records.
fn source_of(body: &RawDocument, command: &str) -> Source {
    match body.get(command) {
        Ok(Some(RawBsonRef::String(AUTHORS))) => Source::Authors,
        Ok(Some(RawBsonRef::String(BOOKS))) => Source::Books,
        Ok(Some(RawBsonRef::String(BOOKS_DBREF))) => Source::BooksDbref,
        Ok(Some(RawBsonRef::String(ITEMS))) => Source::Items,
        Ok(Some(RawBsonRef::String(name))) if MIGRATION_RECORDS.contains(&name) => Source::Empty,
        _ => Source::Users,
    }
}

/// The list of `filter`'s `{_id: {$in: [...]}}`; None for any other filter.
fn ids_in(filter: &RawDocument) -> Option<&RawArray> {
    filter.get_document("_id").ok()?.get_array("$in").ok()
}

/// The positions of the authors whose UUID is in `filter`'s `{_id: {$in: [...]}}`, in stored
/// order; None for any other filter.
fn authors_in(canned: &Canned, filter: &RawDocument) -> Option<Rows> {
    let ids = ids_in(filter)?;
    let mut positions: Vec<usize> = ids
        .into_iter()
        .flatten()
        .filter_map(|id| match id {
            RawBsonRef::Binary(binary) => <[u8; 16]>::try_from(binary.bytes).ok(),
            _ => None,
        })
        .filter_map(|id| canned.library.author_at.get(&id).copied())
        .collect();
    positions.sort_unstable();
    positions.dedup();
    Some(Rows::Picked(Source::Authors, positions.into()))
}

/// The value of `{_id: v}` or `{_id: {$eq: v}}`; None for any other filter.
fn id_equality(filter: &RawDocument) -> Option<RawBsonRef<'_>> {
    let value = filter.get("_id").ok()??;
    if let RawBsonRef::Document(inner) = value {
        if let Some(Ok((operator, operand))) = inner.into_iter().next() {
            if operator == "$eq" {
                return Some(operand);
            }
            if operator.starts_with('$') {
                return None;
            }
        }
    }
    Some(value)
}

/// The first canned user with its `_id` replaced by `id`.
fn user_with_id(canned: &Canned, id: RawBsonRef<'_>) -> Vec<u8> {
    let mut element = RawDocumentBuf::new();
    element.append_ref("_id", id);
    let element = element.as_bytes();
    let mut user = Vec::with_capacity(element.len() + canned.first_user_rest.len());
    let start = user.doc_start();
    user.extend_from_slice(&element[4..element.len() - 1]);
    user.extend_from_slice(&canned.first_user_rest);
    user.doc_end(start);
    user
}

/// What a find or aggregate selected from a canned list.
struct Selection {
    rows: Rows,
    skip: usize,
    limit: Option<usize>,
}

/// The first batch of `selection` and, if more remain, a cursor for them.
fn put_first_batch(
    out: &mut Vec<u8>,
    server: &Server,
    selection: &Selection,
    namespace: String,
    batch_size: usize,
    single_batch: bool,
) {
    let total = selection.rows.len(&server.canned);
    let start = selection.skip.min(total);
    let end = selection
        .limit
        .map_or(total, |limit| start.saturating_add(limit).min(total));
    let first_end = start.saturating_add(batch_size).min(end);
    let id = if first_end < end && !single_batch {
        let rows = selection.rows.clone();
        server.cursors.open(rows, first_end, end, namespace.clone())
    } else {
        0
    };
    let batch = (start, first_end);
    let rows = &selection.rows;
    rows.put_reply(out, &server.canned, "firstBatch", batch, id, &namespace);
}

/// A single-batch cursor holding the first user under the queried `_id`.
fn put_user_reply(out: &mut Vec<u8>, server: &Server, id: RawBsonRef<'_>, namespace: &str) {
    let user = user_with_id(&server.canned, id);
    put_cursor_reply(out, "firstBatch", &[user], 0, namespace);
}

pub fn find(out: &mut Vec<u8>, server: &Server, body: &RawDocument) {
    if odm::is_odm(body, "find") {
        odm::find(out, &server.templates, body);
        return;
    }
    let namespace = namespace(body, "find");
    let source = source_of(body, "find");
    let filter = body.get_document("filter").ok();
    let mut rows = Rows::All(source);
    match source {
        Source::Users => {
            if let Some(id) = filter.and_then(id_equality) {
                put_user_reply(out, server, id, &namespace);
                return;
            }
        }
        Source::Authors => {
            if let Some(picked) = filter.and_then(|f| authors_in(&server.canned, f)) {
                rows = picked;
            }
        }
        _ => {}
    }
    let limit = count_field(body, "limit").unwrap_or(0);
    let selection = Selection {
        rows,
        skip: to_usize(count_field(body, "skip").unwrap_or(0)),
        limit: (limit != 0).then(|| to_usize(limit.abs())),
    };
    let batch_size = count_field(body, "batchSize").map_or(DEFAULT_FIRST_BATCH, to_usize);
    let single_batch = limit < 0 || matches!(body.get_bool("singleBatch"), Ok(true));
    put_first_batch(out, server, &selection, namespace, batch_size, single_batch);
}

/// `{$group: {_id: ..., n: {$sum: 1}}}`: how drivers implement count_documents.
fn is_count_group(group: &RawDocument) -> bool {
    matches!(group.get("n"), Ok(Some(RawBsonRef::Document(sum))) if sum.get("$sum").is_ok_and(|v| v.is_some()))
}

pub fn aggregate(out: &mut Vec<u8>, server: &Server, body: &RawDocument) {
    if odm::is_odm(body, "aggregate") {
        odm::aggregate(out, &server.templates, body);
        return;
    }
    let namespace = namespace(body, "aggregate");
    let mut source = source_of(body, "aggregate");
    let mut selection = Selection {
        rows: Rows::All(source),
        skip: 0,
        limit: None,
    };
    let mut by_id = None;
    let mut listed = None;
    let mut count_group = false;
    for stage in body.get_array("pipeline").into_iter().flatten().flatten() {
        let Some(stage) = stage.as_document() else {
            continue;
        };
        let Some(Ok((name, value))) = stage.into_iter().next() else {
            continue;
        };
        match (name, value) {
            ("$group", RawBsonRef::Document(group)) if is_count_group(group) => count_group = true,
            ("$group", _) => source = Source::Groups,
            ("$lookup", _) if matches!(source, Source::Books | Source::BooksDbref) => {
                source = Source::BooksJoined;
            }
            ("$match", RawBsonRef::Document(filter)) => {
                by_id = by_id.or(id_equality(filter));
                listed = listed.or(ids_in(filter));
            }
            ("$limit", value) => selection.limit = as_count(value).map(to_usize),
            ("$skip", value) => selection.skip = as_count(value).map_or(0, to_usize),
            _ => {}
        }
    }
    if count_group {
        let canned = &server.canned;
        let total = match (source, by_id, listed) {
            (Source::Empty, ..) => 0,
            (_, Some(_), _) => 1,
            (Source::Items, None, Some(ids)) => canned.items.count_of(ids.into_iter().flatten()),
            _ => source.documents(canned).len(),
        };
        // As MongoDB's $group: no group, so no document, when nothing matched.
        let documents: Vec<Vec<u8>> = (total > 0)
            .then(|| {
                let total = i64::try_from(total).unwrap_or(i64::MAX);
                bson::rawdoc! { "_id": 1, "n": total }.into_bytes()
            })
            .into_iter()
            .collect();
        put_cursor_reply(out, "firstBatch", &documents, 0, &namespace);
        return;
    }
    if let (Some(id), Source::Users) = (by_id, source) {
        put_user_reply(out, server, id, &namespace);
        return;
    }
    selection.rows = Rows::All(source);
    let batch_size = body
        .get_document("cursor")
        .ok()
        .and_then(|cursor| count_field(cursor, "batchSize"))
        .map_or(DEFAULT_FIRST_BATCH, to_usize);
    put_first_batch(out, server, &selection, namespace, batch_size, false);
}

pub fn get_more(out: &mut Vec<u8>, server: &Server, body: &RawDocument) {
    let id = count_field(body, "getMore").unwrap_or(0);
    let batch_size = count_field(body, "batchSize").map(to_usize);
    match server.cursors.next_batch(id, batch_size, &server.canned) {
        Some(batch) => batch.rows.put_reply(
            out,
            &server.canned,
            "nextBatch",
            (batch.start, batch.end),
            batch.id,
            &batch.namespace,
        ),
        None => put_error(
            out,
            CURSOR_NOT_FOUND,
            "CursorNotFound",
            &format!("cursor id {id} not found"),
        ),
    }
}

pub fn kill_cursors(out: &mut Vec<u8>, server: &Server, body: &RawDocument) {
    let mut killed = Vec::new();
    let mut not_found = Vec::new();
    for id in body.get_array("cursors").into_iter().flatten().flatten() {
        let Some(id) = as_count(id) else { continue };
        if server.cursors.kill(id) {
            killed.push(id);
        } else {
            not_found.push(id);
        }
    }
    let reply = out.doc_start();
    for (field, ids) in [("cursorsKilled", &killed), ("cursorsNotFound", &not_found)] {
        let array = out.sub_start(kind::ARRAY, field);
        for (index, id) in ids.iter().enumerate() {
            out.put_i64(&index.to_string(), *id);
        }
        out.doc_end(array);
    }
    for field in ["cursorsAlive", "cursorsUnknown"] {
        let array = out.sub_start(kind::ARRAY, field);
        out.doc_end(array);
    }
    out.put_f64("ok", 1.0);
    out.doc_end(reply);
}

/// `{lastErrorObject: {n: 1, updatedExisting: true}, value: <document>, ok: 1}`: in a users
/// collection the first canned user, under the queried `_id` when there is one; elsewhere
/// `{_id: <the queried _id>}`.
pub fn find_and_modify(out: &mut Vec<u8>, server: &Server, body: &RawDocument) {
    let id = body.get_document("query").ok().and_then(id_equality);
    let command = match body.into_iter().next() {
        Some(Ok((name, _))) => name,
        _ => "findAndModify",
    };
    if odm::is_odm(body, command) {
        odm::find_and_modify(out, &server.templates, body);
        return;
    }
    let user = match (source_of(body, command), id) {
        (Source::Users, Some(id)) => user_with_id(&server.canned, id),
        (Source::Users, None) => server.canned.users[0].clone(),
        (_, id) => {
            let mut document = RawDocumentBuf::new();
            if let Some(id) = id {
                document.append_ref("_id", id);
            }
            document.into_bytes()
        }
    };
    let reply = out.doc_start();
    let last_error = out.sub_start(kind::DOCUMENT, "lastErrorObject");
    out.put_i32("n", 1);
    out.put_bool("updatedExisting", true);
    out.doc_end(last_error);
    out.put_encoded_doc("value", &user);
    out.put_f64("ok", 1.0);
    out.doc_end(reply);
}

pub fn count(out: &mut Vec<u8>, server: &Server, body: &RawDocument) {
    let total = source_of(body, "count").documents(&server.canned).len();
    let skip = to_usize(count_field(body, "skip").unwrap_or(0));
    let mut n = total.saturating_sub(skip);
    if let Some(limit) = count_field(body, "limit").filter(|&l| l != 0) {
        n = n.min(to_usize(limit.abs()));
    }
    let reply = out.doc_start();
    out.put_i64("n", i64::try_from(n).unwrap_or(i64::MAX));
    out.put_f64("ok", 1.0);
    out.doc_end(reply);
}

/// Only the `_id_` index exists.
pub fn list_indexes(out: &mut Vec<u8>, body: &RawDocument) {
    let index = bson::rawdoc! { "v": 2, "key": { "_id": 1 }, "name": "_id_" }.into_bytes();
    put_cursor_reply(
        out,
        "firstBatch",
        &[index],
        0,
        &namespace(body, "listIndexes"),
    );
}

/// No collection is listed: the stub has no catalogue.
pub fn list_collections(out: &mut Vec<u8>, body: &RawDocument) {
    let database = body.get_str("$db").unwrap_or("test");
    let no_documents: [&[u8]; 0] = [];
    let namespace = format!("{database}.$cmd.listCollections");
    put_cursor_reply(out, "firstBatch", &no_documents, 0, &namespace);
}

#[cfg(test)]
mod tests {
    use bson::spec::BinarySubtype;
    use bson::{rawdoc, Binary, Document};

    use super::*;

    fn uuid(bytes: &[u8]) -> Binary {
        Binary {
            subtype: BinarySubtype::Uuid,
            bytes: bytes.to_vec(),
        }
    }

    fn first_batch(out: &[u8]) -> Vec<Document> {
        let reply = Document::from_reader(out).unwrap();
        let batch = reply
            .get_document("cursor")
            .unwrap()
            .get_array("firstBatch");
        let batch = batch.unwrap().iter();
        batch.map(|d| d.as_document().unwrap().clone()).collect()
    }

    #[test]
    fn in_on_authors_returns_those_authors_in_stored_order() {
        let canned = Canned::generate(1, 30, 10, 0);
        let id_at = |at: usize| {
            let author = Document::from_reader(canned.library.authors[at].as_slice()).unwrap();
            match author.get("_id") {
                Some(bson::Bson::Binary(id)) => id.clone(),
                other => panic!("a UUID _id, not {other:?}"),
            }
        };
        let (seven, two, unknown) = (id_at(7), id_at(2), uuid(&[9; 16]));
        let filter = rawdoc! { "_id": { "$in": [seven.clone(), unknown, two, seven] } };
        let Some(Rows::Picked(Source::Authors, positions)) = authors_in(&canned, &filter) else {
            panic!("a $in on _id picks authors")
        };
        assert_eq!(&*positions, [2, 7]);
        assert!(authors_in(&canned, &rawdoc! { "name": "x" }).is_none());
    }

    fn server(canned: Canned) -> Server {
        Server {
            canned,
            cursors: crate::cursors::Cursors::default(),
            address: String::new(),
            replica_set: None,
            stats: crate::server::Stats::default(),
            replacements: crate::items::Replacements::default(),
            templates: crate::odm::Templates::default(),
        }
    }

    #[test]
    fn a_lookup_on_books_returns_the_joined_books() {
        let server = server(Canned::generate(1, 5, 2, 0));
        let lookup = rawdoc! { "$lookup": { "from": "authors", "as": "_link_author" } };
        let body = rawdoc! { "aggregate": BOOKS_DBREF, "pipeline": [lookup], "$db": "db" };
        let mut out = Vec::new();
        aggregate(&mut out, &server, &body);
        let books = first_batch(&out);
        assert_eq!(books.len(), 5);
        assert!(books[0]
            .get_document("author")
            .unwrap()
            .contains_key("name"));
        let body = rawdoc! { "find": BOOKS_DBREF, "filter": {}, "$db": "db" };
        let mut out = Vec::new();
        find(&mut out, &server, &body);
        let books = first_batch(&out);
        assert!(books[0]
            .get_document("author")
            .unwrap()
            .contains_key("$ref"));
    }

    #[test]
    fn items_are_served_and_counted_and_records_are_empty() {
        let server = server(Canned::generate(1, 0, 1, 250));
        let body = rawdoc! { "find": ITEMS, "filter": { "_m": { "$ne": "x" } }, "sort": { "_id": 1 }, "$db": "db" };
        let mut out = Vec::new();
        find(&mut out, &server, &body);
        let batch = first_batch(&out);
        assert_eq!(batch.len(), DEFAULT_FIRST_BATCH);
        assert!(batch[0].get_str("price").is_ok());
        let count = |collection: &str, filter: bson::Document| {
            let pipeline = [
                bson::doc! { "$match": filter },
                bson::doc! { "$group": { "_id": 1, "n": { "$sum": 1 } } },
            ];
            let body = bson::doc! { "aggregate": collection, "pipeline": pipeline.to_vec(), "cursor": {}, "$db": "db" };
            let body = RawDocumentBuf::from_document(&body).unwrap();
            let mut out = Vec::new();
            aggregate(&mut out, &server, &body);
            first_batch(&out).first().map(|d| d.get_i64("n").unwrap())
        };
        assert_eq!(count(ITEMS, bson::doc! {}), Some(250));
        let ids: Vec<bson::Bson> = batch[..3]
            .iter()
            .map(|d| d.get("_id").unwrap().clone())
            .collect();
        let listed = bson::doc! { "_id": { "$in": [ids[0].clone(), ids[2].clone(), bson::Bson::from(uuid(&[7; 16]))] } };
        assert_eq!(count(ITEMS, listed), Some(2));
        assert_eq!(count("vellum_migrations", bson::doc! {}), None);
        let body =
            rawdoc! { "find": "migrations_log", "filter": { "is_current": true }, "$db": "db" };
        let mut out = Vec::new();
        find(&mut out, &server, &body);
        assert!(first_batch(&out).is_empty());
        let body = rawdoc! { "findAndModify": "vellum_migrations", "query": { "_id": "lock" }, "upsert": true, "$db": "db" };
        let mut out = Vec::new();
        find_and_modify(&mut out, &server, &body);
        let reply = Document::from_reader(out.as_slice()).unwrap();
        assert_eq!(
            reply.get_document("value").unwrap(),
            &bson::doc! { "_id": "lock" }
        );
    }
}

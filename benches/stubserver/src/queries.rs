//! Reads: find, aggregate, getMore, killCursors, findAndModify, count and the index and
//! collection listings, all answered from the canned documents.
//!
//! Filters are ignored except an equality on `_id`, which returns the first canned user under
//! the queried `_id`; `skip` and `limit` (and the `$skip`/`$limit` stages) are honoured.

use bson::{RawBsonRef, RawDocument, RawDocumentBuf};

use crate::bsonw::{kind, BsonBuf};
use crate::cursors::{put_cursor_reply, Source, DEFAULT_FIRST_BATCH};
use crate::data::Canned;
use crate::replies::put_error;
use crate::server::Server;

const CURSOR_NOT_FOUND: i32 = 43;

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
    source: Source,
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
    let documents = selection.source.documents(&server.canned);
    let start = selection.skip.min(documents.len());
    let end = selection.limit.map_or(documents.len(), |limit| {
        start.saturating_add(limit).min(documents.len())
    });
    let first_end = start.saturating_add(batch_size).min(end);
    let id = if first_end < end && !single_batch {
        server
            .cursors
            .open(selection.source, first_end, end, namespace.clone())
    } else {
        0
    };
    put_cursor_reply(
        out,
        "firstBatch",
        &documents[start..first_end],
        id,
        &namespace,
    );
}

/// A single-batch cursor holding the first user under the queried `_id`.
fn put_user_reply(out: &mut Vec<u8>, server: &Server, id: RawBsonRef<'_>, namespace: &str) {
    let user = user_with_id(&server.canned, id);
    put_cursor_reply(out, "firstBatch", &[user], 0, namespace);
}

pub fn find(out: &mut Vec<u8>, server: &Server, body: &RawDocument) {
    let namespace = namespace(body, "find");
    if let Some(id) = body.get_document("filter").ok().and_then(id_equality) {
        put_user_reply(out, server, id, &namespace);
        return;
    }
    let limit = count_field(body, "limit").unwrap_or(0);
    let selection = Selection {
        source: Source::Users,
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
    let namespace = namespace(body, "aggregate");
    let mut selection = Selection {
        source: Source::Users,
        skip: 0,
        limit: None,
    };
    let mut by_id = None;
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
            ("$group", _) => selection.source = Source::Groups,
            ("$match", RawBsonRef::Document(filter)) => by_id = by_id.or(id_equality(filter)),
            ("$limit", value) => selection.limit = as_count(value).map(to_usize),
            ("$skip", value) => selection.skip = as_count(value).map_or(0, to_usize),
            _ => {}
        }
    }
    if count_group {
        let total = if by_id.is_some() {
            1
        } else {
            server.canned.users.len()
        };
        let total = i64::try_from(total).unwrap_or(i64::MAX);
        let document = bson::rawdoc! { "_id": 1, "n": total }.into_bytes();
        put_cursor_reply(out, "firstBatch", &[document], 0, &namespace);
        return;
    }
    if let (Some(id), Source::Users) = (by_id, selection.source) {
        put_user_reply(out, server, id, &namespace);
        return;
    }
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
        Some(batch) => {
            let documents = &batch.source.documents(&server.canned)[batch.start..batch.end];
            put_cursor_reply(out, "nextBatch", documents, batch.id, &batch.namespace);
        }
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

/// `{lastErrorObject: {n: 1, updatedExisting: true}, value: <user>, ok: 1}`: the first canned
/// user, under the queried `_id` when there is one.
pub fn find_and_modify(out: &mut Vec<u8>, server: &Server, body: &RawDocument) {
    let id = body.get_document("query").ok().and_then(id_equality);
    let user = match id {
        Some(id) => user_with_id(&server.canned, id),
        None => server.canned.users[0].clone(),
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
    let total = server.canned.users.len();
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

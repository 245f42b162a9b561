//! The collections of MongoDB's ODM benchmark (`benches/odm.py`): every collection whose name
//! starts with `odm_`.
//!
//! Each client stores the benchmark's documents in its own form (its id type, its link form,
//! its own extra fields), so the stub cannot can them in advance. It keeps, per collection, the
//! first document a client inserted there (its *template*, until the collection or its database
//! is dropped) and answers every read with that template, changed where the request says:
//!
//! - a find, a `$match` stage or a `findAndModify` query with an equality (`{k: v}`,
//!   `{k: {$eq: v}}`, `{k: {$in: [v]}}`, `{k: {$elemMatch: {j: v}}}`) returns the template with
//!   `v` at that path, so the document found is the one asked for; a dotted path goes into
//!   embedded documents, and into the first document of an array. `{_id: {$in: [a, b...]}}`
//!   returns one document per listed id;
//! - a `$lookup` stage puts the joined document (the `from` collection's template under the
//!   `_id` the `$match` named) in place of the local field, as `$lookup` then `$unwind` (or
//!   Beanie's `$addFields` after them) leave it;
//! - a `findAndModify` applies its `$set` to the document it returns (with `new: true`), as the
//!   server would return the updated document.
//!
//! A client that inserts new documents by upserts (ODMantic's `save`) leaves as template what
//! its first upsert would insert: the query's equalities and the `$set`.
//!
//! Inserts, updates and deletes are only acknowledged: nothing but the templates is kept. The
//! splicing costs the stub time per reply (a copy of the template), which `stubStats` counts
//! like every other reply's.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bson::{RawArray, RawArrayBuf, RawBsonRef, RawDocument, RawDocumentBuf};

use crate::bsonw::{kind, BsonBuf};
use crate::cursors::put_cursor_reply;

/// Collections whose name starts with this answer from templates.
pub const PREFIX: &str = "odm_";

/// The first document inserted into each `odm_` collection, by namespace (`db.collection`).
#[derive(Default)]
pub struct Templates {
    by_namespace: Mutex<HashMap<String, Arc<RawDocumentBuf>>>,
}

impl Templates {
    /// Keeps `document` as the template of `namespace` unless it has one.
    pub fn keep_first(&self, namespace: &str, document: &RawDocument) {
        let mut templates = self.by_namespace.lock().expect("template table");
        if !templates.contains_key(namespace) {
            templates.insert(
                namespace.to_owned(),
                Arc::new(document.to_raw_document_buf()),
            );
        }
    }

    pub fn get(&self, namespace: &str) -> Option<Arc<RawDocumentBuf>> {
        self.by_namespace
            .lock()
            .expect("template table")
            .get(namespace)
            .cloned()
    }

    /// Forgets the template of `namespace` (a dropped collection).
    pub fn forget(&self, namespace: &str) {
        self.by_namespace
            .lock()
            .expect("template table")
            .remove(namespace);
    }

    /// Forgets every template of `database` (a dropped database).
    pub fn forget_database(&self, database: &str) {
        let prefix = format!("{database}.");
        self.by_namespace
            .lock()
            .expect("template table")
            .retain(|namespace, _| !namespace.starts_with(&prefix));
    }
}

/// One change to a template: the value at a dotted path.
type Edit<'a> = (Vec<&'a str>, RawBsonRef<'a>);

/// What a filter asks for: equalities, and at most one `$in` list of values to answer one
/// document each for.
#[derive(Default)]
struct Wanted<'a> {
    edits: Vec<Edit<'a>>,
    each_of: Option<(Vec<&'a str>, Vec<RawBsonRef<'a>>)>,
}

impl<'a> Wanted<'a> {
    fn from_filter(filter: &'a RawDocument) -> Wanted<'a> {
        let mut wanted = Wanted::default();
        wanted.add(filter, &[]);
        wanted
    }

    fn add(&mut self, filter: &'a RawDocument, prefix: &[&'a str]) {
        for (key, value) in filter.into_iter().flatten() {
            if key.starts_with('$') {
                continue; // $and, $expr...: not an equality the stub reads
            }
            let mut path = prefix.to_vec();
            path.extend(key.split('.'));
            let RawBsonRef::Document(condition) = value else {
                self.edits.push((path, value));
                continue;
            };
            match condition.into_iter().flatten().next() {
                Some(("$eq", operand)) => self.edits.push((path, operand)),
                Some(("$in", RawBsonRef::Array(values))) => {
                    let values: Vec<RawBsonRef<'a>> = values.into_iter().flatten().collect();
                    if values.len() == 1 {
                        self.edits.push((path, values[0]));
                    } else if self.each_of.is_none() {
                        self.each_of = Some((path, values));
                    }
                }
                Some(("$elemMatch", RawBsonRef::Document(inner))) => self.add(inner, &path),
                Some((operator, _)) if operator.starts_with('$') => {}
                _ => self.edits.push((path, value)), // an embedded document, matched whole
            }
        }
    }

    /// The template as each wanted document: one, or one per value of the `$in` list.
    fn documents(&self, template: &RawDocument, extra: &[Edit<'_>]) -> Vec<RawDocumentBuf> {
        let mut edits: Vec<(&[&str], RawBsonRef<'_>)> = self
            .edits
            .iter()
            .chain(extra)
            .map(|(path, value)| (path.as_slice(), *value))
            .collect();
        match &self.each_of {
            None => vec![splice(template, &edits)],
            Some((path, values)) => values
                .iter()
                .map(|value| {
                    edits.push((path.as_slice(), *value));
                    let document = splice(template, &edits);
                    edits.pop();
                    document
                })
                .collect(),
        }
    }
}

/// `template` with each edit's value at its path: in place where the path exists (into
/// embedded documents, and the first document of an array), appended at the end where a
/// top-level field does not. Of two edits of the same path the last wins.
pub fn splice(template: &RawDocument, edits: &[(&[&str], RawBsonRef<'_>)]) -> RawDocumentBuf {
    let mut out = RawDocumentBuf::new();
    let mut used = vec![false; edits.len()];
    for (key, value) in template.into_iter().flatten() {
        let here: Vec<usize> = (0..edits.len())
            .filter(|&i| edits[i].0.first() == Some(&key))
            .collect();
        if here.is_empty() {
            out.append_ref(key, value);
            continue;
        }
        for &i in &here {
            used[i] = true;
        }
        if let Some(&whole) = here.iter().rev().find(|&&i| edits[i].0.len() == 1) {
            out.append_ref(key, edits[whole].1);
            continue;
        }
        let deeper: Vec<(&[&str], RawBsonRef<'_>)> = here
            .iter()
            .map(|&i| (&edits[i].0[1..], edits[i].1))
            .collect();
        match value {
            RawBsonRef::Document(inner) => out.append(key, splice(inner, &deeper)),
            RawBsonRef::Array(items) => out.append(key, splice_array(items, &deeper)),
            other => out.append_ref(key, other),
        }
    }
    for (i, (path, value)) in edits.iter().enumerate() {
        if !used[i] && path.len() == 1 {
            out.append_ref(path[0], *value);
        }
    }
    out
}

/// `items` with the edits applied to the element their next path part names: an index, or
/// (a query's "some element has") the first embedded document.
fn splice_array(items: &RawArray, edits: &[(&[&str], RawBsonRef<'_>)]) -> RawArrayBuf {
    let first_document = items
        .into_iter()
        .flatten()
        .position(|item| matches!(item, RawBsonRef::Document(_)));
    let mut out = RawArrayBuf::new();
    for (at, item) in items.into_iter().flatten().enumerate() {
        let mine: Vec<(&[&str], RawBsonRef<'_>)> = edits
            .iter()
            .filter_map(|(path, value)| match path.first()?.parse::<usize>() {
                Ok(index) if index == at && path.len() > 1 => Some((&path[1..], *value)),
                Ok(_) => None,
                Err(_) if Some(at) == first_document => Some((*path, *value)),
                Err(_) => None,
            })
            .collect();
        match item {
            RawBsonRef::Document(inner) if !mine.is_empty() => out.push(splice(inner, &mine)),
            other => out.push(other.to_raw_bson()),
        }
    }
    out
}

fn namespace_of(body: &RawDocument, command: &str) -> Option<String> {
    let collection = body.get_str(command).ok()?;
    let database = body.get_str("$db").unwrap_or("test");
    Some(format!("{database}.{collection}"))
}

/// Whether `command`'s collection is one of the ODM benchmark's.
pub fn is_odm(body: &RawDocument, command: &str) -> bool {
    body.get_str(command)
        .is_ok_and(|collection| collection.starts_with(PREFIX))
}

/// Remembers the first document of an insert into an `odm_` collection.
pub fn inserted(templates: &Templates, body: &RawDocument, first: Option<&RawDocument>) {
    if let (Some(namespace), Some(first)) = (namespace_of(body, "insert"), first) {
        templates.keep_first(&namespace, first);
    }
}

/// Remembers the document the first upsert of an `update` into an `odm_` collection would
/// insert (ODMantic saves new documents so): its query's equalities and its `$set`.
pub fn upserted(templates: &Templates, body: &RawDocument, statement: Option<&RawDocument>) {
    let Some(namespace) = namespace_of(body, "update") else {
        return;
    };
    let Some(statement) = statement.filter(|s| matches!(s.get_bool("upsert"), Ok(true))) else {
        return;
    };
    if templates.get(&namespace).is_some() {
        return;
    }
    let mut wanted = statement
        .get_document("q")
        .map(Wanted::from_filter)
        .unwrap_or_default();
    if let Ok(set) = statement
        .get_document("u")
        .and_then(|u| u.get_document("$set"))
    {
        for (key, value) in set.into_iter().flatten() {
            wanted.edits.push((key.split('.').collect(), value));
        }
    }
    wanted.each_of = None;
    let document = wanted.documents(&RawDocumentBuf::new(), &[]).remove(0);
    templates.keep_first(&namespace, &document);
}

/// A find: the template as each document the filter asks for, in one batch.
pub fn find(out: &mut Vec<u8>, templates: &Templates, body: &RawDocument) {
    let namespace = namespace_of(body, "find").unwrap_or_default();
    let documents = match (templates.get(&namespace), body.get_document("filter")) {
        (Some(template), Ok(filter)) => Wanted::from_filter(filter).documents(&template, &[]),
        (Some(template), Err(_)) => vec![(*template).clone()],
        (None, _) => Vec::new(),
    };
    put_documents(out, &documents, &namespace);
}

/// An aggregate: its `$match` equalities and `$lookup` joins applied to the template.
pub fn aggregate(out: &mut Vec<u8>, templates: &Templates, body: &RawDocument) {
    let namespace = namespace_of(body, "aggregate").unwrap_or_default();
    let database = body.get_str("$db").unwrap_or("test");
    let Some(template) = templates.get(&namespace) else {
        put_documents(out, &[] as &[RawDocumentBuf], &namespace);
        return;
    };
    let mut wanted = Wanted::default();
    let mut joins: Vec<(&str, Arc<RawDocumentBuf>)> = Vec::new();
    for stage in body.get_array("pipeline").into_iter().flatten().flatten() {
        let Some(Ok((name, RawBsonRef::Document(spec)))) =
            stage.as_document().and_then(|s| s.into_iter().next())
        else {
            continue;
        };
        match name {
            "$match" => wanted.add(spec, &[]),
            "$lookup" => {
                let joined = spec
                    .get_str("from")
                    .ok()
                    .and_then(|from| templates.get(&format!("{database}.{from}")));
                if let (Some(field), Some(joined)) = (local_field(spec), joined) {
                    joins.push((field, joined));
                }
            }
            _ => {}
        }
    }
    // The joined document is the one whose `_id` the match named through the local field.
    let mut joined_documents = Vec::new();
    for (field, joined) in &joins {
        let id = wanted
            .edits
            .iter()
            .find(|(path, _)| path.first() == Some(field))
            .map(|(_, value)| *value);
        let id_edit: Vec<(&[&str], RawBsonRef<'_>)> =
            id.map(|id| (["_id"].as_slice(), id)).into_iter().collect();
        joined_documents.push((*field, splice(joined, &id_edit)));
    }
    wanted
        .edits
        .retain(|(path, _)| !joins.iter().any(|(field, _)| path.first() == Some(field)));
    let extra: Vec<Edit<'_>> = joined_documents
        .iter()
        .map(|(field, document)| (vec![*field], RawBsonRef::Document(document)))
        .collect();
    let documents = wanted.documents(&template, &extra);
    put_documents(out, &documents, &namespace);
}

/// The top-level field a `$lookup` joins on: its `localField`, or the first variable of its
/// `let` (`{foreign_id: "$field"}`, as ODMantic writes it).
fn local_field(lookup: &RawDocument) -> Option<&str> {
    let path = match lookup.get_str("localField") {
        Ok(path) => path,
        Err(_) => {
            let (_, first) = lookup
                .get_document("let")
                .ok()?
                .into_iter()
                .flatten()
                .next()?;
            first.as_str()?.strip_prefix('$')?
        }
    };
    path.split('.').next()
}

/// `{lastErrorObject: {n, updatedExisting}, value, ok: 1}`: the template under the queried
/// equalities, with the update's `$set` applied when the new document is asked for; `value`
/// null where the collection has no template.
pub fn find_and_modify(out: &mut Vec<u8>, templates: &Templates, body: &RawDocument) {
    let command = match body.into_iter().next() {
        Some(Ok((name, _))) => name,
        _ => "findAndModify",
    };
    let namespace = namespace_of(body, command).unwrap_or_default();
    let template = templates.get(&namespace);
    let reply = out.doc_start();
    let last_error = out.sub_start(kind::DOCUMENT, "lastErrorObject");
    out.put_i32("n", i32::from(template.is_some()));
    out.put_bool("updatedExisting", template.is_some());
    out.doc_end(last_error);
    match template {
        Some(template) => {
            let mut wanted = body
                .get_document("query")
                .map(Wanted::from_filter)
                .unwrap_or_default();
            let set = body
                .get_document("update")
                .and_then(|update| update.get_document("$set"));
            if let (Ok(true), Ok(set)) = (body.get_bool("new"), set) {
                for (key, value) in set.into_iter().flatten() {
                    wanted.edits.push((key.split('.').collect(), value));
                }
            }
            wanted.each_of = None;
            let document = wanted.documents(&template, &[]).remove(0);
            out.put_encoded_doc("value", document.as_bytes());
        }
        None => {
            out.key(kind::NULL, "value");
        }
    }
    out.put_f64("ok", 1.0);
    out.doc_end(reply);
}

fn put_documents(out: &mut Vec<u8>, documents: &[RawDocumentBuf], namespace: &str) {
    let bytes: Vec<&[u8]> = documents.iter().map(|d| d.as_bytes()).collect();
    put_cursor_reply(out, "firstBatch", &bytes, 0, namespace);
}

#[cfg(test)]
mod tests {
    use bson::{doc, oid::ObjectId, rawdoc, Document};

    use super::*;

    fn decode(bytes: &[u8]) -> Document {
        Document::from_reader(bytes).unwrap()
    }

    fn first_batch(out: &[u8]) -> Vec<Document> {
        let reply = decode(out);
        let batch = reply.get_document("cursor").unwrap();
        let batch = batch.get_array("firstBatch").unwrap().iter();
        batch.map(|d| d.as_document().unwrap().clone()).collect()
    }

    fn nested() -> RawDocumentBuf {
        rawdoc! {
            "_id": ObjectId::from_bytes([1; 12]),
            "embedded_str_doc_1": { "field1": "a", "unique_id": ObjectId::from_bytes([2; 12]) },
            "embedded_str_doc_array": [
                { "field1": "b", "unique_id": ObjectId::from_bytes([3; 12]) },
                { "field1": "c", "unique_id": ObjectId::from_bytes([4; 12]) },
            ],
            "n": 7,
        }
    }

    #[test]
    fn splicing_puts_values_at_paths() {
        let template = nested();
        let wanted = ObjectId::from_bytes([9; 12]);
        let filter =
            rawdoc! { "embedded_str_doc_array": { "$elemMatch": { "unique_id": wanted } } };
        let found = Wanted::from_filter(&filter).documents(&template, &[]);
        let found = decode(found[0].as_bytes());
        let items = found.get_array("embedded_str_doc_array").unwrap();
        let first = items[0].as_document().unwrap();
        assert_eq!(first.get_object_id("unique_id").unwrap(), wanted);
        assert_eq!(first.get_str("field1").unwrap(), "b");
        let second = items[1].as_document().unwrap();
        assert_eq!(
            second.get_object_id("unique_id").unwrap(),
            ObjectId::from_bytes([4; 12])
        );

        let filter = rawdoc! { "embedded_str_doc_1.unique_id": { "$eq": wanted }, "new": 1 };
        let found = decode(Wanted::from_filter(&filter).documents(&template, &[])[0].as_bytes());
        let inner = found.get_document("embedded_str_doc_1").unwrap();
        assert_eq!(inner.get_object_id("unique_id").unwrap(), wanted);
        assert_eq!(found.get_i32("new").unwrap(), 1); // appended: not in the template
        assert_eq!(found.get_i32("n").unwrap(), 7);
    }

    #[test]
    fn an_in_list_answers_one_document_per_id() {
        let template = nested();
        let ids = [ObjectId::from_bytes([5; 12]), ObjectId::from_bytes([6; 12])];
        let filter = rawdoc! { "_id": { "$in": [ids[0], ids[1]] } };
        let found = Wanted::from_filter(&filter).documents(&template, &[]);
        let found: Vec<ObjectId> = found
            .iter()
            .map(|d| decode(d.as_bytes()).get_object_id("_id").unwrap())
            .collect();
        assert_eq!(found, ids);
    }

    fn templates() -> Templates {
        let templates = Templates::default();
        let fk = ObjectId::from_bytes([7; 12]);
        let small = rawdoc! { "_id": ObjectId::from_bytes([8; 12]), "field1": "x", "field_fk": { "$ref": "odm_fk", "$id": fk } };
        templates.keep_first("db.odm_small_fk", &small);
        templates.keep_first(
            "db.odm_fk",
            &rawdoc! { "_id": fk, "name": "foreign_key_name" },
        );
        templates
    }

    #[test]
    fn a_lookup_joins_the_foreign_template_under_the_matched_id() {
        let templates = templates();
        let wanted = ObjectId::from_bytes([9; 12]);
        // Beanie's form: the match on the DBRef's $id, the join by localField.
        let pipeline = [
            doc! { "$match": { "field_fk.$id": wanted } },
            doc! { "$lookup": { "from": "odm_fk", "localField": "field_fk.$id", "foreignField": "_id", "as": "_link_field_fk" } },
            doc! { "$unwind": { "path": "$_link_field_fk" } },
        ];
        let body = doc! { "aggregate": "odm_small_fk", "pipeline": pipeline.to_vec(), "cursor": {}, "$db": "db" };
        let body = RawDocumentBuf::from_document(&body).unwrap();
        let mut out = Vec::new();
        aggregate(&mut out, &templates, &body);
        let found = first_batch(&out);
        let joined = found[0].get_document("field_fk").unwrap();
        assert_eq!(joined.get_object_id("_id").unwrap(), wanted);
        assert_eq!(joined.get_str("name").unwrap(), "foreign_key_name");
        assert_eq!(found[0].get_str("field1").unwrap(), "x");

        // ODMantic's form: the join by a `let` variable.
        let pipeline = [
            doc! { "$match": { "field_fk": wanted } },
            doc! { "$lookup": { "from": "odm_fk", "let": { "foreign_id": "$field_fk" }, "pipeline": [], "as": "field_fk" } },
        ];
        let body = doc! { "aggregate": "odm_small_fk", "pipeline": pipeline.to_vec(), "cursor": {}, "$db": "db" };
        let body = RawDocumentBuf::from_document(&body).unwrap();
        let mut out = Vec::new();
        aggregate(&mut out, &templates, &body);
        let found = first_batch(&out);
        let joined = found[0].get_document("field_fk").unwrap();
        assert_eq!(joined.get_object_id("_id").unwrap(), wanted);
    }

    #[test]
    fn an_upsert_leaves_the_document_it_would_insert() {
        let templates = Templates::default();
        let id = ObjectId::from_bytes([1; 12]);
        let body = rawdoc! { "update": "odm_small", "$db": "db" };
        let statement = rawdoc! { "q": { "_id": id }, "u": { "$set": { "field1": "a", "n": 2 } }, "upsert": true };
        upserted(&templates, &body, Some(&statement));
        let template = decode(templates.get("db.odm_small").unwrap().as_bytes());
        assert_eq!(template, doc! { "_id": id, "field1": "a", "n": 2 });
        let plain = rawdoc! { "q": { "_id": id }, "u": { "$set": { "field1": "b" } } };
        templates.forget("db.odm_small");
        upserted(&templates, &body, Some(&plain));
        assert!(templates.get("db.odm_small").is_none());
    }

    #[test]
    fn find_and_modify_returns_the_updated_template_and_drops_forget() {
        let templates = templates();
        let id = ObjectId::from_bytes([3; 12]);
        let body = rawdoc! { "findAndModify": "odm_small_fk", "query": { "_id": id }, "update": { "$set": { "field1": "updated_value" } }, "new": true, "$db": "db" };
        let mut out = Vec::new();
        find_and_modify(&mut out, &templates, &body);
        let value = decode(&out).get_document("value").unwrap().clone();
        assert_eq!(value.get_object_id("_id").unwrap(), id);
        assert_eq!(value.get_str("field1").unwrap(), "updated_value");
        templates.forget("db.odm_small_fk");
        let mut out = Vec::new();
        find_and_modify(&mut out, &templates, &body);
        assert_eq!(decode(&out).get("value"), Some(&bson::Bson::Null));
        templates.forget_database("db");
        assert!(templates.get("db.odm_fk").is_none());
    }
}

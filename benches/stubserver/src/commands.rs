//! Dispatch of a command (the first key of its body) to the code that answers it.

use crate::bsonw::BsonBuf;
use crate::handshake::{put_build_info, put_hello};
use crate::items::{Tally, ITEMS};
use crate::odm;
use crate::queries;
use crate::replies::{put_ok, put_write_ack};
use crate::server::{process_cpu_nanos, Server};
use crate::wire::OpMsg;

/// Appends the reply body to `command` to `out`.
pub fn answer(out: &mut Vec<u8>, server: &Server, command: &OpMsg<'_>, connection_id: i32) {
    let body = command.body;
    let name = match body.into_iter().next() {
        Some(Ok((name, _))) => name,
        _ => "",
    };
    match name {
        "hello" | "isMaster" | "ismaster" => put_hello(out, server, connection_id),
        "buildInfo" | "buildinfo" => put_build_info(out),
        "find" => queries::find(out, server, body),
        "aggregate" => queries::aggregate(out, server, body),
        "getMore" => queries::get_more(out, server, body),
        "killCursors" => queries::kill_cursors(out, server, body),
        "findAndModify" | "findandmodify" => queries::find_and_modify(out, server, body),
        "count" => queries::count(out, server, body),
        "listIndexes" => queries::list_indexes(out, body),
        "listCollections" => queries::list_collections(out, body),
        "insert" => {
            if odm::is_odm(body, "insert") {
                let first = command.first_document_of("documents");
                odm::inserted(&server.templates, body, first);
            }
            put_write_ack(out, command.count_of("documents"), None);
        }
        "update" => {
            let n = command.count_of("updates");
            if odm::is_odm(body, "update") {
                let first = command.first_document_of("updates");
                odm::upserted(&server.templates, body, first);
            }
            if server.replacements.recording() && body.get_str("update") == Ok(ITEMS) {
                let statements = command.documents_of("updates");
                server
                    .replacements
                    .record(&server.canned.items, &statements);
            }
            put_write_ack(out, n, Some(n));
        }
        "delete" => put_write_ack(out, command.count_of("deletes"), None),
        "createIndexes" => put_created_indexes(out, command.count_of("indexes")),
        "drop" => {
            if odm::is_odm(body, "drop") {
                let database = body.get_str("$db").unwrap_or("test");
                let collection = body.get_str("drop").unwrap_or_default();
                server.templates.forget(&format!("{database}.{collection}"));
            }
            put_ok(out);
        }
        "dropDatabase" => {
            server
                .templates
                .forget_database(body.get_str("$db").unwrap_or("test"));
            put_ok(out);
        }
        "stubStats" => put_stats(out, server),
        "stubStatsReset" => {
            server.stats.reset();
            put_ok(out);
        }
        "stubRecordItems" => {
            let on = matches!(body.get_bool("stubRecordItems"), Ok(true));
            let tally = server.replacements.set_recording(on);
            put_tally(out, server.canned.items.documents.len(), &tally);
        }
        // ping, endSessions, commitTransaction,
        // abortTransaction and anything else: acknowledged.
        _ => put_ok(out),
    }
}

/// `{requests, build_ns, write_ns, cpu_ns, ok}`: how many requests were answered, the time
/// spent building and writing their replies, and the CPU time the whole process has used.
fn put_stats(out: &mut Vec<u8>, server: &Server) {
    let stats = server.stats.read();
    let reply = out.doc_start();
    for (field, value) in [
        ("requests", stats.requests),
        ("build_ns", stats.build_nanos),
        ("write_ns", stats.write_nanos),
        ("cpu_ns", process_cpu_nanos()),
    ] {
        out.put_i64(field, i64::try_from(value).unwrap_or(i64::MAX));
    }
    out.put_f64("ok", 1.0);
    out.doc_end(reply);
}

/// Every requested index is reported as new, beside `_id_`.
fn put_created_indexes(out: &mut Vec<u8>, created: usize) {
    let reply = out.doc_start();
    out.put_i32("numIndexesBefore", 1);
    out.put_i32("numIndexesAfter", 1 + i32::try_from(created).unwrap_or(0));
    out.put_bool("createdCollectionAutomatically", false);
    out.put_f64("ok", 1.0);
    out.doc_end(reply);
}

/// `{items, statements, replaced, repeated, wrong, problem?, ok}`: what the replacements of
/// items recorded so far amount to (see `items.rs`).
fn put_tally(out: &mut Vec<u8>, items: usize, tally: &Tally) {
    let reply = out.doc_start();
    for (field, value) in [
        ("items", items),
        ("statements", tally.statements),
        ("replaced", tally.replaced),
        ("repeated", tally.repeated),
        ("wrong", tally.wrong),
    ] {
        out.put_i64(field, i64::try_from(value).unwrap_or(i64::MAX));
    }
    if let Some(problem) = &tally.problem {
        out.put_str("problem", problem);
    }
    out.put_f64("ok", 1.0);
    out.doc_end(reply);
}

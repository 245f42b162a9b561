//! `hello` / `isMaster` and `buildInfo`: what the server says it is.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::bsonw::{kind, BsonBuf};
use crate::server::Server;

const MAX_WIRE_VERSION: i32 = 21;
const MAX_BSON_OBJECT_SIZE: i32 = 16 * 1024 * 1024;
const MAX_MESSAGE_SIZE_BYTES: i32 = 48_000_000;
const MAX_WRITE_BATCH_SIZE: i32 = 100_000;
const SESSION_TIMEOUT_MINUTES: i32 = 30;

fn now_millis() -> i64 {
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since_epoch.as_millis()).unwrap_or(0)
}

/// A standalone server or a replica-set primary, always writable. No `topologyVersion` is
/// sent, so drivers poll with plain hellos instead of streaming ones.
pub fn put_hello(out: &mut Vec<u8>, server: &Server, connection_id: i32) {
    let reply = out.doc_start();
    out.put_bool("helloOk", true);
    out.put_bool("ismaster", true);
    out.put_bool("isWritablePrimary", true);
    if let Some(name) = &server.replica_set {
        out.put_str("setName", name);
        out.put_i32("setVersion", 1);
        let hosts = out.sub_start(kind::ARRAY, "hosts");
        out.put_str("0", &server.address);
        out.doc_end(hosts);
        out.put_str("primary", &server.address);
        out.put_str("me", &server.address);
        out.put_bool("secondary", false);
    }
    out.put_i32("maxBsonObjectSize", MAX_BSON_OBJECT_SIZE);
    out.put_i32("maxMessageSizeBytes", MAX_MESSAGE_SIZE_BYTES);
    out.put_i32("maxWriteBatchSize", MAX_WRITE_BATCH_SIZE);
    out.put_datetime("localTime", now_millis());
    out.put_i32("logicalSessionTimeoutMinutes", SESSION_TIMEOUT_MINUTES);
    out.put_i32("connectionId", connection_id);
    out.put_i32("minWireVersion", 0);
    out.put_i32("maxWireVersion", MAX_WIRE_VERSION);
    out.put_bool("readOnly", false);
    out.put_f64("ok", 1.0);
    out.doc_end(reply);
}

pub fn put_build_info(out: &mut Vec<u8>) {
    let reply = out.doc_start();
    out.put_str("version", "7.0.0");
    let array = out.sub_start(kind::ARRAY, "versionArray");
    for (index, part) in [7, 0, 0, 0].into_iter().enumerate() {
        out.put_i32(&index.to_string(), part);
    }
    out.doc_end(array);
    out.put_str("gitVersion", "stubserver");
    out.put_i32("bits", 64);
    out.put_i32("maxBsonObjectSize", MAX_BSON_OBJECT_SIZE);
    out.put_f64("ok", 1.0);
    out.doc_end(reply);
}

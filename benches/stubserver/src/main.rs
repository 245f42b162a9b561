//! # stubserver: a MongoDB wire-protocol stub for Vellum's benchmarks
//!
//! A single-threaded tokio TCP server that speaks enough of MongoDB's wire protocol for
//! drivers (pymongo, motor, the Rust driver under Vellum and mongojet) to connect and run
//! CRUD, and answers from documents generated and encoded once at startup. It stores nothing:
//! its job is to cost the client as little server time as possible, so that a benchmark
//! measures the client.
//!
//! ```text
//! stubserver [PORT] [--docs N] [--books N] [--authors N] [--items N] [--replset NAME]
//! ```
//! - `PORT` 0 (the default) picks a free port. Either way the server prints
//!   `listening on 127.0.0.1:PORT` on stdout once it accepts connections.
//! - `--docs N` (or `STUB_DOCS=N`; default 100000): how many canned users find serves.
//! - `--books N`, `--authors N` (default 10000 and 1000): the canned library, books that each
//!   link to one author (see `library.rs`).
//! - `--items N` (default 100000): the canned items a migration rewrites (see `items.rs`).
//! - `--replset NAME`: describe a replica-set primary named NAME (connect with
//!   `mongodb://127.0.0.1:PORT/?replicaSet=NAME`) instead of a standalone server.
//!
//! Protocol: OP_MSG (body and document-sequence sections; moreToCome requests get no reply)
//! and legacy OP_QUERY, answered with OP_REPLY, for the handshake some drivers still send
//! that way.
//!
//! Commands:
//! - `hello`/`isMaster`: wire versions 0..21, the usual size limits, sessions supported.
//! - `find` and `aggregate` answer with the canned users, in MongoDB's shape: an Int64
//!   cursor id, a first batch of 101 documents unless `batchSize` says otherwise, then
//!   `getMore` batches of `batchSize` or as many as fit in 16 MiB. `skip`/`limit` (and the
//!   `$skip`/`$limit` stages) are honoured; filters are ignored except `{_id: v}` (or
//!   `{_id: {$eq: v}}`), which returns the first user under that `_id`.
//! - the collections `authors`, `books` (links stored as ids) and `books_dbref` (as DBRefs)
//!   answer from the canned library instead: `{_id: {$in: [...]}}` on `authors` returns the
//!   authors with those ids, and an aggregate of books with a `$lookup` stage returns each book
//!   with its author document in place of the link.
//! - `items` answers from the canned items (in `_id` order, filters ignored; a count after
//!   `{_id: {$in: [...]}}` counts the listed ids that are items'), and the migration runners'
//!   records (`vellum_migrations`, `migrations_log`) from no documents: each run of a
//!   migration finds nothing applied and migrates every item again.
//! - an aggregate with a `$group` stage returns 1000 canned `{_id: "city-i", users, avg_age,
//!   total_balance}` documents, except drivers' count (`{$group: {_id: 1, n: {$sum: 1}}}`).
//! - `findAndModify` returns the first user (under the queried `_id`), or outside the users
//!   `{_id: <the queried _id>}`; `insert`, `update`, `delete` acknowledge as many documents or
//!   statements as were sent; `count`, `listIndexes`, `listCollections`, `createIndexes`,
//!   `buildInfo` (7.0.0) answer plausibly; anything else (`ping`, `endSessions`,
//!   transactions...) gets `{ok: 1}`.
//! - collections whose name starts with `odm_` (MongoDB's ODM benchmark, `benches/odm.py`)
//!   answer from the first document inserted into each (its template, forgotten when the
//!   collection or its database is dropped): finds, `$match`/`$lookup` aggregates and
//!   `findAndModify` return the template with the values the request names (see `odm.rs`).
//! - `stubStats` returns `{requests, build_ns, write_ns, cpu_ns}`: requests answered, the
//!   total time spent building their replies and writing them to the socket (a write on
//!   loopback also wakes the reader, so its wall time is mostly the kernel's), and the CPU
//!   time the server process has used (`stubStatsReset` zeroes all but that). CPU time per
//!   request is the honest cost the stub adds to each round trip.
//! - `{stubRecordItems: true}` starts checking every replacement of an item the clients send
//!   (`update` statements on `items` whose `u` is a whole document) against the item with its
//!   price as a Decimal128, with an empty tally; `{stubRecordItems: false}` stops. Both return
//!   the tally up to then: `{items, statements, replaced, repeated, wrong, problem?}`.
//!
//! The companion `pingbench ADDRESS [COUNT]` measures the round trip of a ping.

mod bsonw;
mod commands;
mod connection;
mod cursors;
mod data;
mod generator;
mod handshake;
mod items;
mod library;
mod odm;
mod queries;
mod replies;
mod server;
mod wire;

use std::io::Write;
use std::sync::Arc;

use tokio::net::TcpListener;

use crate::cursors::Cursors;
use crate::data::Canned;
use crate::items::Replacements;
use crate::odm::Templates;
use crate::server::{Server, Stats};

const DEFAULT_DOCS: usize = 100_000;
const DEFAULT_BOOKS: usize = 10_000;
const DEFAULT_AUTHORS: usize = 1000;
const DEFAULT_ITEMS: usize = 100_000;

struct Options {
    port: u16,
    docs: usize,
    books: usize,
    authors: usize,
    items: usize,
    replica_set: Option<String>,
}

fn count(flag: &str, value: Option<String>) -> Result<usize, String> {
    let value = value.ok_or(format!("{flag} needs a number"))?;
    value.parse().map_err(|_| format!("{flag} {value}"))
}

fn parse_options() -> Result<Options, String> {
    let mut options = Options {
        port: 0,
        docs: match std::env::var("STUB_DOCS") {
            Ok(value) => value.parse().map_err(|_| format!("STUB_DOCS={value}"))?,
            Err(_) => DEFAULT_DOCS,
        },
        books: DEFAULT_BOOKS,
        authors: DEFAULT_AUTHORS,
        items: DEFAULT_ITEMS,
        replica_set: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--docs" => options.docs = count("--docs", args.next())?,
            "--books" => options.books = count("--books", args.next())?,
            "--authors" => options.authors = count("--authors", args.next())?,
            "--items" => options.items = count("--items", args.next())?,
            "--replset" => options.replica_set = Some(args.next().ok_or("--replset needs a name")?),
            "-h" | "--help" => return Err(String::new()),
            port => options.port = port.parse().map_err(|_| format!("not a port: {port}"))?,
        }
    }
    Ok(options)
}

fn main() {
    let options = parse_options().unwrap_or_else(|problem| {
        eprintln!("{problem}\nusage: stubserver [PORT] [--docs N] [--books N] [--authors N] [--items N] [--replset NAME]");
        std::process::exit(2);
    });
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .expect("a tokio runtime");
    if let Err(e) = runtime.block_on(run(options)) {
        eprintln!("stubserver: {e}");
        std::process::exit(1);
    }
}

async fn run(options: Options) -> std::io::Result<()> {
    let listener = TcpListener::bind(("127.0.0.1", options.port)).await?;
    let address = listener.local_addr()?;
    let server = Arc::new(Server {
        canned: Canned::generate(options.docs, options.books, options.authors, options.items),
        cursors: Cursors::default(),
        address: address.to_string(),
        replica_set: options.replica_set,
        stats: Stats::default(),
        replacements: Replacements::default(),
        templates: Templates::default(),
    });
    println!("listening on {address}");
    std::io::stdout().flush()?;
    let mut connection_id: i32 = 0;
    loop {
        let (stream, _) = listener.accept().await?;
        connection_id = connection_id.wrapping_add(1);
        let server = server.clone();
        let id = connection_id;
        tokio::spawn(async move {
            if let Err(e) = connection::serve(stream, server, id).await {
                if e.kind() != std::io::ErrorKind::ConnectionReset {
                    eprintln!("stubserver: connection {id}: {e}");
                }
            }
        });
    }
}

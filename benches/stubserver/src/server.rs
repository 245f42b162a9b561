//! What every connection shares: the canned documents, the open cursors, the topology it
//! describes, and the time spent answering.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::cursors::Cursors;
use crate::data::Canned;
use crate::items::Replacements;
use crate::odm::Templates;

pub struct Server {
    pub canned: Canned,
    pub cursors: Cursors,
    /// `host:port` the server advertises in a replica-set hello.
    pub address: String,
    /// Describe a replica-set primary of this name instead of a standalone.
    pub replica_set: Option<String>,
    pub stats: Stats,
    /// The replacements of items received while recording (`stubRecordItems`).
    pub replacements: Replacements,
    /// The first document inserted into each collection of the ODM benchmark.
    pub templates: Templates,
}

/// Requests answered, and the time spent on them from a fully read request: building the
/// reply, then writing it to the socket (the kernel's loopback work included).
#[derive(Default)]
pub struct Stats {
    requests: AtomicU64,
    build_nanos: AtomicU64,
    write_nanos: AtomicU64,
}

/// A snapshot of [`Stats`].
pub struct StatsSnapshot {
    pub requests: u64,
    pub build_nanos: u64,
    pub write_nanos: u64,
}

fn nanos(spent: Duration) -> u64 {
    u64::try_from(spent.as_nanos()).unwrap_or(u64::MAX)
}

impl Stats {
    pub fn record(&self, build: Duration, write: Duration) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.build_nanos.fetch_add(nanos(build), Ordering::Relaxed);
        self.write_nanos.fetch_add(nanos(write), Ordering::Relaxed);
    }

    pub fn read(&self) -> StatsSnapshot {
        StatsSnapshot {
            requests: self.requests.load(Ordering::Relaxed),
            build_nanos: self.build_nanos.load(Ordering::Relaxed),
            write_nanos: self.write_nanos.load(Ordering::Relaxed),
        }
    }

    pub fn reset(&self) {
        self.requests.store(0, Ordering::Relaxed);
        self.build_nanos.store(0, Ordering::Relaxed);
        self.write_nanos.store(0, Ordering::Relaxed);
    }
}

/// CPU time this process has used so far, in nanoseconds: the sum over its threads of
/// `/proc/self/task/*/schedstat` (0 where that file does not exist).
pub fn process_cpu_nanos() -> u64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    tasks
        .flatten()
        .filter_map(|task| std::fs::read_to_string(task.path().join("schedstat")).ok())
        .filter_map(|line| line.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

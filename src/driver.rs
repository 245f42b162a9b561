//! `ClientInner`: what a client shares with its collections, sessions and cursors (the driver
//! handle, the redacted URI and the process that connected), so that none of them needs the
//! Python-facing `Client`.

use std::sync::RwLock;

use crate::error::Error;

/// What collections and cursors share with their client: the driver handle (gone once closed)
/// and the redacted URI for error messages.
pub struct ClientInner {
    driver: RwLock<Option<mongodb::Client>>,
    pub uri: std::sync::Arc<str>,
    /// The process that connected: the driver's connections and monitors live there only.
    pid: u32,
    /// Whether the deployment runs transactions (a replica set or a sharded cluster), from its
    /// `hello` at connect time.
    pub transactions: bool,
}

impl ClientInner {
    pub fn driver(&self) -> Result<mongodb::Client, Error> {
        if self.pid != std::process::id() {
            return Err(Error::ForkedClient);
        }
        self.driver
            .read()
            .expect("client lock poisoned")
            .clone()
            .ok_or(Error::ClientClosed)
    }

    pub fn wrap(&self, err: mongodb::error::Error) -> Error {
        Error::driver(err, &self.uri)
    }
}

impl ClientInner {
    pub fn new(driver: mongodb::Client, uri: std::sync::Arc<str>, transactions: bool) -> Self {
        ClientInner {
            driver: RwLock::new(Some(driver)),
            uri,
            pid: std::process::id(),
            transactions,
        }
    }

    pub fn is_closed(&self) -> bool {
        self.driver.read().expect("client lock poisoned").is_none()
    }

    /// Marks the client closed and hands back the driver to shut down, if this process owns
    /// one: in a forked child, a parent's client has no connections or monitor tasks of its
    /// own to shut down (they stayed in the parent), so it is only marked closed.
    pub fn close(&self) -> Option<mongodb::Client> {
        let taken = self.driver.write().expect("client lock poisoned").take();
        match taken {
            Some(driver) if self.pid != std::process::id() => {
                std::mem::forget(driver);
                None
            }
            other => other,
        }
    }
}

//! `Cursor`: a server cursor read one batch per await.

use std::sync::Arc;

use bson::RawDocumentBuf;
use pyo3::prelude::*;
use tokio::sync::Mutex;

use crate::client::ClientInner;
use crate::codec::Batch;
use crate::runtime::{spawn, Done};

/// How many documents one `next_batch()` hands over when no batch size was set: MongoDB's
/// default first batch.
const DEFAULT_BATCH: usize = 101;

type Shared = Arc<Mutex<Option<mongodb::Cursor<RawDocumentBuf>>>>;

/// Yields documents in batches: each `next_batch()` crosses into Python once for up to
/// `batch_size` documents, and an empty list means the cursor is exhausted.
#[pyclass(module = "vellum._core", frozen)]
pub struct Cursor {
    cursor: Shared,
    client: Arc<ClientInner>,
    batch_size: usize,
}

impl Cursor {
    pub fn new(
        cursor: mongodb::Cursor<RawDocumentBuf>,
        client: Arc<ClientInner>,
        batch_size: Option<u32>,
    ) -> Self {
        Cursor {
            cursor: Arc::new(Mutex::new(Some(cursor))),
            client,
            batch_size: batch_size.map_or(DEFAULT_BATCH, |n| n.max(1) as usize),
        }
    }
}

#[pymethods]
impl Cursor {
    /// The next batch of documents; `[]` once the cursor is exhausted.
    fn next_batch<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let shared = self.cursor.clone();
        let client = self.client.clone();
        let limit = self.batch_size;
        spawn(py, async move {
            let mut guard = shared.lock().await;
            let mut batch = Vec::new();
            let Some(cursor) = guard.as_mut() else {
                return Ok(Batch(batch));
            };
            while batch.len() < limit {
                if !cursor.advance().await.map_err(|e| client.wrap(e))? {
                    *guard = None;
                    break;
                }
                batch.push(cursor.current().to_raw_document_buf());
            }
            Ok(Batch(batch))
        })
    }

    /// Releases the server cursor early. Iterating to the end closes it too.
    fn close<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let shared = self.cursor.clone();
        spawn(py, async move {
            // Dropping the driver cursor sends killCursors in the background.
            shared.lock().await.take();
            Ok(Done)
        })
    }
}

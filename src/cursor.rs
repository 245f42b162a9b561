//! `Cursor`: a server cursor read one batch per await.

use std::sync::Arc;

use bson::RawDocumentBuf;
use mongodb::SessionCursor;
use pyo3::prelude::*;
use tokio::sync::Mutex;

use crate::codec::plan::ModelPlan;
use crate::codec::Batch;
use crate::driver::ClientInner;
use crate::error::Error;
use crate::runtime::{spawn, Done};
use crate::session::SessionHandle;

/// How many documents one `next_batch()` hands over when no batch size was set: MongoDB's
/// default first batch.
const DEFAULT_BATCH: usize = 101;

enum Source {
    Plain(mongodb::Cursor<RawDocumentBuf>),
    /// A cursor opened in a session needs that session for every getMore.
    InSession(SessionCursor<RawDocumentBuf>, SessionHandle),
}

impl Source {
    /// Up to `limit` documents; fewer means the cursor is exhausted.
    async fn take(
        &mut self,
        limit: usize,
        client: &ClientInner,
    ) -> Result<Vec<RawDocumentBuf>, Error> {
        let mut batch = Vec::new();
        match self {
            Source::Plain(cursor) => {
                while batch.len() < limit && cursor.advance().await.map_err(|e| client.wrap(e))? {
                    batch.push(cursor.current().to_raw_document_buf());
                }
            }
            Source::InSession(cursor, handle) => {
                let mut locked = handle.lock().await;
                let session = locked.get()?;
                while batch.len() < limit
                    && cursor.advance(session).await.map_err(|e| client.wrap(e))?
                {
                    batch.push(cursor.current().to_raw_document_buf());
                }
            }
        }
        Ok(batch)
    }
}

type Shared = Arc<Mutex<Option<Source>>>;

/// Yields documents in batches: each `next_batch()` crosses into Python once for up to
/// `batch_size` documents, and an empty list means the cursor is exhausted.
#[pyclass(module = "vellum._core", frozen)]
pub struct Cursor {
    source: Shared,
    client: Arc<ClientInner>,
    batch_size: usize,
    plan: Option<Py<ModelPlan>>,
}

impl Cursor {
    fn with_source(source: Source, client: Arc<ClientInner>, batch_size: Option<u32>) -> Self {
        Cursor {
            source: Arc::new(Mutex::new(Some(source))),
            client,
            batch_size: batch_size.map_or(DEFAULT_BATCH, |n| n.max(1) as usize),
            plan: None,
        }
    }

    /// Batches come back as models where the documents match `plan`.
    pub fn with_plan(self, plan: Option<Py<ModelPlan>>) -> Self {
        Cursor { plan, ..self }
    }

    pub fn new(
        cursor: mongodb::Cursor<RawDocumentBuf>,
        client: Arc<ClientInner>,
        batch_size: Option<u32>,
    ) -> Self {
        Self::with_source(Source::Plain(cursor), client, batch_size)
    }

    pub fn in_session(
        cursor: SessionCursor<RawDocumentBuf>,
        session: SessionHandle,
        client: Arc<ClientInner>,
        batch_size: Option<u32>,
    ) -> Self {
        Self::with_source(Source::InSession(cursor, session), client, batch_size)
    }
}

#[pymethods]
impl Cursor {
    /// The next batch of documents; `[]` once the cursor is exhausted.
    fn next_batch<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let shared = self.source.clone();
        let client = self.client.clone();
        let limit = self.batch_size;
        let plan = self.plan.as_ref().map(|p| p.clone_ref(py));
        spawn(py, async move {
            let mut guard = shared.lock().await;
            let Some(source) = guard.as_mut() else {
                return Ok(Batch::of(Vec::new()));
            };
            let batch = source.take(limit, &client).await?;
            if batch.len() < limit {
                *guard = None;
            }
            Ok(Batch(batch, plan))
        })
    }

    /// Releases the server cursor early. Iterating to the end closes it too.
    fn close<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let shared = self.source.clone();
        spawn(py, async move {
            // Dropping the driver cursor sends killCursors in the background.
            shared.lock().await.take();
            Ok(Done)
        })
    }
}

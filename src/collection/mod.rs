//! `Collection`: the CRUD, query, aggregation and index operations of one collection.
//!
//! Every method converts its Python arguments to owned BSON first, then spawns the driver call;
//! documents come back as raw BSON and are decoded once per batch. The driver side of each
//! operation is in `target`.

mod bulk;
pub use bulk::BulkOutcome;
mod indexes;
mod reads;
mod target;
mod writes;

use std::sync::Arc;

use bson::doc;
use pyo3::prelude::*;

use crate::driver::ClientInner;
use crate::session::{optional_handle, Session, SessionHandle};
use target::Target;

#[pyclass(module = "vellum._core", frozen)]
pub struct Collection {
    client: Arc<ClientInner>,
    database: String,
    name: String,
}

impl Collection {
    pub fn new(client: Arc<ClientInner>, database: String, name: String) -> Self {
        Collection {
            client,
            database,
            name,
        }
    }

    fn session(&self, session: Option<&Bound<'_, Session>>) -> PyResult<Option<SessionHandle>> {
        optional_handle(session, &self.client)
    }

    /// What a spawned task needs: the client and the names, all owned.
    fn target(&self) -> Target {
        Target {
            client: self.client.clone(),
            database: self.database.clone(),
            name: self.name.clone(),
        }
    }
}

#[pymethods]
impl Collection {
    #[getter]
    fn name(&self) -> &str {
        &self.name
    }

    #[getter]
    fn database(&self) -> &str {
        &self.database
    }

    fn __repr__(&self) -> String {
        format!("Collection('{}.{}')", self.database, self.name)
    }
}

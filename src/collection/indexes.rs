//! Index management, and dropping the collection.

use bson::doc;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyList;

use crate::codec::encode_filter;
use crate::runtime::{spawn, Done};
use crate::session::Session;

use super::target::in_session;
use super::Collection;

#[pymethods]
impl Collection {
    /// Creates indexes from `createIndexes` specs (`{"key": {...}, "name": ..., ...}`).
    #[pyo3(signature = (specs, *, session = None))]
    fn create_indexes<'py>(
        &self,
        py: Python<'py>,
        specs: &Bound<'py, PyList>,
        session: Option<&Bound<'py, Session>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let specs = specs
            .iter()
            .map(|s| encode_filter(&s))
            .collect::<PyResult<Vec<_>>>()?;
        let session = self.session(session)?;
        let target = self.target();
        spawn(py, async move {
            target
                .command(
                    doc! { "createIndexes": &target.name, "indexes": specs },
                    &session,
                )
                .await?;
            Ok(Done)
        })
    }

    /// The collection's index specs as the server lists them (empty if it does not exist).
    #[pyo3(signature = (*, session = None))]
    fn list_indexes<'py>(
        &self,
        py: Python<'py>,
        session: Option<&Bound<'py, Session>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let session = self.session(session)?;
        let target = self.target();
        spawn(py, async move { target.list_indexes(&session).await })
    }

    /// Drops one index by name.
    #[pyo3(signature = (name, *, session = None))]
    fn drop_index<'py>(
        &self,
        py: Python<'py>,
        name: String,
        session: Option<&Bound<'py, Session>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        if name == "*" || name == "_id_" {
            return Err(PyValueError::new_err(
                "drop_index takes one index name; use drop_indexes() to drop all but _id_",
            ));
        }
        let session = self.session(session)?;
        let target = self.target();
        spawn(py, async move {
            target
                .command(
                    doc! { "dropIndexes": &target.name, "index": name },
                    &session,
                )
                .await?;
            Ok(Done)
        })
    }

    /// Drops every index but `_id_`.
    #[pyo3(signature = (*, session = None))]
    fn drop_indexes<'py>(
        &self,
        py: Python<'py>,
        session: Option<&Bound<'py, Session>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let session = self.session(session)?;
        let target = self.target();
        spawn(py, async move {
            let collection = target.collection()?;
            in_session!(session, collection.drop_indexes()).map_err(|e| target.wrap(e))?;
            Ok(Done)
        })
    }

    /// Drops the collection with its documents and indexes.
    #[pyo3(signature = (*, session = None))]
    fn drop<'py>(
        &self,
        py: Python<'py>,
        session: Option<&Bound<'py, Session>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let session = self.session(session)?;
        let target = self.target();
        spawn(py, async move {
            let collection = target.collection()?;
            in_session!(session, collection.drop()).map_err(|e| target.wrap(e))?;
            Ok(Done)
        })
    }
}

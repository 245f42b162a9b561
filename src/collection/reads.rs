//! Reads: find, count and aggregate, whole or through a cursor.

use bson::{doc, RawDocumentBuf};
use mongodb::options::{CountOptions, FindOneOptions};
use pyo3::prelude::*;

use crate::codec::plan::ModelPlan;
use crate::codec::{Batch, DecodedDocument};
use crate::options::{non_negative, optional_document};
use crate::query::filter_document;
use crate::runtime::spawn;
use crate::session::Session;

use super::target::{aggregate_args, collect_in_session, find_options, in_session, open_cursor};
use super::Collection;

#[pymethods]
impl Collection {
    /// Returns every matching document (as models where `plan` says how, see `ModelPlan`).
    #[pyo3(signature = (filter, *, sort = None, skip = None, limit = None, projection = None, batch_size = None, session = None, plan = None))]
    #[allow(clippy::too_many_arguments)]
    fn find<'py>(
        &self,
        py: Python<'py>,
        filter: &Bound<'py, PyAny>,
        sort: Option<&Bound<'py, PyAny>>,
        skip: Option<&Bound<'_, PyAny>>,
        limit: Option<&Bound<'_, PyAny>>,
        projection: Option<&Bound<'py, PyAny>>,
        batch_size: Option<u32>,
        session: Option<&Bound<'py, Session>>,
        plan: Option<Py<ModelPlan>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let filter = filter_document(Some(filter))?;
        let options = find_options(sort, skip, limit, projection, batch_size)?;
        let session = self.session(session)?;
        let target = self.target();
        spawn(py, async move {
            let collection = target.collection()?;
            let docs = collect_in_session!(
                session,
                target,
                collection.find(filter).with_options(options)
            );
            Ok(Batch(docs, plan))
        })
    }

    /// Opens a cursor that yields the matching documents batch by batch.
    #[pyo3(signature = (filter, *, sort = None, skip = None, limit = None, projection = None, batch_size = None, session = None, plan = None))]
    #[allow(clippy::too_many_arguments)]
    fn find_cursor<'py>(
        &self,
        py: Python<'py>,
        filter: &Bound<'py, PyAny>,
        sort: Option<&Bound<'py, PyAny>>,
        skip: Option<&Bound<'_, PyAny>>,
        limit: Option<&Bound<'_, PyAny>>,
        projection: Option<&Bound<'py, PyAny>>,
        batch_size: Option<u32>,
        session: Option<&Bound<'py, Session>>,
        plan: Option<Py<ModelPlan>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let filter = filter_document(Some(filter))?;
        let options = find_options(sort, skip, limit, projection, batch_size)?;
        let session = self.session(session)?;
        let target = self.target();
        spawn(py, async move {
            let collection = target.collection()?;
            let action = collection.find(filter).with_options(options);
            Ok(open_cursor!(session, target, action, batch_size).with_plan(plan))
        })
    }

    #[pyo3(signature = (filter, *, sort = None, skip = None, projection = None, session = None, plan = None))]
    #[allow(clippy::too_many_arguments)]
    fn find_one<'py>(
        &self,
        py: Python<'py>,
        filter: &Bound<'py, PyAny>,
        sort: Option<&Bound<'py, PyAny>>,
        skip: Option<&Bound<'_, PyAny>>,
        projection: Option<&Bound<'py, PyAny>>,
        session: Option<&Bound<'py, Session>>,
        plan: Option<Py<ModelPlan>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let filter = filter_document(Some(filter))?;
        let mut options = FindOneOptions::default();
        options.sort = optional_document(sort)?;
        options.skip = non_negative("skip", skip)?;
        options.projection = optional_document(projection)?;
        let session = self.session(session)?;
        let target = self.target();
        spawn(py, async move {
            let collection = target.collection()?;
            let doc = in_session!(session, collection.find_one(filter).with_options(options))
                .map_err(|e| target.wrap(e))?;
            Ok(DecodedDocument(doc, plan))
        })
    }

    #[pyo3(signature = (filter, *, skip = None, limit = None, session = None))]
    fn count_documents<'py>(
        &self,
        py: Python<'py>,
        filter: &Bound<'py, PyAny>,
        skip: Option<&Bound<'_, PyAny>>,
        limit: Option<&Bound<'_, PyAny>>,
        session: Option<&Bound<'py, Session>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let filter = filter_document(Some(filter))?;
        let mut options = CountOptions::default();
        options.skip = non_negative("skip", skip)?;
        options.limit = non_negative("limit", limit)?;
        let session = self.session(session)?;
        let target = self.target();
        spawn(py, async move {
            let collection = target.collection()?;
            in_session!(
                session,
                collection.count_documents(filter).with_options(options)
            )
            .map_err(|e| target.wrap(e))
        })
    }

    /// Runs an aggregation pipeline and returns every result document (as models where `plan`
    /// says how).
    #[pyo3(signature = (pipeline, *, batch_size = None, allow_disk_use = None, session = None, plan = None))]
    fn aggregate<'py>(
        &self,
        py: Python<'py>,
        pipeline: &Bound<'py, PyAny>,
        batch_size: Option<u32>,
        allow_disk_use: Option<bool>,
        session: Option<&Bound<'py, Session>>,
        plan: Option<Py<ModelPlan>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (pipeline, options) = aggregate_args(pipeline, batch_size, allow_disk_use)?;
        let session = self.session(session)?;
        let target = self.target();
        spawn(py, async move {
            let collection = target.collection()?;
            let docs = collect_in_session!(
                session,
                target,
                collection
                    .aggregate(pipeline)
                    .with_options(options)
                    .with_type::<RawDocumentBuf>()
            );
            Ok(Batch(docs, plan))
        })
    }

    /// Runs an aggregation pipeline and returns a cursor over its results.
    #[pyo3(signature = (pipeline, *, batch_size = None, allow_disk_use = None, session = None, plan = None))]
    fn aggregate_cursor<'py>(
        &self,
        py: Python<'py>,
        pipeline: &Bound<'py, PyAny>,
        batch_size: Option<u32>,
        allow_disk_use: Option<bool>,
        session: Option<&Bound<'py, Session>>,
        plan: Option<Py<ModelPlan>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (pipeline, options) = aggregate_args(pipeline, batch_size, allow_disk_use)?;
        let session = self.session(session)?;
        let target = self.target();
        spawn(py, async move {
            let collection = target.collection()?;
            let action = collection
                .aggregate(pipeline)
                .with_options(options)
                .with_type::<RawDocumentBuf>();
            Ok(open_cursor!(session, target, action, batch_size).with_plan(plan))
        })
    }
}

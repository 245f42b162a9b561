//! Writes: inserts, updates (plain, returning the document, or versioned) and deletes.

use bson::doc;
use mongodb::options::{FindOneAndUpdateOptions, ReturnDocument, UpdateOptions};
use pyo3::prelude::*;

use crate::codec::plan::ModelPlan;
use crate::codec::write::encode_with_plan;
use crate::codec::{encode_document, encode_filter, DecodedDocument};
use crate::error::{Error, TooLarge, MAX_DOCUMENT_BYTES};
use crate::options::{optional_document, update_modifications};
use crate::query::filter_document;
use crate::results::Updated;
use crate::runtime::{spawn, Done};
use crate::session::Session;

use super::target::{in_session, VersionedWrite};
use super::Collection;

#[pymethods]
impl Collection {
    /// Inserts one document: a mapping, or a model encoded by `plan` (see `ModelPlan`).
    #[pyo3(signature = (document, *, session = None, plan = None))]
    fn insert_one<'py>(
        &self,
        py: Python<'py>,
        document: &Bound<'py, PyAny>,
        session: Option<&Bound<'py, Session>>,
        plan: Option<&Bound<'py, ModelPlan>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let document = match plan {
            Some(plan) => encode_with_plan(document, plan.get())?,
            None => encode_document(document)?,
        };
        if let Some(error) = TooLarge::check(&document, 0, 0) {
            return Err(Error::TooLarge(Box::new(error)).into());
        }
        let session = self.session(session)?;
        let target = self.target();
        spawn(py, async move {
            let collection = target.collection()?;
            in_session!(session, collection.insert_one(document)).map_err(|e| target.wrap(e))?;
            Ok(Done)
        })
    }

    /// Inserts the documents in one or more batches; returns how many were inserted. With
    /// `plan`, models are encoded from their fields (see `ModelPlan`).
    #[pyo3(signature = (documents, *, ordered = true, session = None, plan = None))]
    fn insert_many<'py>(
        &self,
        py: Python<'py>,
        documents: &Bound<'py, PyAny>,
        ordered: bool,
        session: Option<&Bound<'py, Session>>,
        plan: Option<&Bound<'py, ModelPlan>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let documents = documents
            .try_iter()?
            .map(|d| match plan {
                Some(plan) => encode_with_plan(&d?, plan.get()),
                None => encode_document(&d?),
            })
            .collect::<PyResult<Vec<_>>>()?;
        // A document over MongoDB's 16 MiB limit is refused as the server refuses a write:
        // ordered, the documents before it are stored; unordered, all the others are.
        let oversized = documents
            .iter()
            .position(|d| d.as_bytes().len() > MAX_DOCUMENT_BYTES);
        let (documents, refused) = match oversized {
            None => (documents, None),
            Some(first) => {
                let refused = TooLarge::check(&documents[first], first, 0);
                let kept = if ordered {
                    documents.into_iter().take(first).collect()
                } else {
                    documents
                        .into_iter()
                        .filter(|d| d.as_bytes().len() <= MAX_DOCUMENT_BYTES)
                        .collect()
                };
                (kept, refused)
            }
        };
        let session = self.session(session)?;
        let target = self.target();
        spawn(py, async move {
            let inserted = if documents.is_empty() {
                0
            } else {
                let collection = target.collection()?;
                let insert = collection.insert_many(documents).ordered(ordered);
                let result = in_session!(session, insert).map_err(|e| target.wrap(e))?;
                result.inserted_ids.len()
            };
            match refused {
                Some(error) => Err(Error::TooLarge(Box::new(TooLarge { inserted, ..error }))),
                None => Ok(inserted),
            }
        })
    }

    /// Updates the first matching document; returns an `UpdateOutcome`.
    #[pyo3(signature = (filter, update, *, upsert = false, session = None))]
    fn update_one<'py>(
        &self,
        py: Python<'py>,
        filter: &Bound<'py, PyAny>,
        update: &Bound<'py, PyAny>,
        upsert: bool,
        session: Option<&Bound<'py, Session>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.update(py, filter, update, upsert, false, session)
    }

    /// Updates every matching document; returns an `UpdateOutcome`.
    #[pyo3(signature = (filter, update, *, upsert = false, session = None))]
    fn update_many<'py>(
        &self,
        py: Python<'py>,
        filter: &Bound<'py, PyAny>,
        update: &Bound<'py, PyAny>,
        upsert: bool,
        session: Option<&Bound<'py, Session>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.update(py, filter, update, upsert, true, session)
    }

    /// Atomically updates one document and returns it as stored after (or before) the update.
    #[pyo3(signature = (filter, update, *, sort = None, projection = None, upsert = false, return_after = true, session = None))]
    #[allow(clippy::too_many_arguments)]
    fn find_one_and_update<'py>(
        &self,
        py: Python<'py>,
        filter: &Bound<'py, PyAny>,
        update: &Bound<'py, PyAny>,
        sort: Option<&Bound<'py, PyAny>>,
        projection: Option<&Bound<'py, PyAny>>,
        upsert: bool,
        return_after: bool,
        session: Option<&Bound<'py, Session>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let filter = filter_document(Some(filter))?;
        let update = update_modifications(update)?;
        let mut options = FindOneAndUpdateOptions::default();
        options.sort = optional_document(sort)?;
        options.projection = optional_document(projection)?;
        options.upsert = Some(upsert);
        options.return_document = Some(if return_after {
            ReturnDocument::After
        } else {
            ReturnDocument::Before
        });
        let session = self.session(session)?;
        let target = self.target();
        spawn(py, async move {
            let collection = target.collection()?;
            let doc = in_session!(
                session,
                collection
                    .find_one_and_update(filter, update)
                    .with_options(options)
            )
            .map_err(|e| target.wrap(e))?;
            Ok(DecodedDocument::of(doc))
        })
    }

    /// Optimistic concurrency: `$set`s `changes` and increments the counter field `version`
    /// on the document matching `filter` whose counter is `expected_version` (any when None).
    /// Returns a `VersionedOutcome`: the stored document after the update, or when nothing
    /// matched, whether the document exists and its current version, from a second read of
    /// `filter` alone (so the caller can tell a conflict from a missing document). Nothing is
    /// written on a conflict. Which field is the counter is the caller's policy.
    #[pyo3(signature = (filter, changes, expected_version, *, version, session = None))]
    fn versioned_update<'py>(
        &self,
        py: Python<'py>,
        filter: &Bound<'py, PyAny>,
        changes: &Bound<'py, PyAny>,
        expected_version: Option<i64>,
        version: String,
        session: Option<&Bound<'py, Session>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let write = VersionedWrite::new(
            filter_document(Some(filter))?,
            encode_filter(changes)?,
            expected_version,
            version,
        )?;
        let session = self.session(session)?;
        let target = self.target();
        spawn(py, async move { write.run(&target, session).await })
    }

    /// Deletes the first matching document; returns how many were deleted (0 or 1).
    #[pyo3(signature = (filter, *, session = None))]
    fn delete_one<'py>(
        &self,
        py: Python<'py>,
        filter: &Bound<'py, PyAny>,
        session: Option<&Bound<'py, Session>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.delete(py, filter, false, session)
    }

    /// Deletes every matching document; returns how many were deleted.
    #[pyo3(signature = (filter, *, session = None))]
    fn delete_many<'py>(
        &self,
        py: Python<'py>,
        filter: &Bound<'py, PyAny>,
        session: Option<&Bound<'py, Session>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.delete(py, filter, true, session)
    }
}

impl Collection {
    fn update<'py>(
        &self,
        py: Python<'py>,
        filter: &Bound<'py, PyAny>,
        update: &Bound<'py, PyAny>,
        upsert: bool,
        many: bool,
        session: Option<&Bound<'py, Session>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let filter = filter_document(Some(filter))?;
        let update = update_modifications(update)?;
        let mut options = UpdateOptions::default();
        options.upsert = Some(upsert);
        let session = self.session(session)?;
        let target = self.target();
        spawn(py, async move {
            let collection = target.collection()?;
            let result = if many {
                in_session!(
                    session,
                    collection.update_many(filter, update).with_options(options)
                )
            } else {
                in_session!(
                    session,
                    collection.update_one(filter, update).with_options(options)
                )
            }
            .map_err(|e| target.wrap(e))?;
            Ok(Updated {
                matched: result.matched_count,
                modified: result.modified_count,
                upserted_id: result
                    .upserted_id
                    .and_then(|id| bson::RawBson::try_from(id).ok()),
            })
        })
    }

    fn delete<'py>(
        &self,
        py: Python<'py>,
        filter: &Bound<'py, PyAny>,
        many: bool,
        session: Option<&Bound<'py, Session>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let filter = filter_document(Some(filter))?;
        let session = self.session(session)?;
        let target = self.target();
        spawn(py, async move {
            let collection = target.collection()?;
            let result = if many {
                in_session!(session, collection.delete_many(filter))
            } else {
                in_session!(session, collection.delete_one(filter))
            }
            .map_err(|e| target.wrap(e))?;
            Ok(result.deleted_count)
        })
    }
}

//! Vellum's native core: BSON conversion, the MongoDB driver and the async bridge.
//!
//! This file only declares modules and the Python export list.

mod allocator;
mod client;
pub mod codec;
mod collection;
mod cursor;
mod driver;
pub mod error;
mod options;
pub mod pipeline;
pub mod query;
mod results;
mod runtime;
mod session;
pub mod uri;

use pyo3::prelude::*;

// Declared as needing the GIL until a free-threaded CI job shows the core is safe without it.
#[pymodule(gil_used = true)]
mod _core {
    #[pymodule_export]
    use crate::client::Client;
    #[pymodule_export]
    use crate::codec::bson_types::{
        Binary, Code, DBPointer, DatetimeMS, MaxKey, MinKey, Regex, Timestamp,
    };
    #[pymodule_export]
    use crate::codec::functions::{decode_bson, encode_bson};
    #[pymodule_export]
    use crate::codec::objectid::ObjectId;
    #[pymodule_export]
    use crate::codec::plan::ModelPlan;
    #[pymodule_export]
    use crate::collection::BulkOutcome;
    #[pymodule_export]
    use crate::collection::Collection;
    #[pymodule_export]
    use crate::cursor::Cursor;
    #[pymodule_export]
    use crate::pipeline::Pipeline;
    #[pymodule_export]
    use crate::query::{QueryExpr, UpdateSpec};
    #[pymodule_export]
    use crate::results::{UpdateOutcome, VersionedOutcome};
    #[pymodule_export]
    use crate::runtime::{bridge_overhead_probe, panic_probe};
    #[pymodule_export]
    use crate::session::Session;
    use pyo3::prelude::*;

    #[pymodule_init]
    fn init(m: &Bound<'_, PyModule>) -> PyResult<()> {
        crate::allocator::configure();
        m.add("__version__", env!("CARGO_PKG_VERSION"))?;
        Ok(())
    }
}

//! BSON <-> Python conversion.
//!
//! `encode` turns Python values into BSON on the calling thread (it reads Python objects, so it
//! needs the interpreter); `decode` builds Python objects from raw BSON batches. Both dispatch on
//! exact type pointers from a table built once ([`types::PyTypes`]), with a cold path for
//! subclasses and enums.

pub mod bson_types;
mod checks;
pub mod datetime;
mod decimal;
pub mod decode;
pub mod encode;
mod ffi;
pub mod functions;
pub mod objectid;
pub mod plan;
mod raw;
pub mod types;
pub mod write;

pub use decode::{decode_document, Batch, DecodedDocument, KeyCache};
pub use encode::{encode_document, encode_filter, encode_value_for_filter};

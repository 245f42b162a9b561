//! Q-expressions: a typed query tree built from Python and compiled to a MongoDB filter here.
//!
//! Values arrive already checked and coerced by the model's field types (Python owns Pydantic)
//! and are encoded to BSON when the node is built, so a value can never be read as an operator:
//! the tree keeps values and operators apart until compilation.

mod expr;
mod tree;
mod update;

pub use expr::{filter_document, QueryExpr};
pub use update::UpdateSpec;

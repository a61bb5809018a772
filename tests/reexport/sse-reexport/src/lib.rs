//! Re-exports sse-runtime as `sse_reexport::sse`, as a framework built on it
//! would. `sse-reexport-user` depends on this crate only.

pub use sse_runtime as sse;

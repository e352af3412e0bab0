//! WHIZ POS Back Office: the central sync hub for every branch and device.
//!
//! Map: [`schema`] (migrations), [`changes`] (the change feed devices pull).
//! The HTTP server, device keys and the rules that apply pushed ops land with
//! issue 3; see ARCHITECTURE.md.

pub mod changes;
pub mod schema;

//! The AMQP 0-9-1 codec: pure, no tokio and no broker types. Bytes in, typed frames and
//! methods out, and the reverse.
//!
//! - `frame`: the incremental frame reader (frame_max and frame-end checks) and writers.
//! - `generated`: every method as a struct plus the `Method` enum, generated from the vendored
//!   spec in `spec/` by `tests/amqp/codegen.rs`.
//! - `field_table`: tables and arrays with RabbitMQ's type codes, any nesting depth.
//! - `field_walk`: checks encoded tables and arrays without recursion.
//! - `properties`: content headers and the 14 basic properties (raw bytes kept).
//! - `primitives`: short strings and checked integer/string readers and writers.
//! - `error`: `FrameError` and `DecodeError`, each mapping to RabbitMQ's reply code.
//! - `fuzz`: the body of the fuzz targets, replayed by a stable test.
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::cast_possible_truncation
)]

pub mod erlang_format;
pub mod error;
pub mod field_table;
mod field_walk;
pub mod frame;
pub mod fuzz;
#[rustfmt::skip]
pub mod generated;
pub mod primitives;
pub mod properties;
pub mod reply_code;

#[cfg(test)]
#[rustfmt::skip]
mod generated_strategies;
#[cfg(test)]
mod test_support;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_differential;

pub use error::{DecodeError, FrameError};
pub use field_table::{FieldTable, FieldValue, read_table, table_encoded_len, write_table};
pub use frame::{
    Frame, FrameType, read_frame, write_body_frame, write_content_header_frame, write_frame_header,
    write_heartbeat_frame, write_method_frame,
};
pub use generated::*;
pub use primitives::ShortStr;
pub use properties::{BasicProperties, ContentHeader, PropertySummary, summarize_properties};
pub use reply_code::ReplyCode;

/// The protocol header a client sends first: "AMQP" 0 0 9 1.
pub const PROTOCOL_HEADER: [u8; 8] = *b"AMQP\x00\x00\x09\x01";
/// The octet that ends every frame.
pub const FRAME_END: u8 = 0xCE;
/// Frame header size: type (1), channel (2), payload size (4).
pub const FRAME_HEADER_SIZE: usize = 7;
/// Bytes a frame adds around its payload: the header and the end octet.
pub const FRAME_OVERHEAD: usize = 8;
/// The smallest frame_max a peer may negotiate.
pub const FRAME_MIN_SIZE: u32 = 4096;

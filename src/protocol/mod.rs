//! The AMQP 0-9-1 codec: pure, no tokio and no broker types. Bytes in, typed frames and
//! methods out, and the reverse.

pub mod field_table;
pub mod primitives;
pub mod reply_code;

pub use field_table::{FieldTable, FieldValue};
pub use primitives::ShortStr;
pub use reply_code::ReplyCode;

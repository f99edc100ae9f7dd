//! WebSocket endpoints: the point console (`console.rs`), speaking the
//! protocol in `protocol.rs` (documented in docs/console-protocol.md).

pub mod connections;
pub mod console;
pub mod links;
pub mod protocol;
pub mod ticket;

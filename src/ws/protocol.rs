//! Messages of the point console protocol, version 1 (JSON text frames,
//! tagged by `type`). See docs/console-protocol.md.

use serde::{Deserialize, Serialize};

use crate::attendance::CheckinAnswer;
use crate::http::operator::{
    AbsenceReport, HeadCountReport, OperatorCheckin, OperatorView, PointStats, QrView, UndoRequest,
};

pub const PROTOCOL_VERSION: u32 = 1;

/// From the console.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMessage {
    /// Every 15 seconds; keeps the point "online".
    Heartbeat {
        #[serde(default)]
        id: Option<String>,
    },
    /// A check-in (roster tick or member card).
    Checkin(OperatorCheckin),
    HeadCount(HeadCountReport),
    Absent(AbsenceReport),
    Undo(UndoRequest),
    /// Ask for a fresh `welcome` snapshot.
    Refresh,
}

/// Reads one frame from a console.
pub fn parse_client_message(text: &str) -> Result<ClientMessage, serde_json::Error> {
    serde_json::from_str(text)
}

/// To the console.
#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    /// First message, and the answer to `refresh`.
    Welcome {
        protocol: u32,
        #[serde(flatten)]
        view: Box<OperatorView>,
        qr: QrView,
    },
    /// A new QR code (every 20 seconds).
    Qr(QrView),
    /// The answer to a `checkin`: sent only once it is durable.
    Ack {
        id: String,
        answer: CheckinAnswer,
        stats: PointStats,
    },
    /// `head_count`, `absent` or `undo` applied.
    Done {
        id: Option<String>,
        op: &'static str,
        stats: PointStats,
    },
    /// A message could not be applied; `id` names it when it had one.
    Error {
        id: Option<String>,
        code: String,
        message: String,
    },
    Heartbeat {
        server_time: chrono::DateTime<chrono::FixedOffset>,
    },
}

//! Time as the product uses it: stored as milliseconds since the Unix epoch,
//! shown in Vietnam time (UTC+7, no daylight saving).

use chrono::{DateTime, FixedOffset, TimeZone, Utc};

pub fn vietnam() -> FixedOffset {
    FixedOffset::east_opt(7 * 3600).expect("UTC+7 is a valid offset")
}

pub fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

/// Milliseconds since the epoch → a time in Vietnam's offset.
pub fn to_local(ms: i64) -> DateTime<FixedOffset> {
    vietnam()
        .timestamp_millis_opt(ms)
        .single()
        .unwrap_or_else(|| vietnam().timestamp_millis_opt(0).unwrap())
}

pub fn from_datetime(t: &DateTime<FixedOffset>) -> i64 {
    t.timestamp_millis()
}

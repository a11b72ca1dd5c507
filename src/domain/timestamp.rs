//! Timestamps are stored as milliseconds since the Unix epoch (both engines compare and index
//! them the same way) and rendered as RFC 3339 UTC with milliseconds.

use serde::{Serialize, Serializer};
use time::OffsetDateTime;
use time::macros::format_description;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, sqlx::Type)]
#[sqlx(transparent)]
pub struct Timestamp(pub i64);

impl Timestamp {
    pub fn now() -> Self {
        Timestamp((OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64)
    }
    pub fn plus_secs(self, secs: i64) -> Self {
        Timestamp(self.0.saturating_add(secs.saturating_mul(1000)))
    }
    pub fn to_rfc3339(self) -> String {
        let fmt = format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
        );
        OffsetDateTime::from_unix_timestamp_nanos(self.0 as i128 * 1_000_000)
            .ok()
            .and_then(|t| t.format(&fmt).ok())
            .unwrap_or_default()
    }
    pub fn parse(s: &str) -> Option<Self> {
        let t = OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()?;
        Some(Timestamp((t.unix_timestamp_nanos() / 1_000_000) as i64))
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_rfc3339())
    }
}

impl<'de> serde::Deserialize<'de> for Timestamp {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Timestamp::parse(&s)
            .ok_or_else(|| serde::de::Error::custom("expected an RFC 3339 timestamp"))
    }
}

impl utoipa::PartialSchema for Timestamp {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                utoipa::openapi::KnownFormat::DateTime,
            )))
            .examples([serde_json::json!("2025-07-19T14:26:05.721Z")])
            .into()
    }
}
impl utoipa::ToSchema for Timestamp {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_utc_with_milliseconds() {
        assert_eq!(
            Timestamp(1_752_935_165_721).to_rfc3339(),
            "2025-07-19T14:26:05.721Z"
        );
        assert_eq!(Timestamp(0).to_rfc3339(), "1970-01-01T00:00:00.000Z");
    }

    #[test]
    fn parses_what_it_renders_and_offsets() {
        assert_eq!(
            Timestamp::parse("2025-07-19T14:26:05.721Z"),
            Some(Timestamp(1_752_935_165_721))
        );
        assert_eq!(
            Timestamp::parse("2025-07-19T16:26:05.721+02:00"),
            Some(Timestamp(1_752_935_165_721))
        );
        assert_eq!(Timestamp::parse("yesterday"), None);
    }
}

/// The time the licensing rules run on: the system clock, shifted by an offset that tests move
/// forward (expiry and staleness are tested by advancing it, never by sleeping). Clones share the
/// offset.
#[derive(Debug, Clone, Default)]
pub struct Clock(std::sync::Arc<std::sync::atomic::AtomicI64>);

impl Clock {
    pub fn now(&self) -> Timestamp {
        let offset = self.0.load(std::sync::atomic::Ordering::Relaxed);
        Timestamp(Timestamp::now().0.saturating_add(offset))
    }
    /// Moves this clock (and its clones) forward by `secs`.
    pub fn advance_secs(&self, secs: i64) {
        self.0.fetch_add(
            secs.saturating_mul(1000),
            std::sync::atomic::Ordering::Relaxed,
        );
    }
}

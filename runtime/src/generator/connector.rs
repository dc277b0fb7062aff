//! Generator source connectors declared in SQL: `CREATE STREAM ... WITH (CONNECTOR='nexmark' | 'datagen',
//! EVENTS_PER_SECOND=n (0 = unlimited), MAX_EVENTS=n, SEED=n, ...)`. The spec turns a row number into
//! the stream's columns; `connector_task` writes the rows to the stream's topic.

use eddy_catalog::SqlType;
use eddy_parser::Properties;
use serde_json::Value as Json;

use super::datagen::Datagen;
use super::nexmark::{NexmarkConfig, NexmarkEvent, NexmarkGenerator};
use crate::error::{Result, RuntimeError};
use crate::format::json_to_value;
use crate::value::Value;

/// The properties a connector reads, besides the stream's own.
pub const CONNECTOR_PROPERTIES: [&str; 6] =
    ["CONNECTOR", "EVENTS_PER_SECOND", "MAX_EVENTS", "SEED", "NEXMARK_EVENT", "DATAGEN_RANGES"];

/// Which Nexmark entity a stream carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NexmarkKind {
    Person,
    Auction,
    Bid,
}

impl NexmarkKind {
    fn parse(text: &str) -> Option<Self> {
        match text.to_ascii_lowercase().as_str() {
            "person" => Some(Self::Person),
            "auction" => Some(Self::Auction),
            "bid" => Some(Self::Bid),
            _ => None,
        }
    }

    /// Field names of the entity (snake_case; camelCase column names match too).
    fn fields(self) -> &'static [&'static str] {
        match self {
            Self::Person => &["id", "name", "email_address", "credit_card", "city", "state", "date_time", "extra"],
            Self::Auction => &[
                "id",
                "item_name",
                "description",
                "initial_bid",
                "reserve",
                "date_time",
                "expires",
                "seller",
                "category",
                "extra",
            ],
            Self::Bid => &["auction", "bidder", "price", "channel", "url", "date_time", "extra"],
        }
    }

    fn is(self, event: &NexmarkEvent) -> bool {
        matches!(
            (self, event),
            (Self::Person, NexmarkEvent::Person(_))
                | (Self::Auction, NexmarkEvent::Auction(_))
                | (Self::Bid, NexmarkEvent::Bid(_))
        )
    }
}

/// What produces the rows.
#[derive(Debug, Clone)]
pub enum RowSource {
    /// One Nexmark entity; column `i` reads field `fields[i]`.
    Nexmark {
        kind: NexmarkKind,
        generator: NexmarkGenerator,
        fields: Vec<&'static str>,
    },
    Datagen(Datagen),
}

/// A generator connector, validated against the stream's columns.
#[derive(Debug, Clone)]
pub struct ConnectorSpec {
    /// `nexmark` or `datagen`.
    pub name: String,
    pub source: RowSource,
    /// Rows per second; 0 is as fast as the broker takes them.
    pub events_per_second: u64,
    /// Rows to write in all; None runs until the stream is dropped.
    pub max_events: Option<u64>,
    /// Column names and types, keys first, as the stream declares them.
    pub columns: Vec<(String, SqlType)>,
}

/// One generated row: the record timestamp and one value per column.
#[derive(Debug, Clone, PartialEq)]
pub struct GeneratedRow {
    pub timestamp: i64,
    pub values: Vec<Value>,
}

fn invalid(message: impl Into<String>) -> RuntimeError {
    RuntimeError::Unsupported(message.into())
}

fn number(props: &Properties, name: &str) -> Result<Option<u64>> {
    match props.get(name) {
        None => Ok(None),
        Some(text) => text
            .trim()
            .parse::<u64>()
            .map(Some)
            .map_err(|_| invalid(format!("Invalid value for {name}: '{text}' (expected a non-negative integer)"))),
    }
}

/// Letters only, lowercase: `date_time`, `DATE_TIME` and `dateTime` are the same field.
fn normalized(name: &str) -> String {
    name.chars().filter(|c| *c != '_').flat_map(char::to_lowercase).collect()
}

impl ConnectorSpec {
    /// The connector a stream's WITH clause declares, if any; `columns` are the stream's, keys first.
    pub fn from_properties(props: &Properties, columns: &[(String, SqlType)]) -> Result<Option<Self>> {
        let Some(connector) = props.get("CONNECTOR") else {
            if let Some(p) = CONNECTOR_PROPERTIES.iter().find(|p| props.get(p).is_some()) {
                return Err(invalid(format!("{p} is only valid with CONNECTOR='nexmark' or CONNECTOR='datagen'")));
            }
            return Ok(None);
        };
        let seed = number(props, "SEED")?.unwrap_or(0);
        let name = connector.to_ascii_lowercase();
        let source = match name.as_str() {
            "nexmark" => {
                if props.get("DATAGEN_RANGES").is_some() {
                    return Err(invalid("DATAGEN_RANGES is only valid with CONNECTOR='datagen'"));
                }
                let kind_text = props
                    .get("NEXMARK_EVENT")
                    .ok_or_else(|| invalid("CONNECTOR='nexmark' needs NEXMARK_EVENT='person', 'auction' or 'bid'"))?;
                let kind = NexmarkKind::parse(&kind_text).ok_or_else(|| {
                    invalid(format!("Invalid NEXMARK_EVENT '{kind_text}': use 'person', 'auction' or 'bid'"))
                })?;
                let fields = columns
                    .iter()
                    .map(|(column, _)| {
                        kind.fields().iter().find(|f| normalized(f) == normalized(column)).copied().ok_or_else(|| {
                            invalid(format!(
                                "Column `{column}` is not a field of the Nexmark {kind_text} event; its fields are: {}",
                                kind.fields().join(", ")
                            ))
                        })
                    })
                    .collect::<Result<Vec<_>>>()?;
                let generator = NexmarkGenerator::new(NexmarkConfig { seed, ..NexmarkConfig::default() });
                RowSource::Nexmark { kind, generator, fields }
            }
            "datagen" => {
                if props.get("NEXMARK_EVENT").is_some() {
                    return Err(invalid("NEXMARK_EVENT is only valid with CONNECTOR='nexmark'"));
                }
                RowSource::Datagen(Datagen::new(columns, props.get("DATAGEN_RANGES").as_deref(), seed)?)
            }
            other => return Err(invalid(format!("Unknown CONNECTOR '{other}': use 'nexmark' or 'datagen'"))),
        };
        Ok(Some(Self {
            name,
            source,
            events_per_second: number(props, "EVENTS_PER_SECOND")?.unwrap_or(0),
            max_events: number(props, "MAX_EVENTS")?,
            columns: columns.to_vec(),
        }))
    }

    /// Row `i` of the stream (rows are numbered from 0; the same for a seed).
    pub fn row(&self, i: u64) -> Result<GeneratedRow> {
        match &self.source {
            RowSource::Nexmark { kind, generator, fields } => {
                let n = nexmark_event_number(*kind, i);
                let event = generator.event(n);
                debug_assert!(kind.is(&event));
                let json = event.to_value();
                let values = fields
                    .iter()
                    .zip(&self.columns)
                    .map(|(f, (_, ty))| json_to_value(json.get(f).unwrap_or(&Json::Null), ty))
                    .collect::<Result<Vec<_>>>()?;
                Ok(GeneratedRow { timestamp: event.date_time(), values })
            }
            RowSource::Datagen(d) => Ok(d.row(i)),
        }
    }
}

/// The number, in the Nexmark event sequence, of the `i`-th event of a kind (50 events hold 1 person,
/// 3 auctions and 46 bids, in that order).
fn nexmark_event_number(kind: NexmarkKind, i: u64) -> u64 {
    match kind {
        NexmarkKind::Person => i * 50,
        NexmarkKind::Auction => (i / 3) * 50 + 1 + i % 3,
        NexmarkKind::Bid => (i / 46) * 50 + 4 + i % 46,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use eddy_parser::PropertyValue;

    fn props(pairs: &[(&str, &str)]) -> Properties {
        Properties(pairs.iter().map(|(k, v)| (k.to_string(), PropertyValue::String(v.to_string()))).collect())
    }

    fn bid_columns() -> Vec<(String, SqlType)> {
        vec![
            ("AUCTION".into(), SqlType::Bigint),
            ("PRICE".into(), SqlType::Bigint),
            ("dateTime".into(), SqlType::Timestamp),
            ("CHANNEL".into(), SqlType::String),
        ]
    }

    #[test]
    fn nexmark_rows_are_the_generators_events_of_the_kind() {
        let spec = ConnectorSpec::from_properties(
            &props(&[("CONNECTOR", "nexmark"), ("NEXMARK_EVENT", "bid"), ("MAX_EVENTS", "10")]),
            &bid_columns(),
        )
        .unwrap()
        .unwrap();
        assert_eq!(spec.max_events, Some(10));
        let generator = NexmarkGenerator::new(NexmarkConfig::default());
        let bids: Vec<u64> = (0..200).filter(|n| NexmarkGenerator::is_bid(*n)).collect();
        for i in [0u64, 1, 45, 46, 100] {
            let NexmarkEvent::Bid(bid) = generator.event(bids[i as usize]) else { panic!("not a bid") };
            let row = spec.row(i).unwrap();
            assert_eq!(row.timestamp, bid.date_time);
            assert_eq!(
                row.values,
                vec![
                    Value::Bigint(bid.auction),
                    Value::Bigint(bid.price),
                    Value::Timestamp(bid.date_time),
                    Value::String(bid.channel.clone())
                ]
            );
        }
        for (kind, n) in [(NexmarkKind::Person, 0u64), (NexmarkKind::Auction, 5), (NexmarkKind::Bid, 47)] {
            assert!(kind.is(&generator.event(nexmark_event_number(kind, n))));
        }
    }

    #[test]
    fn refuses_what_it_cannot_generate() {
        let err = |pairs: &[(&str, &str)]| {
            ConnectorSpec::from_properties(&props(pairs), &bid_columns()).unwrap_err().to_string()
        };
        assert!(err(&[("CONNECTOR", "nexmark")]).contains("needs NEXMARK_EVENT"));
        assert!(err(&[("CONNECTOR", "nexmark"), ("NEXMARK_EVENT", "bids")]).contains("Invalid NEXMARK_EVENT"));
        assert!(err(&[("CONNECTOR", "nexmark"), ("NEXMARK_EVENT", "person")]).contains("`AUCTION` is not a field"));
        assert!(err(&[("CONNECTOR", "kafka")]).contains("Unknown CONNECTOR"));
        assert!(err(&[("MAX_EVENTS", "5")]).contains("only valid with CONNECTOR"));
        assert!(err(&[("CONNECTOR", "datagen"), ("MAX_EVENTS", "-1")]).contains("Invalid value for MAX_EVENTS"));
        assert!(ConnectorSpec::from_properties(&props(&[]), &bid_columns()).unwrap().is_none());
    }
}

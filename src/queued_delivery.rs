//! What the spill queue holds: an authenticated delivery that DynamoDB could not take, exactly as
//! received, with its original time of receipt. The drain applies it later through the same
//! [`crate::acceptance::Acceptor`], so it gets the same event id (stored once) and the same
//! message-state rules (any order). The format is a contract between the function and the drain
//! of possibly different versions (docs/data-model.md#the-spill-queue): fields are only added.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::platform::Platform;
use crate::records::Received;
use crate::webhook_event::MAX_BODY_BYTES;

/// The message format's version.
pub const VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueuedDelivery {
    pub version: u32,
    pub platform: Platform,
    /// API Gateway's (or Lambda's) request id of the original delivery.
    pub request_id: String,
    /// When the function received it (sortable UTC, as stored in `received_at`).
    pub received_at: String,
    /// The event id, when the body parsed (for operators; the drain computes it again).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    /// The raw body, base64: any bytes, and within SQS's message size (64 KiB → 86 KiB).
    /// Absent for a body over the size limit, which is kept as its size and hash only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_base64: Option<String>,
    /// The body's size in bytes (for a body over the limit, all that is kept besides its hash).
    pub body_size: usize,
    /// Lower-case hex SHA-256 of the body, only for a body over the limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_sha256: Option<String>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum QueuedDeliveryError {
    #[error("not a queued FlowIQ delivery: {0}")]
    Format(String),
    #[error(
        "queued delivery version {0} is newer than this drain understands ({VERSION}): deploy the new version"
    )]
    Version(u32),
    #[error("`received_at` {0:?} is not an RFC 3339 time")]
    ReceivedAt(String),
    #[error("`body_base64` is not base64")]
    Body,
    #[error("the body's size {size} does not match its {actual} decoded bytes")]
    Size { size: usize, actual: usize },
}

/// The body a queued delivery stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueuedBody {
    Bytes(Vec<u8>),
    /// Over [`MAX_BODY_BYTES`]: only its size and SHA-256 were kept.
    OverLimit {
        size: usize,
        sha256: String,
    },
}

impl QueuedDelivery {
    /// An authenticated delivery's body as received, from `platform`'s URL, with API Gateway's
    /// request id and the time of receipt.
    pub fn of(
        platform: Platform,
        body: &[u8],
        request_id: &str,
        received: &Received,
        event_id: Option<&str>,
    ) -> Self {
        let over_limit = body.len() > MAX_BODY_BYTES;
        QueuedDelivery {
            version: VERSION,
            platform,
            request_id: request_id.to_owned(),
            received_at: received.at_text.clone(),
            event_id: event_id.map(str::to_owned),
            body_base64: (!over_limit).then(|| STANDARD.encode(body)),
            body_size: body.len(),
            body_sha256: over_limit.then(|| crate::records::sha256_hex(body)),
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a queued delivery serialises")
    }

    pub fn from_json(text: &str) -> Result<Self, QueuedDeliveryError> {
        let queued: Self =
            serde_json::from_str(text).map_err(|e| QueuedDeliveryError::Format(e.to_string()))?;
        if queued.version > VERSION {
            return Err(QueuedDeliveryError::Version(queued.version));
        }
        Ok(queued)
    }

    /// The original time of receipt.
    pub fn received(&self) -> Result<Received, QueuedDeliveryError> {
        OffsetDateTime::parse(&self.received_at, &Rfc3339)
            .map(Received::at)
            .map_err(|_| QueuedDeliveryError::ReceivedAt(self.received_at.clone()))
    }

    pub fn body(&self) -> Result<QueuedBody, QueuedDeliveryError> {
        match (&self.body_base64, &self.body_sha256) {
            (Some(encoded), _) => {
                let bytes = STANDARD
                    .decode(encoded)
                    .map_err(|_| QueuedDeliveryError::Body)?;
                if bytes.len() != self.body_size {
                    return Err(QueuedDeliveryError::Size {
                        size: self.body_size,
                        actual: bytes.len(),
                    });
                }
                Ok(QueuedBody::Bytes(bytes))
            }
            (None, Some(sha256)) => Ok(QueuedBody::OverLimit {
                size: self.body_size,
                sha256: sha256.clone(),
            }),
            (None, None) => Err(QueuedDeliveryError::Format(
                "neither `body_base64` nor `body_sha256`".to_owned(),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn received() -> Received {
        Received::at(OffsetDateTime::parse("2026-03-07T10:00:00.123Z", &Rfc3339).unwrap())
    }

    #[test]
    fn a_body_comes_back_byte_for_byte_with_its_time_of_receipt() {
        let received = received();
        for body in [
            &b"{\"event_type\":\"message_read\"}"[..],
            b"\xff\xfe not utf-8",
            b"",
        ] {
            let queued = QueuedDelivery::of(Platform::Web, body, "req-1", &received, Some("abc"));
            let json = queued.to_json();
            let queued = QueuedDelivery::from_json(&json).unwrap();
            assert_eq!(queued.body().unwrap(), QueuedBody::Bytes(body.to_vec()));
            assert_eq!(
                queued.received().unwrap().at_text,
                "2026-03-07T10:00:00.123Z"
            );
            assert_eq!(
                (queued.platform, queued.request_id.as_str()),
                (Platform::Web, "req-1")
            );
            assert_eq!(queued.event_id.as_deref(), Some("abc"));
        }
    }

    #[test]
    fn a_body_over_the_limit_is_queued_as_its_size_and_hash() {
        let body = vec![b'x'; MAX_BODY_BYTES + 1];
        let received = received();
        let json =
            QueuedDelivery::of(Platform::Whatsapp, &body, "req-2", &received, None).to_json();
        assert!(json.len() < 1_000, "{}", json.len());
        let QueuedBody::OverLimit { size, sha256 } =
            QueuedDelivery::from_json(&json).unwrap().body().unwrap()
        else {
            panic!("{json}")
        };
        assert_eq!(
            (size, sha256),
            (body.len(), crate::records::sha256_hex(&body))
        );
    }

    #[test]
    fn a_foreign_or_newer_message_is_refused_with_a_reason() {
        assert!(matches!(
            QueuedDelivery::from_json("{}"),
            Err(QueuedDeliveryError::Format(_))
        ));
        let newer = r#"{"version":2,"platform":"web","request_id":"r","received_at":"2026-03-07T10:00:00.000Z","body_size":0,"body_base64":""}"#;
        assert_eq!(
            QueuedDelivery::from_json(newer),
            Err(QueuedDeliveryError::Version(2))
        );
        let bad_size = r#"{"version":1,"platform":"web","request_id":"r","received_at":"2026-03-07T10:00:00.000Z","body_size":3,"body_base64":"YQ=="}"#;
        assert_eq!(
            QueuedDelivery::from_json(bad_size).unwrap().body(),
            Err(QueuedDeliveryError::Size { size: 3, actual: 1 })
        );
    }
}

//! The event types a FlowIQ webhook can subscribe to (Create Webhook's `type`).

use std::fmt;

use serde::Serialize;

/// The documented values of Create Webhook's `type`; `all` subscribes to every event type
/// through one webhook.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
#[value(rename_all = "snake_case")]
pub enum WebhookType {
    MessageReceived,
    MessageSent,
    SentMessage,
    MessageDelivered,
    MessageRead,
    MessageFailed,
    Call,
    All,
}

impl WebhookType {
    pub const ALL: [WebhookType; 8] = [
        WebhookType::MessageReceived,
        WebhookType::MessageSent,
        WebhookType::SentMessage,
        WebhookType::MessageDelivered,
        WebhookType::MessageRead,
        WebhookType::MessageFailed,
        WebhookType::Call,
        WebhookType::All,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            WebhookType::MessageReceived => "message_received",
            WebhookType::MessageSent => "message_sent",
            WebhookType::SentMessage => "sent_message",
            WebhookType::MessageDelivered => "message_delivered",
            WebhookType::MessageRead => "message_read",
            WebhookType::MessageFailed => "message_failed",
            WebhookType::Call => "call",
            WebhookType::All => "all",
        }
    }
}

impl fmt::Display for WebhookType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "--type all already subscribes to every event type: registering {other} as well would make \
     FlowIQ deliver those events twice. Pass either `--type all` or the individual types"
)]
pub struct AllWithOthers {
    pub other: WebhookType,
}

/// The types to register, in the order given, each once; none given means `all`. `all` together
/// with a specific type is refused.
pub fn select_types(requested: &[WebhookType]) -> Result<Vec<WebhookType>, AllWithOthers> {
    let mut selected: Vec<WebhookType> = Vec::new();
    for &event_type in requested {
        if !selected.contains(&event_type) {
            selected.push(event_type);
        }
    }
    if selected.is_empty() {
        return Ok(vec![WebhookType::All]);
    }
    if selected.len() > 1 && selected.contains(&WebhookType::All) {
        let other = *selected.iter().find(|t| **t != WebhookType::All).unwrap();
        return Err(AllWithOthers { other });
    }
    Ok(selected)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::ValueEnum;

    #[test]
    fn names_are_flowiqs() {
        let names: Vec<_> = WebhookType::ALL.iter().map(|t| t.as_str()).collect();
        assert_eq!(
            names,
            [
                "message_received",
                "message_sent",
                "sent_message",
                "message_delivered",
                "message_read",
                "message_failed",
                "call",
                "all"
            ]
        );
        for t in WebhookType::ALL {
            // The command line, the JSON body and the stored record spell it the same way.
            assert_eq!(WebhookType::from_str(t.as_str(), false), Ok(t));
            assert_eq!(serde_json::to_value(t).unwrap(), t.as_str());
        }
        assert_eq!(WebhookType::value_variants().len(), WebhookType::ALL.len());
        assert!(WebhookType::from_str("message-received", false).is_err());
        assert!(WebhookType::from_str("MESSAGE_READ", false).is_err());
    }

    #[test]
    fn selection_defaults_to_all_and_removes_repeats() {
        use WebhookType::*;
        assert_eq!(select_types(&[]).unwrap(), [All]);
        assert_eq!(select_types(&[All, All]).unwrap(), [All]);
        assert_eq!(
            select_types(&[MessageRead, MessageSent, MessageRead]).unwrap(),
            [MessageRead, MessageSent]
        );
    }

    #[test]
    fn all_cannot_be_combined() {
        let err = select_types(&[WebhookType::All, WebhookType::Call]).unwrap_err();
        assert_eq!(
            err,
            AllWithOthers {
                other: WebhookType::Call
            }
        );
        assert!(err.to_string().contains("--type all"), "{err}");
    }
}

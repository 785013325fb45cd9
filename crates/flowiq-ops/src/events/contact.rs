//! The `--contact` argument: a WhatsApp number or FlowIQ's contact id (web chat), as the
//! `by-contact` index keys a conversation.

use crate::queries::Contact;

/// What a malformed `--contact` is told (clap prefixes the argument's name).
const INVALID: &str =
    "expected a WhatsApp number (e.g. 27830000001), wa:<number> or id:<FlowIQ contact id>";

/// `wa:<number>` and `id:<contact id>` say which one; otherwise digits (with an optional
/// leading `+`, which FlowIQ does not store) are a WhatsApp number and anything else a contact id.
pub fn parse_contact(value: &str) -> Result<Contact, &'static str> {
    let value = value.trim();
    let contact = if let Some(number) = value.strip_prefix("wa:") {
        Contact::WhatsappId(number.to_owned())
    } else if let Some(id) = value.strip_prefix("id:") {
        Contact::ContactId(id.to_owned())
    } else {
        let digits = value.strip_prefix('+').unwrap_or(value);
        if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
            Contact::WhatsappId(digits.to_owned())
        } else {
            Contact::ContactId(value.to_owned())
        }
    };
    match &contact {
        Contact::WhatsappId(v) | Contact::ContactId(v) if v.is_empty() => Err(INVALID),
        _ => Ok(contact),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_whatsapp_ids_and_the_rest_contact_ids() {
        let wa = |v: &str| Contact::WhatsappId(v.into());
        let id = |v: &str| Contact::ContactId(v.into());
        assert_eq!(parse_contact("27830000001"), Ok(wa("27830000001")));
        assert_eq!(parse_contact("+27830000001"), Ok(wa("27830000001")));
        assert_eq!(parse_contact("wa:abc"), Ok(wa("abc")));
        assert_eq!(parse_contact("id:123"), Ok(id("123")));
        assert_eq!(parse_contact("c-9f2"), Ok(id("c-9f2")));
        assert_eq!(parse_contact(""), Err(INVALID));
        assert_eq!(parse_contact("wa:"), Err(INVALID));
    }
}

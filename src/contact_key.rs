//! The contact key: the secret that turns a WhatsApp number into the `by-contact` index key
//! without the number in it (docs/security.md#contact-keys). Pure: the key is handed in by
//! whoever read it (the function from `CONTACT_KEY_SECRET` or `CONTACT_KEY`, the operator CLI
//! the same way); nothing here reads the environment or the network.
//!
//! The index key of a number is `CONTACT#<org>#wah:<22 characters>`: the first 128 bits of
//! HMAC-SHA256(key, "<org>#<number>"), in unpadded URL-safe base64 (22 characters rather than 32
//! hex digits: the key is in every content event's item, billed per KB, and the samples' largest
//! stays under 1 KB with it). The organization is in the message, so one person's keys in two
//! organizations cannot be linked; 128 bits make a collision between two contacts of an
//! organization negligible (about 2^-64 at 2^32 contacts). docs/reference/contact_key.py computes
//! the same key.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit as _, Mac as _};
use sha2::Sha256;

/// A key shorter than this is refused: 32 characters of a generated key (the template's is 64
/// letters and digits) are well above HMAC-SHA256's 256-bit strength.
pub const MIN_CONTACT_KEY_LENGTH: usize = 32;

/// The key of local runs and tests, public like the development token: never use it in AWS.
pub const LOCAL_DEV_CONTACT_KEY: &str = "local-dev-contact-key-not-a-secret-0123456789";

/// Bytes of the HMAC kept in the key (128 bits).
const DIGEST_BYTES: usize = 16;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContactKeyError {
    #[error(
        "the contact key is {length} characters long; it needs at least {MIN_CONTACT_KEY_LENGTH} (generate one: openssl rand -hex 32)"
    )]
    TooShort { length: usize },
    #[error(
        "the contact key starts or ends with white space: it would not match the key the CLI and scripts read"
    )]
    Whitespace,
}

/// The keyed hash of WhatsApp numbers. Its `Debug` never shows the key.
#[derive(Clone)]
pub struct ContactKey {
    /// HMAC with the key already absorbed: each number costs two SHA-256 compressions.
    keyed: Hmac<Sha256>,
}

impl ContactKey {
    /// The key as stored (the secret's string, `CONTACT_KEY`): its UTF-8 bytes are the HMAC key.
    pub fn new(key: &str) -> Result<Self, ContactKeyError> {
        if key.trim() != key {
            return Err(ContactKeyError::Whitespace);
        }
        let length = key.chars().count();
        if length < MIN_CONTACT_KEY_LENGTH {
            return Err(ContactKeyError::TooShort { length });
        }
        let keyed = Hmac::<Sha256>::new_from_slice(key.as_bytes()).expect("HMAC takes any key");
        Ok(ContactKey { keyed })
    }

    /// [`LOCAL_DEV_CONTACT_KEY`]: local runs and tests only.
    pub fn local_dev() -> Self {
        Self::new(LOCAL_DEV_CONTACT_KEY).expect("a valid key")
    }

    /// The 22 characters that stand for `number` in `organization_id`'s contact keys.
    pub fn whatsapp_digest(&self, organization_id: &str, number: &str) -> String {
        let mut mac = self.keyed.clone();
        mac.update(organization_id.as_bytes());
        mac.update(b"#");
        mac.update(number.as_bytes());
        let digest = mac.finalize().into_bytes();
        URL_SAFE_NO_PAD.encode(&digest[..DIGEST_BYTES])
    }
}

impl fmt::Debug for ContactKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ContactKey(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_are_hmac_sha256_of_org_and_number_truncated_to_128_bits() {
        // The expected value was computed with Python's hmac module (what an analyst uses:
        // docs/reference/contact_key.py, run against this code by tests/checks/contact_key.rs).
        let key = ContactKey::new(LOCAL_DEV_CONTACT_KEY).unwrap();
        let digest = key.whatsapp_digest("org-1", "27830000001");
        assert_eq!(digest, "EAdRcKTznCLm65L4PaZbFQ");
        let mut mac = Hmac::<Sha256>::new_from_slice(LOCAL_DEV_CONTACT_KEY.as_bytes()).unwrap();
        mac.update(b"org-1#27830000001");
        let full = mac.finalize().into_bytes();
        assert_eq!(URL_SAFE_NO_PAD.decode(&digest).unwrap(), full[..16]);
    }

    #[test]
    fn the_digest_depends_on_the_key_the_organization_and_the_number() {
        let a = ContactKey::new(LOCAL_DEV_CONTACT_KEY).unwrap();
        let b = ContactKey::new(&"k".repeat(32)).unwrap();
        let base = a.whatsapp_digest("org-1", "27830000001");
        assert_eq!(base, a.whatsapp_digest("org-1", "27830000001"));
        for other in [
            b.whatsapp_digest("org-1", "27830000001"),
            a.whatsapp_digest("org-2", "27830000001"),
            a.whatsapp_digest("org-1", "27830000002"),
            // The separator keeps ("org-1", "2") and ("org-12", "") apart.
            a.whatsapp_digest("org-1#2", "7830000001"),
        ] {
            assert_ne!(base, other);
        }
        assert!(!base.contains("27830000001"));
    }

    #[test]
    fn refuses_short_or_padded_keys_without_quoting_them() {
        let short = "s3cr3t-but-short";
        let err = ContactKey::new(short).err().unwrap();
        assert_eq!(err, ContactKeyError::TooShort { length: 16 });
        assert!(!err.to_string().contains(short));
        assert_eq!(
            ContactKey::new(&format!("{LOCAL_DEV_CONTACT_KEY}\n")).err(),
            Some(ContactKeyError::Whitespace)
        );
        assert!(ContactKey::new(&"é".repeat(31)).is_err());
        let key = ContactKey::new(LOCAL_DEV_CONTACT_KEY).unwrap();
        assert_eq!(format!("{key:?}"), "ContactKey(<redacted>)");
    }
}

//! Masking secrets (the FlowIQ API key, the webhook token) for anything a person or a log may see.

/// What stands for the hidden part of a secret.
pub const ELLIPSIS: char = '…';

/// Secrets shorter than this are hidden completely: four characters of a short value give too
/// much of it away.
const MIN_LENGTH_TO_SHOW_PREFIX: usize = 16;

/// How many leading characters of a long secret stay visible (enough to tell two apart).
const VISIBLE_PREFIX: usize = 4;

/// `AbCdEfGh…` → `AbCd…`; a short secret becomes just `…`.
pub fn mask(secret: &str) -> String {
    let mut masked: String = if secret.chars().count() >= MIN_LENGTH_TO_SHOW_PREFIX {
        secret.chars().take(VISIBLE_PREFIX).collect()
    } else {
        String::new()
    };
    masked.push(ELLIPSIS);
    masked
}

/// `text` with every occurrence of each secret replaced by its mask. For text that comes from
/// elsewhere (FlowIQ's error messages) and might quote a secret back.
pub fn redact(text: &str, secrets: &[&str]) -> String {
    let mut text = text.to_owned();
    // Very short "secrets" would mangle ordinary words; the key and token are far longer.
    for secret in secrets.iter().filter(|s| s.len() >= 8) {
        if text.contains(secret) {
            text = text.replace(secret, &mask(secret));
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_secrets_keep_four_characters() {
        assert_eq!(mask("fiq_test-key-0123456789"), "fiq_…");
        assert_eq!(mask("AbCdEfGhIjKlMnOp"), "AbCd…");
    }

    #[test]
    fn short_secrets_are_hidden_completely() {
        assert_eq!(mask(""), "…");
        assert_eq!(mask("abc"), "…");
        assert_eq!(mask("0123456789abcde"), "…");
    }

    #[test]
    fn masks_characters_not_bytes() {
        assert_eq!(mask("ééééééééééééééééé"), "éééé…");
    }

    #[test]
    fn redacts_every_occurrence() {
        let key = "fiq_live_0123456789abcdef";
        let token = "local-dev-token-not-a-secret-0123456789";
        let text = format!("bad key {key}, url https://x/webhooks/web/{token} ({key})");
        let redacted = redact(&text, &[key, token]);
        assert!(
            !redacted.contains(key) && !redacted.contains(token),
            "{redacted}"
        );
        assert_eq!(
            redacted,
            "bad key fiq_…, url https://x/webhooks/web/loca… (fiq_…)"
        );
        assert_eq!(redact("a b", &["", "ab"]), "a b");
    }
}

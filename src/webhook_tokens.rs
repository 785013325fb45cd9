//! The secret tokens a delivery's URL must carry. FlowIQ signs nothing, so the registered URL
//! `/webhooks/{platform}/{token}` is the credential.

use sha2::{Digest, Sha256};
use subtle::{Choice, ConstantTimeEq};

pub const MIN_TOKEN_LENGTH: usize = 32;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenConfigError {
    #[error(
        "WEBHOOK_TOKENS has no token: set it to one or more comma-separated tokens of at least {MIN_TOKEN_LENGTH} characters"
    )]
    Empty,
    #[error(
        "token {position} in WEBHOOK_TOKENS is {length} characters long; tokens need at least {MIN_TOKEN_LENGTH}"
    )]
    TooShort { position: usize, length: usize },
    #[error(
        "token {position} in WEBHOOK_TOKENS has characters other than letters, digits, '-', '_', '.' and '~': it goes in a URL path"
    )]
    NotUrlSafe { position: usize },
}

/// Why a token would be refused; never quotes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenProblem {
    TooShort { length: usize },
    NotUrlSafe,
}

/// The one token rule, for the function and for `flowiq-bootstrap`: at least
/// [`MIN_TOKEN_LENGTH`] characters, each a letter, a digit, `-`, `_`, `.` or `~` (it goes in a
/// URL path).
pub fn token_problem(token: &str) -> Option<TokenProblem> {
    let length = token.chars().count();
    if length < MIN_TOKEN_LENGTH {
        Some(TokenProblem::TooShort { length })
    } else if !token
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-_.~".contains(&b))
    {
        Some(TokenProblem::NotUrlSafe)
    } else {
        None
    }
}

/// The accepted tokens, kept only as SHA-256 digests: comparing digests in constant time hides
/// both the tokens' contents and their lengths, and the plain tokens never sit in memory for logs.
pub struct WebhookTokens {
    digests: Vec<[u8; 32]>,
}

impl std::fmt::Debug for WebhookTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "WebhookTokens({} redacted)", self.digests.len())
    }
}

impl WebhookTokens {
    /// Parses a comma-separated list; empty entries are ignored (an optional second token may be
    /// blank), surrounding spaces trimmed. Two tokens are valid at once during a rotation.
    pub fn parse(list: &str) -> Result<Self, TokenConfigError> {
        let mut digests = Vec::new();
        for (index, token) in list
            .split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .enumerate()
        {
            let position = index + 1;
            match token_problem(token) {
                Some(TokenProblem::TooShort { length }) => {
                    return Err(TokenConfigError::TooShort { position, length });
                }
                Some(TokenProblem::NotUrlSafe) => {
                    return Err(TokenConfigError::NotUrlSafe { position });
                }
                None => digests.push(digest(token)),
            }
        }
        if digests.is_empty() {
            return Err(TokenConfigError::Empty);
        }
        Ok(Self { digests })
    }

    /// Constant time in the candidate's content and in which token (if any) it matches.
    pub fn verify(&self, candidate: &str) -> bool {
        let candidate = digest(candidate);
        let matched = self
            .digests
            .iter()
            .fold(Choice::from(0), |found, accepted| {
                found | accepted.ct_eq(&candidate)
            });
        matched.into()
    }
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

    #[test]
    fn accepts_each_listed_token_and_nothing_else() {
        let tokens = WebhookTokens::parse(&format!(" {A} , {B},")).unwrap();
        assert!(tokens.verify(A));
        assert!(tokens.verify(B));
        for wrong in ["", &A[..39], &format!("{A}a"), &A.to_uppercase(), "c"] {
            assert!(!tokens.verify(wrong), "{wrong:?}");
        }
    }

    #[test]
    fn refuses_weak_or_empty_lists_without_echoing_tokens() {
        assert_eq!(
            WebhookTokens::parse("").unwrap_err(),
            TokenConfigError::Empty
        );
        assert_eq!(
            WebhookTokens::parse(" , ").unwrap_err(),
            TokenConfigError::Empty
        );
        let err = WebhookTokens::parse(&format!("{A},short-secret")).unwrap_err();
        assert_eq!(
            err,
            TokenConfigError::TooShort {
                position: 2,
                length: 12
            }
        );
        assert!(!err.to_string().contains("short-secret"));
        let err = WebhookTokens::parse(&format!("{A}/{B}")).unwrap_err();
        assert_eq!(err, TokenConfigError::NotUrlSafe { position: 1 });
        assert!(!format!("{:?}", WebhookTokens::parse(A).unwrap()).contains(A));
    }
}

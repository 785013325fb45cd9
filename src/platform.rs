use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The FlowIQ platform a webhook is registered for; each is registered and delivered separately.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    Whatsapp,
    Web,
}

impl Platform {
    pub const ALL: [Platform; 2] = [Platform::Whatsapp, Platform::Web];

    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Whatsapp => "whatsapp",
            Platform::Web => "web",
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("unknown platform: expected `whatsapp` or `web`")]
pub struct UnknownPlatform;

impl FromStr for Platform {
    type Err = UnknownPlatform;

    /// Exact, lower-case names only: the platform is part of the registered URL.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "whatsapp" => Ok(Platform::Whatsapp),
            "web" => Ok(Platform::Web),
            _ => Err(UnknownPlatform),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_only_exact_names() {
        assert_eq!("whatsapp".parse(), Ok(Platform::Whatsapp));
        assert_eq!("web".parse(), Ok(Platform::Web));
        for bad in ["WhatsApp", "WEB", "", "sms", "whatsapp "] {
            assert_eq!(bad.parse::<Platform>(), Err(UnknownPlatform), "{bad:?}");
        }
        for p in Platform::ALL {
            assert_eq!(p.as_str().parse(), Ok(p));
        }
    }
}

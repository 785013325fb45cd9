//! How an event's raw body is stored. Bodies up to [`DEFLATE_ABOVE`] bytes (receipts: ~250) are
//! kept as text in `body`; longer ones (content events: 500–800) as raw DEFLATE in `body_deflate`,
//! which keeps a typical content event's item under DynamoDB's 1 KB write unit: 4 write units per
//! content event instead of 5 (docs/data-model.md, docs/performance.md#dynamodb-write-units). Either
//! way the bytes FlowIQ sent come back exactly.

use std::borrow::Cow;

use std::cell::RefCell;

use miniz_oxide::deflate::compress_to_vec;
use miniz_oxide::deflate::core::{
    CompressorOxide, TDEFLFlush, TDEFLStatus, compress, create_comp_flags_from_zip_params,
};
use miniz_oxide::inflate::decompress_to_vec_with_limit;

use crate::config::MAX_BODY_BYTES;

/// Bodies longer than this are stored deflated.
pub const DEFLATE_ABOVE: usize = 384;

/// The fastest level: within 20 bytes of level 6 on FlowIQ's bodies, which stay well under the
/// 1 KB boundary either way.
const LEVEL: u8 = 1;

thread_local! {
    /// One compressor per thread, reset for each body: a new one allocates and clears a few
    /// hundred KB of tables, which cost more CPU than compressing a body (docs/performance.md).
    static COMPRESSOR: RefCell<Box<CompressorOxide>> = RefCell::new(Box::new(
        CompressorOxide::new(create_comp_flags_from_zip_params(LEVEL.into(), -15, 0)),
    ));
}

/// Raw DEFLATE of `bytes`.
fn deflate(bytes: &[u8]) -> Vec<u8> {
    COMPRESSOR.with_borrow_mut(|compressor| {
        compressor.reset();
        // Raw DEFLATE grows incompressible input by a few bytes per 64 KB block at most.
        let mut out = vec![0; bytes.len() + bytes.len() / 64 + 64];
        match compress(compressor, bytes, &mut out, TDEFLFlush::Finish) {
            (TDEFLStatus::Done, read, written) if read == bytes.len() => {
                out.truncate(written);
                out
            }
            _ => compress_to_vec(bytes, LEVEL),
        }
    })
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoredBody {
    Text(String),
    Deflated(Vec<u8>),
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum StoredBodyError {
    #[error("the stored item has neither `body` nor `body_deflate`")]
    Missing,
    #[error("`body_deflate` is not valid DEFLATE data of at most {MAX_BODY_BYTES} bytes")]
    Inflate,
    #[error("`body_deflate` does not hold UTF-8 text")]
    NotUtf8,
}

impl StoredBody {
    pub fn of(body: &str) -> Self {
        if body.len() > DEFLATE_ABOVE {
            StoredBody::Deflated(deflate(body.as_bytes()))
        } else {
            StoredBody::Text(body.to_owned())
        }
    }
}

/// The raw body from a stored item's `body` or `body_deflate` attribute.
pub fn read<'a>(
    text: Option<&'a str>,
    deflated: Option<&[u8]>,
) -> Result<Cow<'a, str>, StoredBodyError> {
    match (text, deflated) {
        (Some(text), _) => Ok(Cow::Borrowed(text)),
        (None, Some(bytes)) => {
            let inflated = decompress_to_vec_with_limit(bytes, MAX_BODY_BYTES)
                .map_err(|_| StoredBodyError::Inflate)?;
            String::from_utf8(inflated)
                .map(Cow::Owned)
                .map_err(|_| StoredBodyError::NotUtf8)
        }
        (None, None) => Err(StoredBodyError::Missing),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_bodies_stay_text_and_large_ones_come_back_exactly() {
        let receipt = r#"{"event_type":"message_read","status":"read"}"#;
        assert_eq!(
            StoredBody::of(receipt),
            StoredBody::Text(receipt.to_owned())
        );
        let content = format!(
            r#"{{"event_type":"sent_message","message":"{}"}}"#,
            "é 😀 ".repeat(80)
        );
        let StoredBody::Deflated(bytes) = StoredBody::of(&content) else {
            panic!("a long body is deflated")
        };
        assert!(bytes.len() < content.len() / 2);
        assert_eq!(read(None, Some(&bytes)).unwrap(), content);
        assert_eq!(read(Some(receipt), None).unwrap(), receipt);
    }

    #[test]
    fn broken_stored_bodies_are_errors() {
        assert_eq!(read(None, None), Err(StoredBodyError::Missing));
        assert_eq!(
            read(None, Some(b"not deflate")),
            Err(StoredBodyError::Inflate)
        );
        let bomb = compress_to_vec(&vec![b'a'; MAX_BODY_BYTES + 1], LEVEL);
        assert_eq!(read(None, Some(&bomb)), Err(StoredBodyError::Inflate));
        let latin1 = compress_to_vec(&[0xE9; 10], LEVEL);
        assert_eq!(read(None, Some(&latin1)), Err(StoredBodyError::NotUtf8));
    }
}

//! How an event's raw body is stored. Bodies up to [`DEFLATE_ABOVE`] bytes (receipts: ~250) are
//! kept as text in `body`; longer ones (content events: 500–800) as raw DEFLATE primed with a
//! preset dictionary of FlowIQ's field names and common values ([`DICTIONARY`]) in `body_zd1`,
//! which keeps a content event's item, its conversation keys included, under DynamoDB's 1 KB
//! write unit (docs/data-model.md, docs/performance.md#dynamodb-write-units). Items written
//! before kept long bodies as plain raw DEFLATE in `body_deflate`, still read. Either way the
//! bytes FlowIQ sent come back exactly.

use std::borrow::Cow;

use std::cell::RefCell;

use miniz_oxide::deflate::core::{
    CompressorOxide, TDEFLFlush, TDEFLStatus, compress, create_comp_flags_from_zip_params,
};
use miniz_oxide::inflate::TINFLStatus;
use miniz_oxide::inflate::core::{DecompressorOxide, decompress, inflate_flags};
use miniz_oxide::inflate::decompress_to_vec_with_limit;

use crate::webhook_event::MAX_BODY_BYTES;

/// Bodies longer than this are stored deflated.
pub const DEFLATE_ABOVE: usize = 384;

/// The preset dictionary of `body_zd1` (version 1: never changed; a new one gets a new attribute
/// name). FlowIQ's documented field names and fixed values (docs/flowiq.md), the most frequent
/// last (nearest to the body, so the shortest back-references). Any DEFLATE implementation with
/// preset dictionaries reads it, e.g. Python's `zlib.decompressobj(-15, zdict=DICTIONARY)`.
pub const DICTIONARY: &str = concat!(
    r#""more_data":{"quick_replies":[]},"location_data":{"latitude":,"longitude":,"name":"","#,
    r#""address":""},"file_name":"","media_file_name":"","media_type":"image/jpeg","#,
    r#""media_url":"https://","message_type":"text","sender_type":"user-web","#,
    r#""sender_type":"bot-web","sender_type":"agent-whatsapp","sender_type":"bot-whatsapp","#,
    r#""message_status":"sent","reply_context_id":null,"broadcast_id":null,"member_id":null,"#,
    r#""media_type":null,"media_url":null,"media_file_name":null,"location_data":null,"#,
    r#""sent_receipt_received":true,"delivered_receipt_received":false,"#,
    r#""read_receipt_received":false,"created_at":"20","id":"","contact_id":"","#,
    r#""whatsapp_id":"","message":"","timestamp":"20","whatsapp_message_id":"wamid.HBgL","#,
    r#""organization_id":"","event_type":"message_received","event_type":"sent_message","#,
);

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

/// Raw DEFLATE of `bytes`, primed with [`DICTIONARY`]: the dictionary is compressed first and
/// its output dropped at a byte-aligned sync point, so the body's blocks may refer back into it
/// (what zlib's `deflateSetDictionary` does; miniz_oxide has no call for it). The `body_zd1`
/// form, of events' and rejected items' long bodies.
pub fn deflate_primed(bytes: &[u8]) -> Vec<u8> {
    COMPRESSOR.with_borrow_mut(|compressor| {
        compressor.reset();
        let mut out = vec![0; bytes.len() + bytes.len() / 64 + DICTIONARY.len() + 128];
        let primed = compress(
            compressor,
            DICTIONARY.as_bytes(),
            &mut out,
            TDEFLFlush::Sync,
        );
        match primed {
            (TDEFLStatus::Okay, read, _) if read == DICTIONARY.len() => {}
            other => unreachable!("the dictionary fits the buffer: {other:?}"),
        }
        match compress(compressor, bytes, &mut out, TDEFLFlush::Finish) {
            (TDEFLStatus::Done, read, written) if read == bytes.len() => {
                out.truncate(written);
                out
            }
            other => unreachable!("the output buffer is sized for any input: {other:?}"),
        }
    })
}

/// The inverse of [`deflate_primed`]: inflate into a buffer that already holds the dictionary
/// (at most [`MAX_BODY_BYTES`]).
pub fn inflate_primed(bytes: &[u8]) -> Result<Vec<u8>, StoredBodyError> {
    let mut out = vec![0; DICTIONARY.len() + MAX_BODY_BYTES];
    out[..DICTIONARY.len()].copy_from_slice(DICTIONARY.as_bytes());
    let mut decompressor = DecompressorOxide::new();
    let flags = inflate_flags::TINFL_FLAG_USING_NON_WRAPPING_OUTPUT_BUF;
    match decompress(&mut decompressor, bytes, &mut out, DICTIONARY.len(), flags) {
        (TINFLStatus::Done, read, written) if read == bytes.len() => {
            out.truncate(DICTIONARY.len() + written);
            Ok(out.split_off(DICTIONARY.len()))
        }
        _ => Err(StoredBodyError::Inflate),
    }
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
    #[error("the deflated body is not valid DEFLATE data of at most {MAX_BODY_BYTES} bytes")]
    Inflate,
    #[error("the deflated body does not hold UTF-8 text")]
    NotUtf8,
}

impl StoredBody {
    pub fn of(body: &str) -> Self {
        if body.len() > DEFLATE_ABOVE {
            StoredBody::Deflated(deflate_primed(body.as_bytes()))
        } else {
            StoredBody::Text(body.to_owned())
        }
    }
}

/// How a stored item holds its body (one of the three attributes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Held<'a> {
    /// `body`: the text.
    Text(&'a str),
    /// `body_zd1`: raw DEFLATE primed with [`DICTIONARY`].
    Primed(&'a [u8]),
    /// `body_deflate` (items written before `body_zd1`): plain raw DEFLATE.
    Deflated(&'a [u8]),
}

impl<'a> Held<'a> {
    /// From the three optional attributes of an item.
    pub fn of(
        text: Option<&'a str>,
        primed: Option<&'a [u8]>,
        deflated: Option<&'a [u8]>,
    ) -> Result<Self, StoredBodyError> {
        match (text, primed, deflated) {
            (Some(text), _, _) => Ok(Held::Text(text)),
            (None, Some(bytes), _) => Ok(Held::Primed(bytes)),
            (None, None, Some(bytes)) => Ok(Held::Deflated(bytes)),
            (None, None, None) => Err(StoredBodyError::Missing),
        }
    }

    /// The raw body, exactly as received.
    pub fn read(self) -> Result<Cow<'a, str>, StoredBodyError> {
        let inflated = match self {
            Held::Text(text) => return Ok(Cow::Borrowed(text)),
            Held::Primed(bytes) => inflate_primed(bytes)?,
            Held::Deflated(bytes) => decompress_to_vec_with_limit(bytes, MAX_BODY_BYTES)
                .map_err(|_| StoredBodyError::Inflate)?,
        };
        String::from_utf8(inflated)
            .map(Cow::Owned)
            .map_err(|_| StoredBodyError::NotUtf8)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use miniz_oxide::deflate::compress_to_vec;

    fn read(held: Held<'_>) -> Result<Cow<'_, str>, StoredBodyError> {
        held.read()
    }

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
        assert_eq!(read(Held::Primed(&bytes)).unwrap(), content);
        assert_eq!(read(Held::Text(receipt)).unwrap(), receipt);
        // The bodies of items written before the dictionary.
        let plain = compress_to_vec(content.as_bytes(), LEVEL);
        assert_eq!(read(Held::Deflated(&plain)).unwrap(), content);
        // Incompressible input of the largest size still fits the buffer.
        let noise: String = (0..MAX_BODY_BYTES)
            .map(|i| char::from(b'!' + ((i * 7919 + i / 3) % 90) as u8))
            .collect();
        let StoredBody::Deflated(bytes) = StoredBody::of(&noise) else {
            panic!()
        };
        assert_eq!(read(Held::Primed(&bytes)).unwrap(), noise);
    }

    #[test]
    fn the_dictionary_saves_what_the_item_size_needs() {
        let body = r#"{"event_type":"sent_message","whatsapp_id":"27830000001","id":"c41d8e2a-7f3b-4a9c-b5e1-0d6f2a8c3e7b","organization_id":"6f1c2b9e-3d4a-4e8b-9c7d-1a2b3c4d5e6f","message":"Hi! Your order is out for delivery.","sender_type":"bot-whatsapp","created_at":"2026-03-07T09:15:01.874Z","contact_id":"9b2e4f7a-1c3d-4e5f-8a6b-7c8d9e0f1a2b","message_status":"sent","media_type":null,"media_url":null,"media_file_name":null,"member_id":null,"whatsapp_message_id":"wamid.HBgLMjc4MzAwMDAwMDEVAgARGBI1RjNDOUExRTdCMkQ0QzZBOEUA","reply_context_id":null,"broadcast_id":null,"sent_receipt_received":true,"delivered_receipt_received":false,"read_receipt_received":false,"timestamp":"2026-03-07T09:15:02.123Z"}"#;
        let StoredBody::Deflated(primed) = StoredBody::of(body) else {
            panic!()
        };
        let plain = compress_to_vec(body.as_bytes(), LEVEL);
        assert!(
            primed.len() + 100 <= plain.len(),
            "{} vs {} bytes",
            primed.len(),
            plain.len()
        );
    }

    /// The dictionary is part of the storage contract: docs/data-model.md shows it exactly.
    #[test]
    fn the_documented_dictionary_is_this_one() {
        let doc = include_str!("../docs/data-model.md");
        assert!(doc.contains(&format!("```text\n{DICTIONARY}\n```")));
    }

    #[test]
    fn broken_stored_bodies_are_errors() {
        assert_eq!(Held::of(None, None, None), Err(StoredBodyError::Missing));
        for held in [Held::Primed(b"not deflate"), Held::Deflated(b"not deflate")] {
            assert_eq!(read(held), Err(StoredBodyError::Inflate));
        }
        let bomb = compress_to_vec(&vec![b'a'; MAX_BODY_BYTES + 1], LEVEL);
        assert_eq!(read(Held::Deflated(&bomb)), Err(StoredBodyError::Inflate));
        assert_eq!(read(Held::Primed(&bomb)), Err(StoredBodyError::Inflate));
        let latin1 = compress_to_vec(&[0xE9; 10], LEVEL);
        assert_eq!(read(Held::Deflated(&latin1)), Err(StoredBodyError::NotUtf8));
    }
}

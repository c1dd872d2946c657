//! Protobuf text format, byte for byte as Python's `print(message)` writes it.
//!
//! The article's client ends with `print(response)`. With protobuf's default Python backend
//! (upb), `str(message)` is upb's text encoder (`upb_TextEncode`, unknown fields skipped) over the
//! message upb parsed from the wire. This module does the same: it decodes the reply's **wire
//! bytes** against the message's descriptor and prints what upb prints. Working from the bytes
//! matters: a `float` field holding `-0.0` is on the wire and upb prints it (`-0`), but
//! rust-protobuf's reflection reports such a field as unset, so a printer over the parsed Rust
//! message could not tell `-0.0` from an absent field.
//!
//! The rules, as upb applies them:
//!
//! * fields in declaration order; repeated fields in wire order; for a singular scalar the last
//!   value on the wire wins, and occurrences of a singular message merge;
//! * a field without presence is printed only when it is not its default; for floats upb tests
//!   the *bits*, so `-0.0` is printed (`-0`) while `0.0` is not;
//! * one field per line, `name: value`, sub-messages as `name {` … `}` indented by two spaces;
//! * `float`: `nan` for any NaN, else `%.6g` when that reads back as the same `f32`, else `%.9g`
//!   (`inf` and `-inf` come out of `%g` as they are); `double` likewise with 15 and 17 digits;
//! * strings in double quotes; `\n \r \t \" \' \\` escaped by name, other ASCII controls and DEL
//!   as three-digit octal, valid UTF-8 kept as it is; `bytes` escape every byte that is not
//!   printable ASCII;
//! * enums by name, or by number when the number has no name; map entries sorted by key;
//! * fields the descriptor does not know, or with the wrong wire type, are skipped; so are groups
//!   (wire types 3 and 4, which proto3 never writes), whose contents must still be well formed.
//!
//! And the bytes upb refuses (Python raises `DecodeError`) are refused alike: a tag or a length
//! that is not a varint of at most 5 bytes holding a 32-bit value, a field number 0 (outside a
//! group), wire types 6 and 7, an end of group that does not close the open group, a length or a
//! value that runs past the end, a `string` that is not UTF-8, and nesting (sub-messages and groups
//! together) deeper than 100. rust-protobuf is more lenient with some of these (a sub-message
//! whose length runs past the end, for one), so it is no guide to what Python prints.
//!
//! `print` then adds one newline, which the caller writes.
//!
//! In parts: the wire format's cursor and what upb refuses (`wire`), a field's occurrences
//! decoded into values (`value`), the text written from them (`print`), and the `%g` formatting
//! of floats ([`float_text`], [`double_text`], [`format_g`]).

mod float;
mod print;
mod value;
mod wire;

use protobuf::reflect::MessageDescriptor;

pub use float::{double_text, float_text, format_g};

/// The reply could not be decoded, so there is nothing to print (Python raises `DecodeError`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the message bytes are not valid protobuf: {0}")]
pub struct WireError(&'static str);

/// The text of the message of type `descriptor` encoded in `bytes`, as upb prints it.
pub fn to_text(descriptor: &MessageDescriptor, bytes: &[u8]) -> Result<String, WireError> {
    let mut out = String::new();
    print::write_message(&mut out, descriptor, bytes, 0)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::indicator::{MACDData, MACDReply};
    use protobuf::{Message, MessageFull};

    #[test]
    fn prints_nested_rows_and_skips_defaults_by_bits() {
        let mut row = MACDData::new();
        row.date = "d".into();
        row.open = 1.5;
        let mut reply = MACDReply::new();
        reply.macd = vec![row, MACDData::new()];
        let bytes = reply.write_to_bytes().unwrap();
        let text = to_text(&MACDReply::descriptor(), &bytes).unwrap();
        assert_eq!(text, "macd {\n  date: \"d\"\n  open: 1.5\n}\nmacd {\n}\n");

        // -0.0 as Python sends it (rust-protobuf itself would not write it): field 2, fixed32.
        let negative_zero = [0x0a, 0x05, 0x15, 0x00, 0x00, 0x00, 0x80];
        assert_eq!(to_text(&MACDReply::descriptor(), &negative_zero).unwrap(), "macd {\n  open: -0\n}\n");
        // Unknown fields are skipped; a repeated singular scalar keeps its last value.
        let twice = [0x0a, 0x0d, 0x15, 0, 0, 0x80, 0x3f, 0xf8, 0x01, 0x07, 0x15, 0, 0, 0, 0x40];
        assert_eq!(to_text(&MACDReply::descriptor(), &twice).unwrap(), "macd {\n  open: 2\n}\n");
        assert!(to_text(&MACDReply::descriptor(), &[0x0a, 0x05, 0x15]).is_err());
    }
}

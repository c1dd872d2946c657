//! A cursor over protobuf wire bytes, and what upb refuses in them: tags and lengths as 32-bit
//! varints of at most 5 bytes, lengths that run past the end, unmatched groups, wire types 6 and 7,
//! nesting deeper than 100 levels.

use super::WireError;

/// upb's limit (as Python's protobuf sets it) on nesting below the top message: sub-messages and
/// groups together.
pub(super) const MAX_DEPTH: usize = 100;

const TRUNCATED: WireError = WireError("truncated");
const PAST_THE_END: WireError = WireError("a length runs past the end of the message");
pub(super) const TOO_DEEP: WireError = WireError("nested deeper than 100 levels");
const LONG_LENGTH: WireError = WireError("a length longer than 5 bytes");
const BIG_LENGTH: WireError = WireError("a length above 32 bits");

pub(super) const VARINT: u8 = 0;
pub(super) const I64: u8 = 1;
pub(super) const LEN: u8 = 2;
pub(super) const START_GROUP: u8 = 3;
pub(super) const END_GROUP: u8 = 4;
pub(super) const I32: u8 = 5;

/// A cursor over protobuf wire bytes.
pub(super) struct Wire<'a>(pub(super) &'a [u8]);

impl<'a> Wire<'a> {
    pub(super) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub(super) fn take(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        if self.0.len() < n {
            return Err(TRUNCATED);
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Ok(head)
    }

    /// A value's varint: up to 10 bytes, and the bits beyond 64 are dropped, as upb drops them.
    pub(super) fn varint(&mut self) -> Result<u64, WireError> {
        let mut value = 0u64;
        for shift in (0..70).step_by(7) {
            let byte = self.take(1)?[0];
            value |= u64::from(byte & 0x7f).checked_shl(shift).unwrap_or(0);
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(WireError("varint longer than 10 bytes"))
    }

    /// A tag's or a length's varint: upb takes at most 5 bytes, holding a 32-bit value.
    fn varint32(&mut self, too_long: WireError, too_big: WireError) -> Result<u32, WireError> {
        let mut value = 0u64;
        for shift in (0..35).step_by(7) {
            let byte = self.take(1)?[0];
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return u32::try_from(value).map_err(|_| too_big);
            }
        }
        Err(too_long)
    }

    /// A field's number and wire type.
    pub(super) fn tag(&mut self) -> Result<(u32, u8), WireError> {
        let tag = self.varint32(WireError("a tag longer than 5 bytes"), WireError("a tag above 32 bits"))?;
        Ok((tag >> 3, (tag & 7) as u8))
    }

    /// The payload of field `number` of `wire_type`: the value bytes, a length-delimited body, or
    /// a group's contents. `depth` is the nesting of the message that holds the field.
    pub(super) fn field(&mut self, number: u32, wire_type: u8, depth: usize) -> Result<&'a [u8], WireError> {
        match wire_type {
            VARINT => {
                let start = self.0;
                self.varint()?;
                Ok(&start[..start.len() - self.0.len()])
            }
            I64 => self.take(8),
            I32 => self.take(4),
            LEN => {
                let len = self.varint32(LONG_LENGTH, BIG_LENGTH)? as usize;
                self.take(len).map_err(|_| PAST_THE_END)
            }
            START_GROUP => self.group(number, depth + 1),
            END_GROUP => Err(WireError("an end of group outside any group")),
            _ => Err(WireError("wire types 6 and 7 do not exist")),
        }
    }

    /// The contents of group `number`, up to its end tag, which this consumes. Groups are read
    /// only to be skipped, and inside them upb checks the wire format but not field numbers.
    fn group(&mut self, number: u32, depth: usize) -> Result<&'a [u8], WireError> {
        if depth > MAX_DEPTH {
            return Err(TOO_DEEP);
        }
        let start = self.0;
        loop {
            if self.is_empty() {
                return Err(WireError("a group without its end"));
            }
            let before_tag = self.0;
            let (inner, wire_type) = self.tag()?;
            if wire_type == END_GROUP {
                if inner != number {
                    return Err(WireError("an end of group that does not match its start"));
                }
                return Ok(&start[..start.len() - before_tag.len()]);
            }
            self.field(inner, wire_type, depth)?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::indicator::MACDReply;
    use crate::text_format::to_text;
    use protobuf::{Message, MessageFull};

    // The expected results below are what Python's protobuf 7.36 (upb backend) does with the
    // same bytes: `str(MACDReply.FromString(bytes))`, or `DecodeError`.

    fn hex(text: &str) -> Vec<u8> {
        (0..text.len()).step_by(2).map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap()).collect()
    }

    fn reply_text(bytes: &[u8]) -> Result<String, WireError> {
        to_text(&MACDReply::descriptor(), bytes)
    }

    /// Found by the fuzzer (fuzz/fuzz_targets/text_format.rs): `0a 29`, a row whose length (41)
    /// runs past the end. rust-protobuf reads it as one empty row; upb refuses it, and so must
    /// the printer. The fuzz target now knows that rust-protobuf is the more lenient here.
    #[test]
    fn a_sub_message_whose_length_runs_past_the_end_is_refused() {
        assert_eq!(reply_text(&hex("0a29")), Err(PAST_THE_END));
        assert!(MACDReply::parse_from_bytes(&hex("0a29")).is_ok(), "rust-protobuf's leniency, which upb lacks");
        assert_eq!(reply_text(&hex("0a0312")), Err(PAST_THE_END));
    }

    /// Groups (wire types 3 and 4) are unknown fields to a proto3 message: upb skips them, and so
    /// the reply prints, where the printer used to refuse the whole message.
    #[test]
    fn groups_are_skipped_as_upb_skips_them() {
        let printed = [
            ("0b0c", ""),                    // field 1 (`macd`) as a group: the wrong wire type
            ("1314", ""),                    // an unknown field as a group
            ("131b1c14", ""),                // nested groups
            ("13080114", ""),                // a group with a field inside
            ("130a016114", ""),              // ... a length-delimited one
            ("130a0014", ""),                // ... that would be a row outside the group
            ("13030414", ""),                // field number 0 is allowed inside a group
            ("139480808000", ""),            // the end tag as a 5-byte varint
            ("938080800014", ""),            // the start tag as a 5-byte varint
            ("0a023b3c", "macd {\n}\n"),     // a group inside a row
            ("0a043b3c1200", "macd {\n}\n"), // ... followed by an unknown field
            ("fbffffff0ffcffffff0f", ""),    // field 2^29 - 1, the largest
        ];
        for (bytes, text) in printed {
            assert_eq!(reply_text(&hex(bytes)).as_deref(), Ok(text), "{bytes}");
        }
    }

    #[test]
    fn malformed_groups_are_refused() {
        for bytes in [
            "131c",                         // ends group 3, which is not the open one (2)
            "130801",                       // never ends
            "13",                           // never ends, empty
            "0c",                           // an end outside any group
            "0a010c",                       // ... inside a row
            "131414",                       // one end too many
            "130414",                       // an end for field 0
            "0a013b3c",                     // the group's end lies beyond the row
            "130e14",                       // wire type 6 inside
            "130f14",                       // wire type 7 inside
            "1308ffffffffffffffffffff0114", // a varint of 11 bytes inside
        ] {
            assert!(reply_text(&hex(bytes)).is_err(), "{bytes}");
        }
    }

    /// upb stops at 100 levels of sub-messages and groups below the top message; the printer
    /// too (it used to refuse every group, at any depth).
    #[test]
    fn nesting_deeper_than_100_levels_is_refused() {
        let groups = |n: usize| [vec![0x13; n], vec![0x14; n]].concat();
        assert_eq!(reply_text(&groups(100)).as_deref(), Ok(""));
        assert_eq!(reply_text(&groups(101)), Err(TOO_DEEP));
        // In a row, which is one level down already.
        let in_row = |n: usize| {
            let inner = [vec![0x3b; n], vec![0x3c; n]].concat();
            let mut bytes = vec![0x0a, (inner.len() as u8) | 0x80, (inner.len() >> 7) as u8];
            bytes.extend(inner);
            bytes
        };
        assert_eq!(reply_text(&in_row(99)).as_deref(), Ok("macd {\n}\n"));
        assert_eq!(reply_text(&in_row(100)), Err(TOO_DEEP));
    }

    /// Tags and lengths are 32-bit varints of at most 5 bytes; the printer used to take 10 bytes
    /// and any field number up to 2^32 - 1, printing messages that Python refuses.
    #[test]
    fn tags_and_lengths_are_varints_of_5_bytes_and_32_bits() {
        for bytes in [
            "808080801001",     // field 2^29: the tag needs 33 bits
            "f8ffffff1f01",     // the same with more bits in the 5th byte
            "908080807001",     // bits beyond 32 in a small tag
            "f8ffffff8f0001",   // a tag of 6 bytes, though its value fits
            "1281808080800061", // a length of 6 bytes, though its value fits
            "0a808080808000",   // a row's length of 6 bytes (rust-protobuf takes it)
            "128080808010",     // a length of 2^32
            "0001",             // field number 0
            "0a020001",         // ... in a row
        ] {
            assert!(reply_text(&hex(bytes)).is_err(), "{bytes}");
        }
        for (bytes, text) in [
            ("f8ffffff0f01", ""),            // field 2^29 - 1 as a varint
            ("908080800001", ""),            // a tag padded to 5 bytes
            ("12818080800061", ""),          // a length padded to 5 bytes
            ("8a8080800000", "macd {\n}\n"), // `macd`'s tag padded to 5 bytes
        ] {
            assert_eq!(reply_text(&hex(bytes)).as_deref(), Ok(text), "{bytes}");
        }
    }

    /// Found by the fuzzer: `0a f4 f4 f4 f4 1b`, a row whose length is a 5-byte varint above
    /// 2^32. rust-protobuf takes it (as an empty row: the length runs past the end anyway); upb
    /// refuses it, and so does the printer.
    #[test]
    fn a_row_length_above_32_bits_is_refused() {
        assert_eq!(reply_text(&hex("0af4f4f4f41b")), Err(BIG_LENGTH));
        assert!(MACDReply::parse_from_bytes(&hex("0af4f4f4f41b")).is_ok(), "rust-protobuf's leniency, which upb lacks");
    }

    /// Values, unlike tags, are varints of up to 10 bytes, whose bits beyond 64 upb drops.
    #[test]
    fn value_varints_take_10_bytes_and_drop_the_excess_bits() {
        assert_eq!(reply_text(&hex("10ffffffffffffffffff7f")).as_deref(), Ok(""));
        assert_eq!(reply_text(&hex("1080808080808080808002")).as_deref(), Ok(""));
        assert!(reply_text(&hex("10ffffffffffffffffffff01")).is_err());
    }
}

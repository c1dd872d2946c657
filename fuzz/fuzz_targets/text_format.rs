//! The upb-compatible text printer on arbitrary bytes, read as a `MACDReply` and as a
//! `MACDGraphReply` on the wire.
//!
//! It must never panic. Where rust-protobuf also parses the bytes, the printer must accept them
//! too, but for the few malformed inputs that rust-protobuf takes and upb (whose output the
//! printer reproduces) refuses; and it must print what it prints for rust-protobuf's re-encoding
//! of the message, but for `-0` floats, which upb prints and rust-protobuf drops. The quoted
//! `date` strings and `macd_chunk` bytes unescape to the parsed values. The input's bytes are also
//! read as `f32` and `f64` values: each prints as a number that reads back as the same value.

#![no_main]

use idc_core::protocol::indicator::MACDReply;
use idc_core::protocol::indicator_graph::MACDGraphReply;
use idc_core::text_format::{double_text, float_text, to_text};
use libfuzzer_sys::fuzz_target;
use protobuf::{Message, MessageFull};

/// The printer's refusals of bytes that rust-protobuf accepts but upb refuses, as Python's
/// protobuf (upb backend) showed on the inputs of idc-core's text_format tests: a sub-message
/// whose length runs past the end, is a varint of 6 to 10 bytes or is above 2^32; an end of group
/// that does not match; more than 100 levels of groups.
const RUST_PROTOBUF_IS_LENIENT: &[&str] = &[
    "a length runs past the end",
    "a length longer than 5 bytes",
    "a length above 32 bits",
    "does not match its start",
    "deeper than 100",
];

fn lenient(error: &impl ToString) -> bool {
    let message = error.to_string();
    RUST_PROTOBUF_IS_LENIENT.iter().any(|reason| message.contains(reason))
}

fuzz_target!(|data: &[u8]| {
    match (MACDReply::parse_from_bytes(data), to_text(&MACDReply::descriptor(), data)) {
        (Ok(reply), Ok(text)) => check_reply(&reply, &text),
        (Ok(_), Err(e)) => assert!(lenient(&e), "rust-protobuf parses the MACDReply, the printer says {e}"),
        _ => {}
    }
    match (MACDGraphReply::parse_from_bytes(data), to_text(&MACDGraphReply::descriptor(), data)) {
        (Ok(graph), Ok(text)) => check_graph(&graph, &text),
        (Ok(_), Err(e)) => assert!(lenient(&e), "rust-protobuf parses the MACDGraphReply, the printer says {e}"),
        _ => {}
    }

    for bits in data.chunks_exact(4) {
        let v = f32::from_le_bytes(bits.try_into().unwrap());
        let text = float_text(v);
        let back: f32 = text.parse().unwrap_or_else(|e| panic!("float_text({v:e}) = {text:?}: {e}"));
        assert!(back.to_bits() == v.to_bits() || (v.is_nan() && back.is_nan()), "{v:e} printed as {text}");
    }
    for bits in data.chunks_exact(8) {
        let v = f64::from_le_bytes(bits.try_into().unwrap());
        let text = double_text(v);
        let back: f64 = text.parse().unwrap_or_else(|e| panic!("double_text({v:e}) = {text:?}: {e}"));
        assert!(back.to_bits() == v.to_bits() || (v.is_nan() && back.is_nan()), "{v:e} printed as {text}");
    }
});

fn check_reply(reply: &MACDReply, text: &str) {
    let reencoded = reply.write_to_bytes().expect("a parsed message encodes");
    let again = to_text(&MACDReply::descriptor(), &reencoded).expect("rust-protobuf's encoding prints");
    assert_eq!(without_negative_zeros(text), again);

    let dates: Vec<String> = text
        .lines()
        .filter_map(|line| line.strip_prefix("  date: "))
        .map(|quoted| String::from_utf8(unescape(quoted)).expect("a printed string is UTF-8"))
        .collect();
    let expected: Vec<&str> = reply.macd.iter().map(|row| row.date.as_str()).filter(|d| !d.is_empty()).collect();
    assert_eq!(dates, expected);
}

fn check_graph(graph: &MACDGraphReply, text: &str) {
    assert!(text.is_ascii(), "bytes print as ASCII: {text:?}");
    let chunk = match text.strip_prefix("macd_chunk: ") {
        Some(rest) => unescape(rest.strip_suffix('\n').expect("one line")),
        None => {
            assert_eq!(text, "", "only macd_chunk can be printed");
            Vec::new()
        }
    };
    assert_eq!(chunk, graph.macd_chunk);
}

/// The text without the float fields that print as `-0`: rust-protobuf reads `-0.0` but does not
/// write it back (it compares with 0), while upb prints it. No other float prints as `-0`.
fn without_negative_zeros(text: &str) -> String {
    text.lines().filter(|line| !line.ends_with(": -0")).map(|line| format!("{line}\n")).collect()
}

/// A quoted string or bytes value as the printer writes it (`"a\"b\001"`), back to its bytes.
fn unescape(quoted: &str) -> Vec<u8> {
    let inner = quoted.strip_prefix('"').and_then(|q| q.strip_suffix('"')).expect("in double quotes");
    let bytes = inner.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'\\' {
            assert!(bytes[i] != b'"', "an unescaped quote inside {quoted}");
            out.push(bytes[i]);
            i += 1;
            continue;
        }
        let escaped = *bytes.get(i + 1).expect("an escape at the end");
        let (byte, len) = match escaped {
            b'n' => (b'\n', 2),
            b'r' => (b'\r', 2),
            b't' => (b'\t', 2),
            b'"' | b'\'' | b'\\' => (escaped, 2),
            b'0'..=b'3' => {
                let octal = std::str::from_utf8(&bytes[i + 1..i + 4]).expect("three octal digits");
                (u8::from_str_radix(octal, 8).expect("three octal digits"), 4)
            }
            other => panic!("unknown escape \\{} in {quoted}", other as char),
        };
        out.push(byte);
        i += len;
    }
    out
}

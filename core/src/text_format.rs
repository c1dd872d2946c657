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

use std::fmt::Write as _;

use protobuf::descriptor::field_descriptor_proto::{Label, Type};
use protobuf::reflect::{EnumDescriptor, FieldDescriptor, MessageDescriptor, RuntimeFieldType, RuntimeType};

/// The reply could not be decoded, so there is nothing to print (Python raises `DecodeError`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the message bytes are not valid protobuf: {0}")]
pub struct WireError(&'static str);

/// upb's limit (as Python's protobuf sets it) on nesting below the top message: sub-messages and
/// groups together.
const MAX_DEPTH: usize = 100;

const TRUNCATED: WireError = WireError("truncated");
const PAST_THE_END: WireError = WireError("a length runs past the end of the message");
const TOO_DEEP: WireError = WireError("nested deeper than 100 levels");
const LONG_LENGTH: WireError = WireError("a length longer than 5 bytes");
const BIG_LENGTH: WireError = WireError("a length above 32 bits");

/// The text of the message of type `descriptor` encoded in `bytes`, as upb prints it.
pub fn to_text(descriptor: &MessageDescriptor, bytes: &[u8]) -> Result<String, WireError> {
    let mut out = String::new();
    write_message(&mut out, descriptor, bytes, 0)?;
    Ok(out)
}

/// One decoded value.
#[derive(Debug, Clone)]
enum Value {
    Signed(i64),
    Unsigned(u64),
    Bool(bool),
    Float(f32),
    Double(f64),
    Enum(i32),
    Str(String),
    Bytes(Vec<u8>),
    /// The message's encoding; occurrences of a singular message are concatenated, which is
    /// protobuf's merge.
    Message(Vec<u8>),
}

fn write_message(
    out: &mut String,
    descriptor: &MessageDescriptor,
    bytes: &[u8],
    depth: usize,
) -> Result<(), WireError> {
    if depth > MAX_DEPTH {
        return Err(TOO_DEEP);
    }
    let fields: Vec<FieldDescriptor> = descriptor.fields().collect();
    let mut values: Vec<Vec<Value>> = vec![Vec::new(); fields.len()];

    let mut wire = Wire(bytes);
    while !wire.is_empty() {
        let (number, wire_type) = wire.tag()?;
        if number == 0 {
            return Err(WireError("field number 0"));
        }
        // A group in a proto3 message is a field of the wrong wire type: `decode` skips it.
        let raw = wire.field(number, wire_type, depth)?;
        let Some(index) = fields.iter().position(|f| f.number() as u32 == number) else {
            continue; // unknown: upb skips it when printing
        };
        let field = &fields[index];
        let repeated = field.proto().label() == Label::LABEL_REPEATED;
        let decoded = decode(field, wire_type, raw)?;
        let slot = &mut values[index];
        for value in decoded {
            match (&value, slot.last_mut()) {
                _ if repeated => slot.push(value),
                (Value::Message(more), Some(Value::Message(merged))) => merged.extend_from_slice(more),
                _ => *slot = vec![value],
            }
        }
    }

    for (field, values) in fields.iter().zip(values) {
        if field.is_map() {
            write_map(out, field, values, depth)?;
            continue;
        }
        for value in values {
            if field.proto().label() != Label::LABEL_REPEATED && !has_presence(field) && is_default(&value) {
                continue;
            }
            write_field(out, field.name(), field, &value, depth)?;
        }
    }
    Ok(())
}

/// Fields with explicit presence are printed whenever they were on the wire, even at default.
fn has_presence(field: &FieldDescriptor) -> bool {
    field.proto().type_() == Type::TYPE_MESSAGE
        || field.proto().type_() == Type::TYPE_GROUP
        || field.containing_oneof_including_synthetic().is_some()
        || field.containing_message().file_descriptor().proto().syntax() != "proto3"
}

fn is_default(value: &Value) -> bool {
    match value {
        Value::Signed(v) => *v == 0,
        Value::Unsigned(v) => *v == 0,
        Value::Bool(v) => !*v,
        Value::Float(v) => v.to_bits() == 0,
        Value::Double(v) => v.to_bits() == 0,
        Value::Enum(v) => *v == 0,
        Value::Str(v) => v.is_empty(),
        Value::Bytes(v) => v.is_empty(),
        Value::Message(_) => false,
    }
}

/// The values of one field occurrence: one, or several for a packed repeated scalar. A wire type
/// that does not fit the field makes it an unknown field, which is not printed.
fn decode(field: &FieldDescriptor, wire_type: u8, raw: &[u8]) -> Result<Vec<Value>, WireError> {
    let ty = field.proto().type_();
    let expected = wire_type_of(ty);
    if wire_type == expected {
        return Ok(vec![scalar(ty, wire_type, &mut Wire(raw))?]);
    }
    let packable = expected != LEN;
    if wire_type == LEN && packable && field.proto().label() == Label::LABEL_REPEATED {
        let mut packed = Wire(raw);
        let mut values = Vec::new();
        while !packed.is_empty() {
            values.push(scalar(ty, expected, &mut packed)?);
        }
        return Ok(values);
    }
    Ok(Vec::new())
}

const VARINT: u8 = 0;
const I64: u8 = 1;
const LEN: u8 = 2;
const START_GROUP: u8 = 3;
const END_GROUP: u8 = 4;
const I32: u8 = 5;

fn wire_type_of(ty: Type) -> u8 {
    match ty {
        Type::TYPE_DOUBLE | Type::TYPE_FIXED64 | Type::TYPE_SFIXED64 => I64,
        Type::TYPE_FLOAT | Type::TYPE_FIXED32 | Type::TYPE_SFIXED32 => I32,
        Type::TYPE_STRING | Type::TYPE_BYTES | Type::TYPE_MESSAGE => LEN,
        Type::TYPE_GROUP => START_GROUP,
        _ => VARINT,
    }
}

/// One value of type `ty`, read from `wire` (a field's payload, or the inside of a packed run).
fn scalar(ty: Type, wire_type: u8, wire: &mut Wire) -> Result<Value, WireError> {
    Ok(match wire_type {
        VARINT => {
            let v = wire.varint()?;
            match ty {
                Type::TYPE_INT32 => Value::Signed(i64::from(v as i32)),
                Type::TYPE_INT64 => Value::Signed(v as i64),
                Type::TYPE_UINT32 => Value::Unsigned(u64::from(v as u32)),
                Type::TYPE_UINT64 => Value::Unsigned(v),
                Type::TYPE_SINT32 => Value::Signed(i64::from(((v as u32) >> 1) as i32 ^ -((v & 1) as i32))),
                Type::TYPE_SINT64 => Value::Signed((v >> 1) as i64 ^ -((v & 1) as i64)),
                Type::TYPE_BOOL => Value::Bool(v != 0),
                _ => Value::Enum(v as i32),
            }
        }
        I32 => {
            let bits = u32::from_le_bytes(wire.take(4)?.try_into().expect("4 bytes"));
            match ty {
                Type::TYPE_FLOAT => Value::Float(f32::from_bits(bits)),
                Type::TYPE_SFIXED32 => Value::Signed(i64::from(bits as i32)),
                _ => Value::Unsigned(u64::from(bits)),
            }
        }
        I64 => {
            let bits = u64::from_le_bytes(wire.take(8)?.try_into().expect("8 bytes"));
            match ty {
                Type::TYPE_DOUBLE => Value::Double(f64::from_bits(bits)),
                Type::TYPE_SFIXED64 => Value::Signed(bits as i64),
                _ => Value::Unsigned(bits),
            }
        }
        _ => {
            let payload = wire.take(wire.0.len())?.to_vec();
            match ty {
                Type::TYPE_STRING => {
                    Value::Str(String::from_utf8(payload).map_err(|_| WireError("a string field is not UTF-8"))?)
                }
                Type::TYPE_BYTES => Value::Bytes(payload),
                _ => Value::Message(payload),
            }
        }
    })
}

/// A cursor over protobuf wire bytes.
struct Wire<'a>(&'a [u8]);

impl<'a> Wire<'a> {
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        if self.0.len() < n {
            return Err(TRUNCATED);
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Ok(head)
    }

    /// A value's varint: up to 10 bytes, and the bits beyond 64 are dropped, as upb drops them.
    fn varint(&mut self) -> Result<u64, WireError> {
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
    fn tag(&mut self) -> Result<(u32, u8), WireError> {
        let tag = self.varint32(WireError("a tag longer than 5 bytes"), WireError("a tag above 32 bits"))?;
        Ok((tag >> 3, (tag & 7) as u8))
    }

    /// The payload of field `number` of `wire_type`: the value bytes, a length-delimited body, or
    /// a group's contents. `depth` is the nesting of the message that holds the field.
    fn field(&mut self, number: u32, wire_type: u8, depth: usize) -> Result<&'a [u8], WireError> {
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

fn write_field(
    out: &mut String,
    name: &str,
    field: &FieldDescriptor,
    value: &Value,
    depth: usize,
) -> Result<(), WireError> {
    indent(out, depth);
    out.push_str(name);
    if let Value::Message(bytes) = value {
        out.push_str(" {\n");
        write_message(out, &message_type(field), bytes, depth + 1)?;
        indent(out, depth);
        out.push_str("}\n");
        return Ok(());
    }
    out.push_str(": ");
    match value {
        Value::Signed(v) => write!(out, "{v}").unwrap(),
        Value::Unsigned(v) => write!(out, "{v}").unwrap(),
        Value::Bool(v) => out.push_str(if *v { "true" } else { "false" }),
        Value::Float(v) => out.push_str(&float_text(*v)),
        Value::Double(v) => out.push_str(&double_text(*v)),
        Value::Enum(number) => match enum_type(field).and_then(|e| e.value_by_number(*number)) {
            Some(v) => out.push_str(v.name()),
            None => write!(out, "{number}").unwrap(),
        },
        Value::Str(s) => write_string(out, s),
        Value::Bytes(b) => write_bytes(out, b),
        Value::Message(_) => unreachable!("handled above"),
    }
    out.push('\n');
    Ok(())
}

fn message_type(field: &FieldDescriptor) -> MessageDescriptor {
    match field.runtime_field_type() {
        RuntimeFieldType::Singular(RuntimeType::Message(m)) | RuntimeFieldType::Repeated(RuntimeType::Message(m)) => m,
        RuntimeFieldType::Map(..) => map_entry_type(field),
        _ => unreachable!("a message value in field {} of a non-message type", field.name()),
    }
}

/// A map field's entry message, which protoc nests in the message that holds the map.
fn map_entry_type(field: &FieldDescriptor) -> MessageDescriptor {
    let type_name = field.proto().type_name();
    let entry_name = type_name.rsplit('.').next().unwrap_or(type_name);
    field
        .containing_message()
        .nested_messages()
        .find(|m| m.name() == entry_name)
        .expect("a map field's entry type is nested in its message")
}

fn enum_type(field: &FieldDescriptor) -> Option<EnumDescriptor> {
    match field.runtime_field_type() {
        RuntimeFieldType::Singular(RuntimeType::Enum(e)) | RuntimeFieldType::Repeated(RuntimeType::Enum(e)) => Some(e),
        _ => None,
    }
}

/// Map entries: the last entry for a key wins, entries are sorted by key, and both key and value
/// are printed even when they are defaults.
fn write_map(out: &mut String, field: &FieldDescriptor, entries: Vec<Value>, depth: usize) -> Result<(), WireError> {
    let entry_type = map_entry_type(field);
    let key_field = entry_type.field_by_number(1).expect("map entries have a key");
    let value_field = entry_type.field_by_number(2).expect("map entries have a value");
    let mut decoded: Vec<(Value, Value)> = Vec::new();
    for entry in entries {
        let Value::Message(bytes) = entry else { continue };
        let (mut key, mut value) = (default_value(&key_field), default_value(&value_field));
        let mut wire = Wire(&bytes);
        while !wire.is_empty() {
            let (number, wire_type) = wire.tag()?;
            if number == 0 {
                return Err(WireError("field number 0"));
            }
            let raw = wire.field(number, wire_type, depth + 1)?;
            let target = match number {
                1 => (&key_field, &mut key),
                2 => (&value_field, &mut value),
                _ => continue,
            };
            if let Some(v) = decode(target.0, wire_type, raw)?.pop() {
                match (target.1, v) {
                    (Value::Message(merged), Value::Message(more)) => merged.extend_from_slice(&more),
                    (slot, v) => *slot = v,
                }
            }
        }
        decoded.retain(|(k, _)| !same_key(k, &key));
        decoded.push((key, value));
    }
    decoded.sort_by(|a, b| key_order(&a.0, &b.0));
    for (key, value) in decoded {
        indent(out, depth);
        out.push_str(field.name());
        out.push_str(" {\n");
        write_field(out, "key", &key_field, &key, depth + 1)?;
        write_field(out, "value", &value_field, &value, depth + 1)?;
        indent(out, depth);
        out.push_str("}\n");
    }
    Ok(())
}

fn default_value(field: &FieldDescriptor) -> Value {
    match field.proto().type_() {
        Type::TYPE_FLOAT => Value::Float(0.0),
        Type::TYPE_DOUBLE => Value::Double(0.0),
        Type::TYPE_BOOL => Value::Bool(false),
        Type::TYPE_STRING => Value::Str(String::new()),
        Type::TYPE_BYTES => Value::Bytes(Vec::new()),
        Type::TYPE_MESSAGE => Value::Message(Vec::new()),
        Type::TYPE_ENUM => Value::Enum(0),
        Type::TYPE_UINT32 | Type::TYPE_UINT64 | Type::TYPE_FIXED32 | Type::TYPE_FIXED64 => Value::Unsigned(0),
        _ => Value::Signed(0),
    }
}

fn same_key(a: &Value, b: &Value) -> bool {
    key_order(a, b) == std::cmp::Ordering::Equal
}

/// upb's map order: numbers by value, strings by bytes, `false` before `true`.
fn key_order(a: &Value, b: &Value) -> std::cmp::Ordering {
    match (a, b) {
        (Value::Signed(a), Value::Signed(b)) => a.cmp(b),
        (Value::Unsigned(a), Value::Unsigned(b)) => a.cmp(b),
        (Value::Bool(a), Value::Bool(b)) => a.cmp(b),
        (Value::Str(a), Value::Str(b)) => a.as_bytes().cmp(b.as_bytes()),
        _ => std::cmp::Ordering::Equal,
    }
}

fn indent(out: &mut String, depth: usize) {
    for _ in 0..depth {
        out.push_str("  ");
    }
}

/// A `float` as upb writes it: the shortest of `%.6g` and `%.9g` that reads back as `v`.
pub fn float_text(v: f32) -> String {
    if v.is_nan() {
        return "nan".to_string();
    }
    // C's printf promotes the float to double; the digits are those of the exact f32 value.
    let short = format_g(f64::from(v), 6);
    if short.parse::<f32>().ok() == Some(v) {
        short
    } else {
        format_g(f64::from(v), 9)
    }
}

/// A `double` as upb writes it: `%.15g`, or `%.17g` when that does not read back.
pub fn double_text(v: f64) -> String {
    if v.is_nan() {
        return "nan".to_string();
    }
    let short = format_g(v, 15);
    if short.parse::<f64>().ok() == Some(v) {
        short
    } else {
        format_g(v, 17)
    }
}

/// C's `printf("%.{precision}g", v)` for a non-NaN `v`, in the "C" locale.
///
/// `%g` picks the `%e` form when the decimal exponent `x` of the value rounded to `precision`
/// significant digits is below -4 or at least `precision`, and `%f` with `precision - 1 - x`
/// decimals otherwise; then it drops trailing zeros and a trailing point. Rust's `{:.*e}` and
/// `{:.*}` round the exact binary value half-to-even, as glibc does.
pub fn format_g(v: f64, precision: usize) -> String {
    debug_assert!(precision >= 1 && !v.is_nan());
    if v.is_infinite() {
        return if v < 0.0 { "-inf".into() } else { "inf".into() };
    }
    if v == 0.0 {
        return if v.is_sign_negative() { "-0".into() } else { "0".into() };
    }
    let scientific = format!("{:.*e}", precision - 1, v);
    let (mantissa, exponent) = scientific.split_once('e').expect("`{:e}` writes an exponent");
    let exponent: i32 = exponent.parse().expect("`{:e}` writes an integer exponent");
    if exponent < -4 || exponent >= precision as i32 {
        let sign = if exponent < 0 { '-' } else { '+' };
        format!("{}e{sign}{:02}", strip_fraction_zeros(mantissa), exponent.unsigned_abs())
    } else {
        let decimals = (precision as i32 - 1 - exponent) as usize;
        strip_fraction_zeros(&format!("{v:.decimals$}")).to_string()
    }
}

fn strip_fraction_zeros(number: &str) -> &str {
    if number.contains('.') {
        number.trim_end_matches('0').trim_end_matches('.')
    } else {
        number
    }
}

/// A `string` field: valid UTF-8 passes through, ASCII specials are escaped.
fn write_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        if c.is_ascii() {
            escape_ascii_byte(out, c as u8);
        } else {
            out.push(c);
        }
    }
    out.push('"');
}

/// A `bytes` field: everything but printable ASCII is escaped.
fn write_bytes(out: &mut String, bytes: &[u8]) {
    out.push('"');
    for &b in bytes {
        escape_ascii_byte(out, b);
    }
    out.push('"');
}

fn escape_ascii_byte(out: &mut String, b: u8) {
    match b {
        b'\n' => out.push_str("\\n"),
        b'\r' => out.push_str("\\r"),
        b'\t' => out.push_str("\\t"),
        b'"' => out.push_str("\\\""),
        b'\'' => out.push_str("\\'"),
        b'\\' => out.push_str("\\\\"),
        0x20..=0x7e => out.push(b as char),
        _ => write!(out, "\\{b:03o}").unwrap(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::indicator::{MACDData, MACDReply};
    use protobuf::{Message, MessageFull};

    #[test]
    fn g_format_matches_c_for_reference_values() {
        // Expected strings are C's printf output (glibc), following the C standard's %g rules.
        let cases: &[(f64, usize, &str)] = &[
            (1.1, 6, "1.1"),
            (100000.0, 6, "100000"),
            (1000000.0, 6, "1e+06"),
            (0.0001, 6, "0.0001"),
            (0.00001, 6, "1e-05"),
            (123456789.0, 9, "123456789"),
            (1.5e300, 6, "1.5e+300"),
            (-2.5, 6, "-2.5"),
            (0.125, 2, "0.12"),
            (0.375, 2, "0.38"),
            (2.5, 1, "2"),
            (999999.5, 6, "1e+06"),
        ];
        for &(v, p, want) in cases {
            assert_eq!(format_g(v, p), want, "%.{p}g of {v}");
        }
    }

    #[test]
    fn floats_take_the_shortest_form_that_round_trips() {
        assert_eq!(float_text((1.0f64 * 1.1) as f32), "1.1");
        assert_eq!(float_text((3.0f64 * 1.1) as f32), "3.3");
        assert_eq!(float_text(1.0 / 3.0), "0.333333343");
        assert_eq!(float_text(16777216.0), "16777216");
        assert_eq!(float_text(-0.0), "-0");
        assert_eq!(float_text(f32::NAN), "nan");
        assert_eq!(float_text(-f32::NAN), "nan");
        assert_eq!(float_text(f32::INFINITY), "inf");
        assert_eq!(float_text(f32::NEG_INFINITY), "-inf");
        // "1.4013e-45" reads back as the smallest subnormal, so the short form wins.
        assert_eq!(float_text(f32::from_bits(1)), "1.4013e-45");
        assert_eq!(float_text(f32::MIN_POSITIVE), "1.17549435e-38");
    }

    #[test]
    fn strings_escape_ascii_specials_and_keep_utf8() {
        let mut out = String::new();
        write_string(&mut out, "a\"b'c\\d\ne\rf\tg\u{0}\u{1f}\u{7f}é年");
        assert_eq!(out, r#""a\"b\'c\\d\ne\rf\tg\000\037\177é年""#);
        let mut out = String::new();
        write_bytes(&mut out, "é\u{1}".as_bytes());
        assert_eq!(out, r#""\303\251\001""#);
    }

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

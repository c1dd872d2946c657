//! The text upb writes for a message: fields in declaration order, defaults skipped by their
//! bits, sub-messages indented, map entries sorted by key, strings and bytes escaped.

use std::fmt::Write as _;

use protobuf::descriptor::field_descriptor_proto::{Label, Type};
use protobuf::reflect::{EnumDescriptor, FieldDescriptor, MessageDescriptor, RuntimeFieldType, RuntimeType};

use super::float::{double_text, float_text};
use super::value::{decode, default_value, is_default, Value};
use super::wire::{Wire, MAX_DEPTH, TOO_DEEP};
use super::WireError;

pub(super) fn write_message(
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

    #[test]
    fn strings_escape_ascii_specials_and_keep_utf8() {
        let mut out = String::new();
        write_string(&mut out, "a\"b'c\\d\ne\rf\tg\u{0}\u{1f}\u{7f}é年");
        assert_eq!(out, r#""a\"b\'c\\d\ne\rf\tg\000\037\177é年""#);
        let mut out = String::new();
        write_bytes(&mut out, "é\u{1}".as_bytes());
        assert_eq!(out, r#""\303\251\001""#);
    }
}

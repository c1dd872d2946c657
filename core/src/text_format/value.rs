//! The values of a field's occurrence on the wire, decoded by the field's type: one, or several
//! for a packed repeated scalar, or none when the wire type does not fit (an unknown field).

use protobuf::descriptor::field_descriptor_proto::{Label, Type};
use protobuf::reflect::FieldDescriptor;

use super::wire::{Wire, I32, I64, LEN, START_GROUP, VARINT};
use super::WireError;

/// One decoded value.
#[derive(Debug, Clone)]
pub(super) enum Value {
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

/// Whether `value` is its type's default, which a field without presence does not print. Floats
/// are compared by their bits, as upb compares them: `-0.0` is not a default.
pub(super) fn is_default(value: &Value) -> bool {
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
pub(super) fn decode(field: &FieldDescriptor, wire_type: u8, raw: &[u8]) -> Result<Vec<Value>, WireError> {
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

pub(super) fn default_value(field: &FieldDescriptor) -> Value {
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

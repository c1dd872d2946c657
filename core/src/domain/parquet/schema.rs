//! Which of a Parquet file's columns are the bars' (by the names of `bar::aliases`), and how
//! each is stored: the date as a string, a `date32`, a timestamp of any unit, or an integer
//! `YYYYMMDD`; the numbers as double, float or integers.

use ::parquet::basic::{ConvertedType, LogicalType, Type as PhysicalType};
use ::parquet::format::TimeUnit;
use ::parquet::schema::types::{ColumnDescriptor, SchemaDescriptor};

use crate::domain::bar::aliases::{self, ALIASES, DATE, PRICES};
use crate::domain::bar::{quoted, quoted_header, Problem};

/// How the date column is stored.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum DateKind {
    /// UTF-8 text in the CSV forms (`YYYY-MM-DD`, `YYYYMMDD`, ..., an optional midnight time).
    Text,
    /// `date32`: days since 1970-01-01.
    Days,
    /// A timestamp with this many units a day; `unit` names it in messages; `utc` when it is
    /// time-zone aware (stored in UTC).
    Timestamp { per_day: i64, unit: &'static str, utc: bool },
    /// A plain 32- or 64-bit integer read as `YYYYMMDD` (tushare's `trade_date` after `read_csv`).
    Digits,
}

/// How a number column is stored.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum NumberKind {
    Double,
    Float,
    Int64,
    Int32,
}

/// One column of the file that the bars use.
#[derive(Debug, Clone, Copy)]
pub(super) struct Column<K> {
    pub(super) index: usize,
    pub(super) kind: K,
    /// The column's maximum definition level: 0 when it cannot hold nulls.
    pub(super) max_def: i16,
}

/// Where the bars' columns are.
#[derive(Debug)]
pub(super) struct Layout {
    pub(super) date: Column<DateKind>,
    pub(super) prices: [Column<NumberKind>; 4],
    pub(super) volume: Option<Column<NumberKind>>,
    pub(super) adj_factor: Option<Column<NumberKind>>,
}

const DATE_TYPES: &str = "the date must be a string (YYYY-MM-DD, YYYYMMDD or YYYY/MM/DD), a date32, a timestamp at \
                          midnight, or an integer YYYYMMDD";
const NUMBER_TYPES: &str = "numbers must be double, float, int64 or int32";

impl Layout {
    /// Finds the columns by name (top-level columns only) and checks their types.
    pub(super) fn find(schema: &SchemaDescriptor) -> Result<Layout, Problem> {
        let columns = schema.columns();
        let names: Vec<String> = columns
            .iter()
            .map(|c| if c.path().parts().len() == 1 { aliases::normalized(c.name()) } else { c.path().string() })
            .collect();
        for (i, name) in names.iter().enumerate() {
            if !name.is_empty() && names[..i].contains(name) {
                return Err(Problem::DuplicateColumn(quoted(name)));
            }
        }
        let located = aliases::locate(&names);
        let missing = |column: usize| {
            let shown: Vec<&str> = columns.iter().map(|c| c.name()).collect();
            Problem::MissingField { missing: ALIASES[column].0, found: quoted_header(&shown.join(", ")) }
        };
        let at = |column: usize| located[column].ok_or_else(|| missing(column));
        let number = |index: usize| number_column(&columns[index], index);
        let date_index = at(DATE)?;
        let mut prices = Vec::with_capacity(4);
        for column in PRICES {
            prices.push(number(at(column)?)?);
        }
        let optional = |column: usize| located[column].map(number).transpose();
        Ok(Layout {
            date: date_column(&columns[date_index], date_index)?,
            prices: prices.try_into().expect("four prices"),
            volume: optional(aliases::VOLUME)?,
            adj_factor: optional(aliases::ADJ_FACTOR)?,
        })
    }
}

fn shown_type(column: &ColumnDescriptor) -> String {
    match column.logical_type() {
        Some(logical) => format!("{} ({logical:?})", column.physical_type()),
        None if column.converted_type() != ConvertedType::NONE => {
            format!("{} ({})", column.physical_type(), column.converted_type())
        }
        None => column.physical_type().to_string(),
    }
}

fn wrong_type(column: &ColumnDescriptor, expected: &'static str) -> Problem {
    Problem::ColumnType { column: quoted(column.name()), found: shown_type(column), expected }
}

/// A single value a row: neither a list nor inside one.
fn check_flat(column: &ColumnDescriptor, expected: &'static str) -> Result<(), Problem> {
    match column.max_rep_level() {
        0 => Ok(()),
        _ => Err(wrong_type(column, expected)),
    }
}

fn date_column(column: &ColumnDescriptor, index: usize) -> Result<Column<DateKind>, Problem> {
    check_flat(column, DATE_TYPES)?;
    let per_day = |unit: &TimeUnit| match unit {
        TimeUnit::MILLIS(_) => (86_400_000, "ms"),
        TimeUnit::MICROS(_) => (86_400_000_000, "µs"),
        TimeUnit::NANOS(_) => (86_400_000_000_000, "ns"),
    };
    let logical = column.logical_type();
    let kind = match (column.physical_type(), &logical, column.converted_type()) {
        (PhysicalType::BYTE_ARRAY, Some(LogicalType::String) | None, ConvertedType::UTF8 | ConvertedType::NONE) => {
            DateKind::Text
        }
        (PhysicalType::INT32, Some(LogicalType::Date), _) | (PhysicalType::INT32, None, ConvertedType::DATE) => {
            DateKind::Days
        }
        (PhysicalType::INT64, Some(LogicalType::Timestamp { unit, is_adjusted_to_u_t_c }), _) => {
            let (per_day, unit) = per_day(unit);
            DateKind::Timestamp { per_day, unit, utc: *is_adjusted_to_u_t_c }
        }
        // The legacy annotations mean UTC-adjusted timestamps.
        (PhysicalType::INT64, None, ConvertedType::TIMESTAMP_MILLIS) => {
            DateKind::Timestamp { per_day: 86_400_000, unit: "ms", utc: true }
        }
        (PhysicalType::INT64, None, ConvertedType::TIMESTAMP_MICROS) => {
            DateKind::Timestamp { per_day: 86_400_000_000, unit: "µs", utc: true }
        }
        (PhysicalType::INT32 | PhysicalType::INT64, Some(LogicalType::Integer { .. }) | None, _)
            if is_plain_integer(column) =>
        {
            DateKind::Digits
        }
        _ => return Err(wrong_type(column, DATE_TYPES)),
    };
    Ok(Column { index, kind, max_def: column.max_def_level() })
}

fn is_plain_integer(column: &ColumnDescriptor) -> bool {
    matches!(
        column.converted_type(),
        ConvertedType::NONE
            | ConvertedType::INT_8
            | ConvertedType::INT_16
            | ConvertedType::INT_32
            | ConvertedType::INT_64
            | ConvertedType::UINT_8
            | ConvertedType::UINT_16
    )
}

fn number_column(column: &ColumnDescriptor, index: usize) -> Result<Column<NumberKind>, Problem> {
    check_flat(column, NUMBER_TYPES)?;
    let integer = matches!(column.logical_type(), None | Some(LogicalType::Integer { .. })) && is_plain_integer(column);
    let kind = match column.physical_type() {
        PhysicalType::DOUBLE => NumberKind::Double,
        PhysicalType::FLOAT => NumberKind::Float,
        PhysicalType::INT64 if integer => NumberKind::Int64,
        PhysicalType::INT32 if integer => NumberKind::Int32,
        _ => return Err(wrong_type(column, NUMBER_TYPES)),
    };
    Ok(Column { index, kind, max_def: column.max_def_level() })
}

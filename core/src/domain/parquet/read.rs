//! One row group's columns read whole through the parquet crate's typed column readers (no
//! arrow), each as one value or null a row.

use ::parquet::column::reader::get_typed_column_reader;
use ::parquet::data_type::{ByteArray, ByteArrayType, DataType, DoubleType, FloatType, Int32Type, Int64Type};
use ::parquet::errors::ParquetError;
use ::parquet::file::reader::RowGroupReader;

use super::schema::{Column, DateKind, NumberKind};

/// A row group's date column as stored.
pub(super) enum Dates {
    Text(Vec<Option<ByteArray>>),
    Int32(Vec<Option<i32>>),
    Int64(Vec<Option<i64>>),
}

/// Reads `rows` values of column `index`, `None` where null.
fn values<T: DataType>(
    group: &dyn RowGroupReader,
    index: usize,
    max_def: i16,
    rows: usize,
) -> Result<Vec<Option<T::T>>, ParquetError> {
    let mut reader = get_typed_column_reader::<T>(group.get_column_reader(index)?);
    let mut values = Vec::with_capacity(rows);
    let mut levels = Vec::with_capacity(if max_def > 0 { rows } else { 0 });
    let mut read = 0;
    while read < rows {
        let (records, _, _) =
            reader.read_records(rows - read, (max_def > 0).then_some(&mut levels), None, &mut values)?;
        if records == 0 {
            return Err(ParquetError::General(format!("column {index} ends after {read} of {rows} rows")));
        }
        read += records;
    }
    if max_def == 0 {
        return Ok(values.into_iter().map(Some).collect());
    }
    let mut present = values.into_iter();
    Ok(levels.iter().map(|&level| if level == max_def { present.next() } else { None }).collect())
}

/// The date column of a row group.
pub(super) fn dates(group: &dyn RowGroupReader, column: Column<DateKind>, rows: usize) -> Result<Dates, ParquetError> {
    let (index, max_def) = (column.index, column.max_def);
    Ok(match column.kind {
        DateKind::Text => Dates::Text(values::<ByteArrayType>(group, index, max_def, rows)?),
        DateKind::Days => Dates::Int32(values::<Int32Type>(group, index, max_def, rows)?),
        DateKind::Timestamp { .. } => Dates::Int64(values::<Int64Type>(group, index, max_def, rows)?),
        DateKind::Digits => match group.metadata().column(index).column_type() {
            ::parquet::basic::Type::INT32 => Dates::Int32(values::<Int32Type>(group, index, max_def, rows)?),
            _ => Dates::Int64(values::<Int64Type>(group, index, max_def, rows)?),
        },
    })
}

/// A number column of a row group as `f64` (a NaN stays NaN; a null is `None`).
pub(super) fn numbers(
    group: &dyn RowGroupReader,
    column: Column<NumberKind>,
    rows: usize,
) -> Result<Vec<Option<f64>>, ParquetError> {
    let (index, max_def) = (column.index, column.max_def);
    // Integers beyond 2^53 round to the nearest double, as pandas' `astype(float)` does.
    Ok(match column.kind {
        NumberKind::Double => values::<DoubleType>(group, index, max_def, rows)?,
        NumberKind::Float => widen(values::<FloatType>(group, index, max_def, rows)?, f64::from),
        NumberKind::Int64 => widen(values::<Int64Type>(group, index, max_def, rows)?, |v| v as f64),
        NumberKind::Int32 => widen(values::<Int32Type>(group, index, max_def, rows)?, f64::from),
    })
}

fn widen<T>(values: Vec<Option<T>>, to_f64: impl Fn(T) -> f64) -> Vec<Option<f64>> {
    values.into_iter().map(|v| v.map(&to_f64)).collect()
}

//! Reading instruments out of the tables: the whole catalog at start-up (one `COPY ... TO
//! STDOUT`, parsed as it streams), or one instrument again after a change.
//!
//! The catalog comes in COPY's binary format, exact by construction; one instrument is read
//! as text, where PostgreSQL 12 and later print a `double precision` in the shortest form that
//! reads back to the same value: either way the bars are the bits that were written.

use std::collections::BTreeMap;

use futures::StreamExt;
use tokio_postgres::binary_copy::BinaryCopyOutStream;
use tokio_postgres::types::Type;
use tokio_postgres::Client;

use super::PgError;
use crate::domain::catalog::{Catalog, Instrument};
use crate::domain::date::Date;
use crate::domain::series::{AdjFactors, BarColumns};

/// An instrument's bars as read, with whether its last bar is forming and its revision.
pub struct Loaded {
    pub instrument: Instrument,
    pub forming: bool,
    pub revision: i64,
}

/// Bars of one symbol as they arrive, row by row.
#[derive(Default)]
struct Builder {
    bars: BarColumns,
    factors: Vec<Option<f64>>,
    forming: bool,
}

impl Builder {
    fn push(&mut self, fields: &[&str]) -> Result<(), String> {
        let number = |i: usize| fields[i].parse::<f64>().map_err(|_| format!("{:?} is not a number", fields[i]));
        let date = Date::parse(fields[0]).map_err(|e| e.to_string())?;
        self.bars.date.push(date);
        self.bars.open.push(number(1)?);
        self.bars.high.push(number(2)?);
        self.bars.low.push(number(3)?);
        self.bars.close.push(number(4)?);
        self.bars.volume.push(number(5)?);
        self.factors.push(if fields[6] == "\\N" { None } else { Some(number(6)?) });
        self.forming = fields[7] == "t";
        Ok(())
    }

    /// The instrument; a factor left NULL beside others is 1 (an instrument that gained factors).
    fn finish(mut self, symbol: String, name: Option<String>, revision: i64) -> Loaded {
        if self.factors.iter().any(Option::is_some) {
            self.bars.adj_factor = AdjFactors::from_values(self.factors.iter().map(|f| f.unwrap_or(1.0)));
        }
        let name = name.filter(|n| !n.is_empty()).unwrap_or_else(|| symbol.clone());
        Loaded { instrument: Instrument { symbol, name, bars: self.bars }, forming: self.forming, revision }
    }
}

/// Every instrument with at least one bar, and each one's forming flag and revision.
///
/// One `COPY ... TO STDOUT (FORMAT binary)`: turning millions of floats into text is most of
/// what a text COPY costs the database (measured: 3.7 s against 3.05 s for 5M bars), and the
/// binary form is read without parsing numbers. The date travels as days since 1970, an
/// `integer`, so no date type of the client is needed.
pub async fn all(client: &Client) -> Result<(Catalog, BTreeMap<String, (bool, i64)>), PgError> {
    let mut meta: BTreeMap<String, (Option<String>, i64)> = BTreeMap::new();
    for row in client.query("SELECT symbol, name, revision FROM instruments", &[]).await? {
        meta.insert(row.get(0), (row.get(1), row.get(2)));
    }
    let copy = "COPY (SELECT symbol, date - DATE '1970-01-01', open, high, low, close, volume, adj_factor, forming \
                FROM bars ORDER BY symbol, date) TO STDOUT (FORMAT binary)";
    let types = [
        Type::TEXT,
        Type::INT4,
        Type::FLOAT8,
        Type::FLOAT8,
        Type::FLOAT8,
        Type::FLOAT8,
        Type::FLOAT8,
        Type::FLOAT8,
        Type::BOOL,
    ];
    let stream = BinaryCopyOutStream::new(client.copy_out(copy).await?, &types);
    futures::pin_mut!(stream);
    let mut loaded = Vec::new();
    let mut current: Option<(String, Builder)> = None;
    while let Some(row) = stream.next().await {
        let row = row?;
        let symbol: &str = row.try_get(0)?;
        if current.as_ref().is_none_or(|(held, _)| held != symbol) {
            if let Some((symbol, builder)) = current.take() {
                let (name, revision) = meta.get(&symbol).cloned().unwrap_or((None, 0));
                loaded.push(builder.finish(symbol, name, revision));
            }
            current = Some((symbol.to_string(), Builder::default()));
        }
        let (_, builder) = current.as_mut().expect("set above");
        let bars = &mut builder.bars;
        bars.date.push(Date::from_days_since_epoch(i64::from(row.try_get::<i32>(1)?)));
        bars.open.push(row.try_get(2)?);
        bars.high.push(row.try_get(3)?);
        bars.low.push(row.try_get(4)?);
        bars.close.push(row.try_get(5)?);
        bars.volume.push(row.try_get(6)?);
        builder.factors.push(row.try_get(7)?);
        builder.forming = row.try_get(8)?;
    }
    if let Some((symbol, builder)) = current.take() {
        let (name, revision) = meta.get(&symbol).cloned().unwrap_or((None, 0));
        loaded.push(builder.finish(symbol, name, revision));
    }
    let flags = loaded.iter().map(|l| (l.instrument.symbol.clone(), (l.forming, l.revision))).collect();
    Ok((Catalog::new(loaded.into_iter().map(|l| l.instrument)), flags))
}

/// One instrument as the tables hold it now; `None` when it has no bars.
pub async fn one(client: &Client, symbol: &str) -> Result<Option<Loaded>, PgError> {
    one_in(client, symbol).await
}

/// [`one`], within a transaction or on a client.
pub async fn one_in(client: &impl tokio_postgres::GenericClient, symbol: &str) -> Result<Option<Loaded>, PgError> {
    let meta = client.query_opt("SELECT name, revision FROM instruments WHERE symbol = $1", &[&symbol]).await?;
    let Some(meta) = meta else { return Ok(None) };
    let rows = client
        .query(
            "SELECT date::text, open::text, high::text, low::text, close::text, volume::text, \
             coalesce(adj_factor::text, '\\N'), CASE WHEN forming THEN 't' ELSE 'f' END \
             FROM bars WHERE symbol = $1 ORDER BY date",
            &[&symbol],
        )
        .await?;
    if rows.is_empty() {
        return Ok(None);
    }
    let mut builder = Builder::default();
    for row in &rows {
        let fields: Vec<&str> = (0..8).map(|i| row.get::<_, &str>(i)).collect();
        builder.push(&fields).map_err(|e| PgError::Data(format!("{symbol}: {e}")))?;
    }
    Ok(Some(builder.finish(symbol.to_string(), meta.get(0), meta.get(1))))
}

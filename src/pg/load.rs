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

use super::{PgError, Target};
use crate::domain::catalog::{Catalog, Instrument};
use crate::domain::date::Date;
use crate::domain::series::{AdjFactors, BarColumns};

/// An instrument's bars as read, with whether its last bar is forming and its revision.
pub struct Loaded {
    pub instrument: Instrument,
    pub forming: bool,
    pub revision: i64,
}

/// Bars of one symbol as they arrive: row by row, or in runs of arrays.
#[derive(Default)]
struct Builder {
    bars: BarColumns,
    factors: Vec<Option<f64>>,
    /// Each bar's `forming` flag (only the last bar's can be set).
    forming: Vec<bool>,
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
        self.forming.push(fields[7] == "t");
        Ok(())
    }

    /// One row of [`copy_part`]'s aggregate: columns 1 to 8, arrays of the instrument's bars.
    fn append(&mut self, row: &tokio_postgres::binary_copy::BinaryCopyOutRow) -> Result<(), PgError> {
        let days: Vec<i32> = row.try_get(1)?;
        let before = self.bars.date.len();
        self.bars.date.extend(days.into_iter().map(|d| Date::from_days_since_epoch(i64::from(d))));
        let b = &mut self.bars;
        for (column, i) in [(&mut b.open, 2), (&mut b.high, 3), (&mut b.low, 4), (&mut b.close, 5), (&mut b.volume, 6)]
        {
            column.extend(row.try_get::<Vec<f64>>(i)?);
        }
        self.factors.extend(row.try_get::<Vec<Option<f64>>>(7)?);
        self.forming.extend(row.try_get::<Vec<bool>>(8)?);
        let added = self.bars.date.len() - before;
        let b = &self.bars;
        let lengths = [b.open.len(), b.high.len(), b.low.len(), b.close.len(), b.volume.len()];
        if lengths.iter().chain([&self.factors.len(), &self.forming.len()]).any(|&n| n != before + added) {
            return Err(PgError::Data("a run of bars came with columns of different lengths".into()));
        }
        Ok(())
    }

    /// The bars in date order. An aggregate keeps its input's order in practice (the rows are
    /// fed to it sorted), which SQL does not promise: checked, and sorted when not so.
    fn sort(&mut self) {
        if self.bars.date.windows(2).all(|w| w[0] < w[1]) {
            return;
        }
        let mut order: Vec<usize> = (0..self.bars.date.len()).collect();
        order.sort_by_key(|&i| self.bars.date[i]);
        fn permute<T: Copy>(column: &mut Vec<T>, order: &[usize]) {
            *column = order.iter().map(|&i| column[i]).collect();
        }
        let b = &mut self.bars;
        permute(&mut b.date, &order);
        for column in [&mut b.open, &mut b.high, &mut b.low, &mut b.close, &mut b.volume] {
            permute(column, &order);
        }
        permute(&mut self.factors, &order);
        permute(&mut self.forming, &order);
    }

    /// The instrument; a factor left NULL beside others is 1 (an instrument that gained factors).
    fn finish(mut self, symbol: String, name: Option<String>, revision: i64) -> Loaded {
        self.sort();
        if self.factors.iter().any(Option::is_some) {
            self.bars.adj_factor = AdjFactors::from_values(self.factors.iter().map(|f| f.unwrap_or(1.0)));
        }
        let forming = self.forming.last().copied().unwrap_or(false);
        let name = name.filter(|n| !n.is_empty()).unwrap_or_else(|| symbol.clone());
        Loaded { instrument: Instrument { symbol, name, bars: self.bars }, forming, revision }
    }
}

/// How many connections read the catalog at start-up at most (one a core): PostgreSQL sends a
/// `COPY` from one backend process, one core, so a single one bounded start-up at about twice
/// the database's time to scan the bars (measured: 2.9 s for 5M bars, 1.4 s in two halves).
const MOST_PARTS: usize = 4;

/// The columns of [`copy_part`]'s `COPY`: a symbol, then its bars as arrays, one a column.
///
/// A row holds an instrument's whole history. Dates run from year 1 to 9999, so at most about
/// 3.65M daily bars of 86 bytes: 314 MB, under PostgreSQL's 1 GB a row. Rows of bounded runs
/// (a century each, say) would make the database sort each instrument's bars again.
const COLUMNS: [Type; 9] = [
    Type::TEXT,
    Type::INT4_ARRAY,
    Type::FLOAT8_ARRAY,
    Type::FLOAT8_ARRAY,
    Type::FLOAT8_ARRAY,
    Type::FLOAT8_ARRAY,
    Type::FLOAT8_ARRAY,
    Type::FLOAT8_ARRAY,
    Type::BOOL_ARRAY,
];

/// The parts are the parallelism: no parallel plan within one (its workers could also feed an
/// aggregate out of order), and no JIT, whose compiling costs more than it saves here.
const ONE_CORE: &str = "SET LOCAL max_parallel_workers_per_gather = 0; SET LOCAL jit = off";

/// Every instrument with at least one bar, and each one's forming flag and revision.
///
/// `COPY ... TO STDOUT (FORMAT binary)` of the bars aggregated into arrays, a row per
/// instrument: one message a bar (a plain `COPY` of the rows) cost the client 450 ns a bar in
/// the driver's per-message work, more than the database's own; arrays come in a few thousand
/// messages. Binary, since turning millions of floats into text is most of what a text COPY
/// costs the database (measured: 3.7 s against 3.05 s for 5M bars). The date travels as days
/// since 1970, an `integer`, so no date type of the client is needed.
///
/// The instruments are read in up to [`MOST_PARTS`] runs of symbols at once, one connection
/// each (`client`'s and others to `target`), all in one snapshot: `client`'s transaction
/// exports it and the others take it (`SET TRANSACTION SNAPSHOT`, as `pg_dump --jobs` does), so
/// the parts are exactly the instruments and revisions of one moment, none twice or missed. A
/// part whose connection fails is read on `client`'s afterwards: more connections only make it
/// faster, never needed.
pub async fn all(target: &Target, client: &Client) -> Result<(Catalog, BTreeMap<String, (bool, i64)>), PgError> {
    client.batch_execute(&format!("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY; {ONE_CORE}")).await?;
    let snapshot: String = client.query_one("SELECT pg_export_snapshot()", &[]).await?.get(0);
    let mut meta: BTreeMap<String, (Option<String>, i64)> = BTreeMap::new();
    for row in client.query("SELECT symbol, name, revision FROM instruments", &[]).await? {
        meta.insert(row.get(0), (row.get(1), row.get(2)));
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let parts = cores.clamp(1, MOST_PARTS).min(meta.len()).max(1);
    // Part k holds the instruments from the (k × count / parts)th in symbol order to the next
    // part's first (open ends for the first part and the last).
    let count = meta.len();
    let bounds = |k: usize| ((k > 0).then(|| k * count / parts), (k + 1 < parts).then(|| (k + 1) * count / parts));
    let mut reads = Vec::with_capacity(parts);
    for k in 1..parts {
        let snapshot = snapshot.clone();
        let (from, to) = bounds(k);
        reads.push(async move {
            let (other, connection) = target.connect().await?;
            tokio::spawn(async move {
                let _ = connection.await;
            });
            // The identifier comes from the server (hex digits and dashes); checked all the same,
            // since it is written into the statement.
            if !snapshot.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
                return Err(PgError::Data(format!("unexpected snapshot identifier {snapshot:?}")));
            }
            other
                .batch_execute(&format!(
                    "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY; SET TRANSACTION SNAPSHOT '{snapshot}'; {ONE_CORE}"
                ))
                .await?;
            copy_part(&other, from, to).await
        });
    }
    let (from, to) = bounds(0);
    let first = copy_part(client, from, to);
    let (first, others) = futures::future::join(first, futures::future::join_all(reads)).await;
    let mut parts_read = vec![first?];
    for (k, part) in (1..parts).zip(others) {
        match part {
            Ok(read) => parts_read.push(read),
            // A connection more than the one the server needs may be refused (a role's
            // connection limit, `max_connections`, a pooler without transactions): that part is
            // read on the first connection, in the same snapshot, after the others.
            Err(e) => {
                log::warn!(
                    "database {target}: reading part {} of {parts} of the catalog on a connection of its own failed \
                     ({e}); reading it on the first connection",
                    k + 1
                );
                let (from, to) = bounds(k);
                parts_read.push(copy_part(client, from, to).await?);
            }
        }
    }
    client.batch_execute("COMMIT").await?;
    let mut loaded = Vec::new();
    for (symbol, builder) in parts_read.into_iter().flatten() {
        let (name, revision) = meta.get(&symbol).cloned().unwrap_or((None, 0));
        loaded.push(builder.finish(symbol, name, revision));
    }
    let flags = loaded.iter().map(|l| (l.instrument.symbol.clone(), (l.forming, l.revision))).collect();
    Ok((Catalog::new(loaded.into_iter().map(|l| l.instrument)), flags))
}

/// The bars of the instruments from the `from`th to before the `to`th in symbol order (open
/// ends: the first, the last), by symbol, in the snapshot of `client`'s transaction. The bounds
/// are positions, so no symbol is written into the statement.
async fn copy_part(client: &Client, from: Option<usize>, to: Option<usize>) -> Result<Vec<(String, Builder)>, PgError> {
    let nth = |n: usize| format!("(SELECT symbol FROM instruments ORDER BY symbol OFFSET {n} LIMIT 1)");
    let mut bounds = Vec::new();
    if let Some(from) = from {
        bounds.push(format!("symbol >= {}", nth(from)));
    }
    if let Some(to) = to {
        bounds.push(format!("symbol < {}", nth(to)));
    }
    let filter = if bounds.is_empty() { String::new() } else { format!("WHERE {}", bounds.join(" AND ")) };
    let copy = format!(
        "COPY (SELECT symbol, array_agg(day), array_agg(open), array_agg(high), array_agg(low), \
         array_agg(close), array_agg(volume), array_agg(adj_factor), array_agg(forming) \
         FROM (SELECT symbol, date - DATE '1970-01-01' AS day, open, high, low, close, volume, adj_factor, forming \
         FROM bars {filter} ORDER BY symbol, date) sorted GROUP BY symbol ORDER BY symbol) TO STDOUT (FORMAT binary)"
    );
    let stream = BinaryCopyOutStream::new(client.copy_out(&copy).await?, &COLUMNS);
    futures::pin_mut!(stream);
    let mut read: Vec<(String, Builder)> = Vec::new();
    while let Some(row) = stream.next().await {
        let row = row?;
        let symbol: &str = row.try_get(0)?;
        if read.last().is_none_or(|(held, _)| held != symbol) {
            read.push((symbol.to_string(), Builder::default()));
        }
        let (_, builder) = read.last_mut().expect("pushed above");
        builder.append(&row)?;
    }
    Ok(read)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_that_arrive_out_of_date_order_are_sorted_with_every_column() {
        let mut builder = Builder::default();
        for (day, forming) in [(3, true), (1, false), (2, false)] {
            let date = Date::from_days_since_epoch(day).to_string();
            let price = format!("{}", day * 10);
            let factor = if day == 2 { "\\N".to_string() } else { format!("{day}") };
            let flag = if forming { "t" } else { "f" };
            builder.push(&[&date, &price, &price, &price, &price, &price, &factor, flag]).unwrap();
        }
        let loaded = builder.finish("S".into(), None, 7);
        let bars = &loaded.instrument.bars;
        let days: Vec<String> = bars.date.iter().map(|d| d.to_string()).collect();
        assert_eq!(days, ["1970-01-02", "1970-01-03", "1970-01-04"]);
        assert_eq!(bars.close, [10.0, 20.0, 30.0]);
        assert_eq!(bars.volume, [10.0, 20.0, 30.0]);
        assert_eq!(bars.factor_values(), [1.0, 1.0, 3.0], "a NULL factor beside others is 1");
        assert!(loaded.forming, "the last bar's flag, once sorted");
        assert_eq!((loaded.instrument.name.as_str(), loaded.revision), ("S", 7));
    }
}

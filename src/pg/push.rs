//! A push as one transaction: the instrument's row locked (`FOR UPDATE`), so that pushes to one
//! symbol through different replicas take turns; the push checked against the bars the database
//! holds (not this replica's copy, which may lag); the bars upserted (a revision of the last date
//! is an update), the revision bumped, and the change notified, which PostgreSQL delivers at
//! commit. Nothing is written unless the whole push is.

use tokio_postgres::Client;

use super::load;
use super::PgError;
use crate::domain::catalog::Instrument;
use crate::domain::live::{self, Applied};
use crate::protocol::indicators as pb;
use idc_core::query::{self, PushQuery};

/// What a committed push did, and the instrument as it now is.
pub struct Committed {
    pub applied: Applied,
    pub query: PushQuery,
    pub instrument: Instrument,
    pub revision: i64,
}

/// Checks and commits `request`. A refusal is `PgError::Refused`, with nothing written.
pub async fn push(client: &mut Client, request: &pb::PushBarsRequest) -> Result<Committed, PgError> {
    let tx = client.transaction().await?;
    let symbol = request.symbol.as_str();
    // Creates the row a new symbol needs, so that it can be locked; rolled back if refused.
    tx.execute("INSERT INTO instruments (symbol, name) VALUES ($1, $1) ON CONFLICT DO NOTHING", &[&symbol]).await?;
    tx.execute("SELECT 1 FROM instruments WHERE symbol = $1 FOR UPDATE", &[&symbol]).await?;
    let held = load::one_in(&tx, symbol).await?.map(|loaded| loaded.instrument);
    let query = query::push(request, held.as_ref()).map_err(PgError::Refused)?;
    let mut instrument = held.unwrap_or_else(|| Instrument {
        symbol: symbol.to_string(),
        name: symbol.to_string(),
        bars: Default::default(),
    });
    let applied = live::apply(&mut instrument.bars, &query);
    let bars = &query.bars;
    let dates: Vec<String> = bars.iter().map(|b| b.bar.date.to_string()).collect();
    let column = |f: fn(&crate::domain::bar::Bar) -> f64| bars.iter().map(|b| f(&b.bar)).collect::<Vec<f64>>();
    let factors: Vec<Option<f64>> = bars.iter().map(|b| b.adj_factor).collect();
    let last = bars.len() - 1;
    let forming: Vec<bool> = (0..bars.len()).map(|i| query.forming && i == last).collect();
    tx.execute(
        "INSERT INTO bars (symbol, date, open, high, low, close, volume, adj_factor, forming) \
         SELECT $1, d::date, o, h, l, c, v, a, f \
         FROM unnest($2::text[], $3::float8[], $4::float8[], $5::float8[], $6::float8[], $7::float8[], \
                     $8::float8[], $9::bool[]) AS t (d, o, h, l, c, v, a, f) \
         ON CONFLICT (symbol, date) DO UPDATE SET open = excluded.open, high = excluded.high, low = excluded.low, \
             close = excluded.close, volume = excluded.volume, adj_factor = excluded.adj_factor, \
             forming = excluded.forming",
        &[
            &symbol,
            &dates,
            &column(|b| b.open),
            &column(|b| b.high),
            &column(|b| b.low),
            &column(|b| b.close),
            &column(|b| b.volume),
            &factors,
            &forming,
        ],
    )
    .await?;
    // The bar before the pushed ones is final now.
    if let Some(first) = dates.first() {
        tx.execute(
            "UPDATE bars SET forming = false WHERE symbol = $1 AND forming AND date < $2::text::date",
            &[&symbol, first],
        )
        .await?;
    }
    let row = tx
        .query_one("UPDATE instruments SET revision = revision + 1 WHERE symbol = $1 RETURNING revision", &[&symbol])
        .await?;
    let revision: i64 = row.get(0);
    // The symbol, then the dates pushed (first, last), tab-separated: a listener reads the
    // symbol (an ETL job's `NOTIFY idc_bars, 'SYMBOL'` has nothing after it).
    let payload = format!("{symbol}\t{}\t{}", dates[0], dates[dates.len() - 1]);
    tx.execute("SELECT pg_notify($1, $2)", &[&super::schema::CHANNEL, &payload]).await?;
    tx.commit().await?;
    Ok(Committed { applied, query, instrument, revision })
}

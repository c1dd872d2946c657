//! The tables the PostgreSQL catalog is, and the migration that makes them: idempotent, run by
//! every replica at start-up under an advisory lock, so that two replicas starting together on a
//! new database do not race (docs/postgres.md shows the same SQL).
//!
//! The checks of a CSV row are table constraints, so that no program (an ETL job included) can
//! write a bar idc would refuse. `double precision` takes NaN and infinities, and PostgreSQL
//! orders NaN above every number, so finiteness is checked apart.

/// The schema version this server writes; `idc_schema` records the versions applied.
pub const VERSION: i32 = 1;

/// The migration, in one transaction.
pub const MIGRATION: &str = r#"
SELECT pg_advisory_xact_lock(7301955901);
CREATE TABLE IF NOT EXISTS idc_schema (version integer PRIMARY KEY, applied timestamptz NOT NULL DEFAULT now());
CREATE TABLE IF NOT EXISTS instruments (
    symbol text PRIMARY KEY CHECK (length(symbol) BETWEEN 1 AND 64),
    name text,
    -- Bumped by every change to the instrument's bars (a push, idc_bars_changed): a replica
    -- that missed notifications compares it with the one it holds.
    revision bigint NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS bars (
    symbol text NOT NULL REFERENCES instruments (symbol) ON DELETE CASCADE,
    date date NOT NULL,
    open double precision NOT NULL,
    high double precision NOT NULL,
    low double precision NOT NULL,
    close double precision NOT NULL,
    volume double precision NOT NULL DEFAULT 0,
    adj_factor double precision,
    forming boolean NOT NULL DEFAULT false,
    PRIMARY KEY (symbol, date),
    CONSTRAINT bars_prices_finite CHECK (
        open < 'Infinity' AND high < 'Infinity' AND low < 'Infinity' AND close < 'Infinity'),
    CONSTRAINT bars_prices_positive CHECK (open > 0 AND high > 0 AND low > 0 AND close > 0),
    CONSTRAINT bars_high_at_least_low CHECK (high >= low),
    CONSTRAINT bars_open_close_within CHECK (open BETWEEN low AND high AND close BETWEEN low AND high),
    CONSTRAINT bars_volume CHECK (volume >= 0 AND volume < 'Infinity'),
    CONSTRAINT bars_adj_factor CHECK (adj_factor IS NULL OR (adj_factor > 0 AND adj_factor < 'Infinity'))
);
CREATE OR REPLACE FUNCTION idc_bars_changed(changed text) RETURNS void LANGUAGE sql AS $$
    UPDATE instruments SET revision = revision + 1 WHERE symbol = changed;
    SELECT pg_notify('idc_bars', changed);
$$;
INSERT INTO idc_schema (version) VALUES (1) ON CONFLICT DO NOTHING;
"#;

/// The channel replicas listen on; a notification's payload is a symbol, followed for a push by a
/// tab and the first and last dates pushed, tab-separated.
pub const CHANNEL: &str = "idc_bars";

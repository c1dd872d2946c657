//! Hearing the other replicas (and ETL jobs): a connection of its own that `LISTEN`s on
//! `idc_bars`; each notification names a symbol, which is read again and served if its
//! revision is newer than the one held. Whenever the connection is (re)made, every instrument's
//! revision and last date are compared with this replica's first, so that the notifications
//! sent while it was down are caught up, not dropped. A lost connection is retried with
//! backoff, and health's `idc.v2.store` says NOT_SERVING meanwhile.

use std::sync::Arc;
use std::time::Duration;

use futures::channel::mpsc;
use futures::{FutureExt, StreamExt};
use tokio_postgres::AsyncMessage;

use super::{load, PgError, PgStore};

/// Runs for as long as the server does.
pub(super) async fn run(store: Arc<PgStore>) {
    let mut wait = Duration::from_millis(100);
    loop {
        let mut listened = false;
        if let Err(e) = session(&store, &mut listened).await {
            // A session that was listening starts the backoff again: this is a new outage.
            if listened {
                wait = Duration::from_millis(100);
            }
            log::warn!("database {}: listening for changes: {e}; again in {} ms", store.target, wait.as_millis());
        }
        store.set_up(false);
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(Duration::from_secs(5));
    }
}

/// One connection's life: listen, catch up, then follow the notifications until it breaks.
async fn session(store: &Arc<PgStore>, listened: &mut bool) -> Result<(), PgError> {
    // Named apart from the pushes' connection, so that an operator (or a test) can tell them.
    let mut target = store.target.clone();
    target.config.application_name("idc listen");
    let (client, mut connection) = target.connect().await?;
    let (tx, mut notified) = mpsc::unbounded::<String>();
    // The connection must be polled for the queries to run; its notifications are passed on.
    let driver = tokio::spawn(async move {
        let mut messages = futures::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(message) = messages.next().await {
            match message {
                Ok(AsyncMessage::Notification(n)) => {
                    // `SYMBOL` or `SYMBOL<TAB>FIRST<TAB>LAST`: the instrument is read again whole.
                    let symbol = n.payload().split('\t').next().unwrap_or_default().to_string();
                    if tx.unbounded_send(symbol).is_err() {
                        break;
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    log::warn!("database connection: {}", PgError::from(e));
                    break;
                }
            }
        }
    });
    client.batch_execute(&format!("LISTEN {}", super::schema::CHANNEL)).await?;
    catch_up(store, &client).await?;
    *listened = true;
    store.set_up(true);
    while let Some(symbol) = notified.next().await {
        // Many notifications of one symbol in a burst are one read.
        let mut symbols = vec![symbol];
        while let Some(Some(more)) = notified.next().now_or_never() {
            if !symbols.contains(&more) {
                symbols.push(more);
            }
        }
        for symbol in symbols {
            refresh(store, &client, &symbol).await?;
        }
    }
    driver.abort();
    Err(PgError::Unreachable("the connection closed".into()))
}

/// Reads again every instrument whose revision or last date differs from what is held.
async fn catch_up(store: &Arc<PgStore>, client: &tokio_postgres::Client) -> Result<(), PgError> {
    let held = store.revisions();
    let catalog = store.lock().shared.as_ref().map(|s| s.current());
    let rows = client
        .query(
            "SELECT i.symbol, i.revision, max(b.date)::text FROM instruments i LEFT JOIN bars b USING (symbol) \
             GROUP BY i.symbol, i.revision",
            &[],
        )
        .await?;
    for row in rows {
        let (symbol, revision, last): (String, i64, Option<String>) = (row.get(0), row.get(1), row.get(2));
        let last_held =
            catalog.as_ref().and_then(|c| c.get(&symbol)).and_then(|i| i.last_date()).map(|d| d.to_string());
        if held.get(&symbol) != Some(&revision) || last_held != last {
            refresh(store, client, &symbol).await?;
        }
    }
    Ok(())
}

/// Reads `symbol` again and serves it if it is newer than what is held.
async fn refresh(store: &Arc<PgStore>, client: &tokio_postgres::Client, symbol: &str) -> Result<(), PgError> {
    if let Some(loaded) = load::one(client, symbol).await? {
        store.apply(loaded.instrument, loaded.revision, loaded.forming, None);
    }
    Ok(())
}

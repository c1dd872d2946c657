//! Subscriptions: who wants which symbols with which indicators, and the updates they are sent.
//!
//! A [`Feed`] per symbol holds one [`Track`] per (adjust, frequency) asked, and each track one
//! indicator state per (indicator, parameters, convention) asked: every subscriber with the same
//! key shares it, so a push costs one step per indicator state, then one message per subscriber.
//! Subscribers of a track that asked for the same columns (the same *layout*) are sent the same
//! update: it is encoded once ([`Encoded`]), and each of them is handed the same bytes, so a
//! thousand subscribers cost one encoding and a thousand reference counts, not a thousand
//! messages built.
//! The hub is told of every change to an instrument ([`Hub::changed`], from a push or a reload of
//! its file) in order, under the store's lock, and sends each subscriber its updates in that
//! order.
//!
//! Each subscriber has a bounded queue (`--subscriber-queue`, plus room for its snapshots). A
//! send never waits: a subscriber whose queue is full is ended as too slow, so it never holds up
//! the pusher or the other subscribers; it may subscribe again for a fresh snapshot.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures::channel::mpsc;
use protobuf::Message as _;

use crate::catalog::SharedCatalog;
use crate::domain::catalog::Instrument;
use crate::domain::date::Date;
use crate::domain::indicators::{Indicator, Quote};
use crate::domain::live::{Advanced, Track};
use crate::domain::series::{Adjust, BarColumns, Frequency, Labelled};
use crate::metrics::Metrics;
use crate::protocol::indicators as pb;
use idc_core::query::SubscribeQuery;

/// Why the hub ended a subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// Its queue overflowed.
    TooSlow,
    /// The server is draining.
    ShuttingDown,
}

/// Why a subscription was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubscribeError {
    #[error("this server has {0} subscriptions open, its --max-subscriptions; subscribe to another replica, or later")]
    TooMany(usize),
    #[error("server shutting down; subscribe to another replica")]
    ShuttingDown,
}

/// An [`pb::Update`]'s wire bytes, encoded once for every subscriber it goes to; the Subscribe
/// call writes them as they are (`crate::service::wire::SUBSCRIBE`).
#[derive(Debug, Clone)]
pub struct Encoded(pub Bytes);

/// The receiving end of a subscription: its updates, then why it ended. Dropping it unsubscribes.
pub struct Subscription {
    pub updates: mpsc::Receiver<Encoded>,
    ending: Arc<Mutex<Option<Ended>>>,
    hub: Arc<Hub>,
    id: u64,
}

impl Subscription {
    /// Why the hub ended it, once `updates` has ended.
    pub fn ended(&self) -> Option<Ended> {
        *self.ending.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.hub.unsubscribe(self.id);
    }
}

/// The hub; shared by the store (which tells it of changes) and the Subscribe calls.
pub struct Hub {
    state: Mutex<State>,
    queue: usize,
    max: usize,
    metrics: Arc<Metrics>,
}

struct Subscriber {
    tx: mpsc::Sender<Encoded>,
    ending: Arc<Mutex<Option<Ended>>>,
    /// For the symbols created later, when it asked for every one.
    every: Option<Key>,
}

/// The columns some subscribers of a track are sent: each indicator's slot and column names.
type Layout = Vec<(usize, Vec<String>)>;

/// One subscriber of a track, and the layout (index into [`Keyed::layouts`]) it asked for.
struct Member {
    id: u64,
    layout: usize,
}

struct Keyed {
    track: Track,
    members: Vec<Member>,
    layouts: Vec<Layout>,
}

struct Feed {
    seen: Arc<Instrument>,
    tracks: Vec<Keyed>,
}

#[derive(Default)]
struct State {
    next_id: u64,
    subscribers: HashMap<u64, Subscriber>,
    feeds: HashMap<String, Feed>,
    /// Symbols whose last bar is still forming.
    forming: HashSet<String>,
    closed: bool,
}

impl Hub {
    pub fn new(queue: usize, max: usize, metrics: Arc<Metrics>) -> Arc<Hub> {
        Arc::new(Hub { state: Mutex::new(State::default()), queue, max, metrics })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Opens a subscription: its snapshots are queued before this returns, so they come before
    /// any update. The instruments are read from `catalog` under the hub's lock, so that a push
    /// is either in the snapshot or sent after it, never lost between the two.
    pub fn subscribe(
        self: &Arc<Self>,
        query: &SubscribeQuery,
        catalog: &SharedCatalog,
    ) -> Result<Subscription, SubscribeError> {
        let mut state = self.lock();
        if state.closed {
            return Err(SubscribeError::ShuttingDown);
        }
        if state.subscribers.len() >= self.max {
            return Err(SubscribeError::TooMany(state.subscribers.len()));
        }
        let catalog = catalog.current();
        let instruments: Vec<Arc<Instrument>> = if query.symbols.is_empty() {
            catalog.iter().cloned().collect()
        } else {
            query.symbols.iter().filter_map(|s| catalog.get(s).cloned()).collect()
        };
        let (tx, updates) = mpsc::channel(self.queue.saturating_sub(1) + instruments.len());
        let id = state.next_id;
        state.next_id += 1;
        let ending = Arc::new(Mutex::new(None));
        let key = Key { adjust: query.adjust, frequency: query.frequency, indicators: query.indicators.clone() };
        let every = query.symbols.is_empty().then(|| key.clone());
        state.subscribers.insert(id, Subscriber { tx, ending: Arc::clone(&ending), every });
        for instrument in instruments {
            join(&mut state, id, &instrument, &key);
        }
        self.metrics.set_subscriptions(state.subscribers.len());
        Ok(Subscription { updates, ending, hub: Arc::clone(self), id })
    }

    fn unsubscribe(&self, id: u64) {
        let mut state = self.lock();
        if state.subscribers.remove(&id).is_some() {
            forget(&mut state, &[id]);
            self.metrics.set_subscriptions(state.subscribers.len());
        }
    }

    /// `symbol` is now `instrument` (`None`: gone). `first_changed`, when known, is the first bar
    /// that differs from `previous`; else (or when the hub last saw another version) the hub
    /// compares the two histories.
    pub fn changed(
        &self,
        symbol: &str,
        instrument: Option<&Arc<Instrument>>,
        previous: Option<&Arc<Instrument>>,
        first_changed: Option<usize>,
        forming: bool,
    ) {
        let mut state = self.lock();
        if forming {
            state.forming.insert(symbol.to_string());
        } else {
            state.forming.remove(symbol);
        }
        let Some(instrument) = instrument else {
            state.feeds.remove(symbol);
            return;
        };
        if !state.feeds.contains_key(symbol) {
            // New to the hub: the subscribers to every symbol take it up, from a snapshot.
            let everyone: Vec<(u64, Key)> =
                state.subscribers.iter().filter_map(|(&id, s)| s.every.clone().map(|key| (id, key))).collect();
            let mut slow = Vec::new();
            for (id, key) in everyone {
                if !join(&mut state, id, instrument, &key) {
                    slow.push(id);
                }
            }
            self.end(&mut state, slow, Ended::TooSlow);
            return;
        }
        let forming = state.forming.contains(symbol);
        let State { feeds, subscribers, .. } = &mut *state;
        let feed = feeds.get_mut(symbol).expect("checked above");
        let hinted = previous.is_some_and(|p| Arc::ptr_eq(p, &feed.seen));
        let first = match first_changed.filter(|_| hinted) {
            Some(first) => first,
            None => common_prefix(&feed.seen.bars, &instrument.bars),
        };
        let unchanged = first >= instrument.bars.len() && instrument.bars.len() == feed.seen.bars.len();
        let rewritten = first + 1 < feed.seen.bars.len() || instrument.bars.is_empty();
        feed.seen = Arc::clone(instrument);
        if unchanged {
            return;
        }
        let bars = &instrument.bars;
        let mut slow = Vec::new();
        for keyed in &mut feed.tracks {
            if rewritten || keyed.track.is_stale(bars) {
                if keyed.track.rebuild(bars).is_ok() {
                    send_all(subscribers, symbol, keyed, true, forming, &mut slow);
                }
                continue;
            }
            for i in first..bars.len() {
                let forming = forming && i + 1 == bars.len();
                if let Ok(advanced) = keyed.track.advance(bars, i, forming) {
                    let snapshot = advanced == Advanced::Rebuilt;
                    send_all(subscribers, symbol, keyed, snapshot, forming, &mut slow);
                }
            }
        }
        self.end(&mut state, slow, Ended::TooSlow);
    }

    /// Ends every subscription (the drain) and refuses new ones.
    pub fn close(&self, why: Ended) {
        let mut state = self.lock();
        state.closed = true;
        let all: Vec<u64> = state.subscribers.keys().copied().collect();
        self.end(&mut state, all, why);
    }

    /// Ends the subscriptions `ids`, saying `why`.
    fn end(&self, state: &mut State, mut ids: Vec<u64>, why: Ended) {
        ids.sort_unstable();
        ids.dedup();
        if ids.is_empty() {
            return;
        }
        for id in &ids {
            if let Some(mut subscriber) = state.subscribers.remove(id) {
                *subscriber.ending.lock().unwrap_or_else(|e| e.into_inner()) = Some(why);
                subscriber.tx.close_channel();
                if why == Ended::TooSlow {
                    self.metrics.subscriber_too_slow();
                }
            }
        }
        forget(state, &ids);
        self.metrics.set_subscriptions(state.subscribers.len());
    }
}

/// What a subscriber asked for each of its symbols.
#[derive(Clone)]
struct Key {
    adjust: Adjust,
    frequency: Frequency,
    indicators: Vec<Labelled>,
}

/// Makes `id` a member of `instrument`'s feed for `key`, and queues its snapshot; false when its
/// queue is full (or closed). A symbol whose bars cannot be adjusted as asked is left out.
fn join(state: &mut State, id: u64, instrument: &Arc<Instrument>, key: &Key) -> bool {
    let forming = state.forming.contains(&instrument.symbol);
    let State { feeds, subscribers, .. } = state;
    let feed = feeds
        .entry(instrument.symbol.clone())
        .or_insert_with(|| Feed { seen: Arc::clone(instrument), tracks: Vec::new() });
    let bars = &feed.seen.bars;
    let at = feed.tracks.iter().position(|k| k.track.adjust() == key.adjust && k.track.frequency() == key.frequency);
    let at = match at {
        Some(at) => at,
        None => match Track::new(bars, key.adjust, key.frequency) {
            Ok(track) => {
                feed.tracks.push(Keyed { track, members: Vec::new(), layouts: Vec::new() });
                feed.tracks.len() - 1
            }
            Err(e) => {
                log::debug!("subscription {id}: {} left out: {e}", instrument.symbol);
                return true;
            }
        },
    };
    let keyed = &mut feed.tracks[at];
    let asked: Vec<&Indicator> = key.indicators.iter().map(|l| &l.indicator).collect();
    let Ok(slots) = keyed.track.add_all(&asked, bars) else { return true };
    let columns: Layout = key
        .indicators
        .iter()
        .zip(slots)
        .map(|(Labelled { label, indicator }, slot)| (slot, indicator.column_names(label)))
        .collect();
    let layout = match keyed.layouts.iter().position(|l| *l == columns) {
        Some(layout) => layout,
        None => {
            keyed.layouts.push(columns);
            keyed.layouts.len() - 1
        }
    };
    keyed.members.push(Member { id, layout });
    let provisional = provisional(&keyed.track, forming);
    let columns = &keyed.layouts[layout];
    let Some(update) = update(&feed.seen.symbol, &keyed.track, columns, true, provisional) else { return true };
    subscribers.get_mut(&id).is_some_and(|s| s.tx.try_send(update).is_ok())
}

/// Whether the last bar of `track` may still change: a forming daily bar, or a week or month not
/// known to have ended (a bar of the next period ends it).
fn provisional(track: &Track, forming: bool) -> bool {
    forming || track.frequency() != Frequency::Daily
}

/// Queues the update of `keyed`'s last bar for each of its members, encoded once per layout;
/// those whose queue is full go into `slow`.
fn send_all(
    subscribers: &mut HashMap<u64, Subscriber>,
    symbol: &str,
    keyed: &Keyed,
    snapshot: bool,
    forming: bool,
    slow: &mut Vec<u64>,
) {
    let provisional = provisional(&keyed.track, forming);
    let mut encoded: Vec<Option<Option<Encoded>>> = vec![None; keyed.layouts.len()];
    for member in &keyed.members {
        let Some(subscriber) = subscribers.get_mut(&member.id) else { continue };
        let columns = &keyed.layouts[member.layout];
        let update =
            encoded[member.layout].get_or_insert_with(|| update(symbol, &keyed.track, columns, snapshot, provisional));
        let Some(update) = update.clone() else { continue };
        if subscriber.tx.try_send(update).is_err() {
            slow.push(member.id);
        }
    }
}

/// The update of `track`'s last bar with the columns of `layout`, encoded.
fn update(symbol: &str, track: &Track, layout: &Layout, snapshot: bool, provisional: bool) -> Option<Encoded> {
    let (date, quote) = track.last()?;
    let mut values = HashMap::with_capacity(layout.iter().map(|(_, names)| names.len()).sum());
    for (slot, names) in layout {
        for (name, &value) in names.iter().zip(track.values(*slot)) {
            values.insert(name.clone(), value);
        }
    }
    let update = pb::Update {
        symbol: symbol.to_string(),
        date: date.to_string(),
        bar: Some(bar(date, &quote, track.factor())).into(),
        values,
        provisional,
        snapshot,
        ..Default::default()
    };
    match update.write_to_bytes() {
        Ok(bytes) => Some(Encoded(Bytes::from(bytes))),
        Err(e) => {
            log::error!("an update of {symbol} could not be encoded ({e}); not sent");
            None
        }
    }
}

fn bar(date: Date, quote: &Quote, adj_factor: f64) -> pb::Bar {
    pb::Bar {
        date: date.to_string(),
        open: quote.open,
        high: quote.high,
        low: quote.low,
        close: quote.close,
        volume: quote.volume,
        adj_factor,
        ..Default::default()
    }
}

/// Drops the memberships of `ids`, the layouts no member uses any more (so that subscribers
/// coming and going with columns of their own leave nothing behind), and the tracks and feeds no
/// one is a member of.
fn forget(state: &mut State, ids: &[u64]) {
    state.feeds.retain(|_, feed| {
        feed.tracks.retain_mut(|keyed| {
            keyed.members.retain(|m| !ids.contains(&m.id));
            let mut used = vec![false; keyed.layouts.len()];
            keyed.members.iter().for_each(|m| used[m.layout] = true);
            if used.contains(&false) {
                // The layouts in use, in order; each old index's new one.
                let mut renumbered = vec![0; used.len()];
                let mut kept = Vec::new();
                for (i, layout) in std::mem::take(&mut keyed.layouts).into_iter().enumerate() {
                    if used[i] {
                        renumbered[i] = kept.len();
                        kept.push(layout);
                    }
                }
                keyed.layouts = kept;
                keyed.members.iter_mut().for_each(|m| m.layout = renumbered[m.layout]);
            }
            !keyed.members.is_empty()
        });
        !feed.tracks.is_empty()
    });
}

/// How many bars from the start `a` and `b` have equal.
fn common_prefix(a: &BarColumns, b: &BarColumns) -> usize {
    let n = a.len().min(b.len());
    (0..n)
        .position(|i| {
            a.date[i] != b.date[i]
                || a.open[i] != b.open[i]
                || a.high[i] != b.high[i]
                || a.low[i] != b.low[i]
                || a.close[i] != b.close[i]
                || a.volume[i] != b.volume[i]
                || a.adj_factor.at(i) != b.adj_factor.at(i)
        })
        .unwrap_or(n)
}

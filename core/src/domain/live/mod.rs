//! Live bars: a history that grows one bar at a time, and the indicator values that follow it
//! without computing the history again.
//!
//! * [`apply`]: a checked push ([`crate::query::PushQuery`]) applied to an instrument's bars.
//! * [`Track`]: the bars of one instrument as one subscription key sees them (adjusted, resampled)
//!   and the state of every indicator asked over them, shared by every subscriber of that key.
//!
//! A track holds each indicator's [`Stream`] *committed* up to the bar before the last, and the
//! values of the last bar computed on a copy. A new bar commits the last one and steps a copy
//! for the new one; a revision of the last bar (a forming bar, or a week still under way) steps
//! a new copy from the same committed state (copied into the slot's scratch state, so a
//! revision allocates nothing for most indicators). A daily bar that can no longer change (a
//! final bar, pushed without `forming`) is stepped into the committed state itself, with no copy:
//! the common case of a live feed costs one step per indicator, what a batch bar costs; the
//! rare correction of a final bar steps the history again.
//! So a push costs one step per indicator, whatever the length of the history, and the values
//! are those that `Compute` gives over the same history: the batch is the same streams stepped
//! over every bar ([`crate::domain::series`] adjusts and resamples as [`derive`] does here,
//! operation for operation).
//!
//! Only FORWARD adjustment looks back: a new latest factor rescales every earlier price, so the
//! track is rebuilt from the history and its subscribers are sent a fresh snapshot.

mod apply;
mod derive;

pub use apply::{apply, Applied};

use crate::domain::date::Date;
use crate::domain::indicators::{Indicator, Quote, Stream};
use crate::domain::series::{Adjust, BarColumns, Frequency, SeriesError};

/// One indicator's state in a track.
struct Slot {
    indicator: Indicator,
    /// Stepped over every derived bar but the last (over the last too once it is sealed).
    committed: Box<dyn Stream>,
    /// The copy the last bar is stepped on, kept between revisions for its allocations.
    scratch: Option<Box<dyn Stream>>,
    /// The values at the last derived bar.
    values: Vec<f64>,
}

impl Slot {
    fn new(indicator: Indicator) -> Slot {
        let values = vec![f64::NAN; indicator.outputs()];
        Slot { committed: indicator.stream(), scratch: None, indicator, values }
    }

    /// The values of `quote` as the bar after the committed ones.
    fn peek(&mut self, quote: &Quote) {
        let copy = match &mut self.scratch {
            Some(scratch) => {
                self.committed.clone_into(scratch);
                scratch
            }
            None => self.scratch.insert(self.committed.boxed_clone()),
        };
        copy.step(quote, &mut self.values);
    }
}

/// The derived bar under way: the last one, which a revision or a bar of the same period changes.
#[derive(Debug, Clone, Copy)]
struct Current {
    period: (i64, i64),
    /// The first raw bar of its period.
    start: usize,
    date: Date,
    quote: Quote,
    /// The factor of its last raw bar (0 without factors).
    factor: f64,
}

/// What [`Track::advance`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Advanced {
    /// The last derived bar was revised (a revision, or a bar of the same week or month).
    Revised,
    /// A derived bar was appended.
    Appended,
    /// The earlier bars changed (a new FORWARD factor): the track was rebuilt.
    Rebuilt,
}

/// The bars of one instrument as one (adjust, frequency) sees them, with indicator states.
pub struct Track {
    adjust: Adjust,
    frequency: Frequency,
    slots: Vec<Slot>,
    current: Option<Current>,
    /// Raw bars taken in.
    raw_len: usize,
    /// FORWARD: the factor every price was divided by.
    latest: Option<f64>,
    /// The committed states include the last bar (a final daily bar): there is no state from
    /// before it to revise it from, so a revision of it rebuilds the track.
    sealed: bool,
}

impl Track {
    /// A track over `bars`, with no indicators yet.
    pub fn new(bars: &BarColumns, adjust: Adjust, frequency: Frequency) -> Result<Track, SeriesError> {
        let mut track =
            Track { adjust, frequency, slots: Vec::new(), current: None, raw_len: 0, latest: None, sealed: false };
        track.rebuild(bars)?;
        Ok(track)
    }

    pub fn adjust(&self) -> Adjust {
        self.adjust
    }

    pub fn frequency(&self) -> Frequency {
        self.frequency
    }

    /// The slot of `indicator` (an equal one is shared), its state brought up to date over `bars`.
    pub fn add(&mut self, indicator: &Indicator, bars: &BarColumns) -> Result<usize, SeriesError> {
        Ok(self.add_all(&[indicator], bars)?[0])
    }

    /// [`Track::add`] for each of `indicators`, deriving the bars once for those that are new.
    pub fn add_all(&mut self, indicators: &[&Indicator], bars: &BarColumns) -> Result<Vec<usize>, SeriesError> {
        let mut derived = None;
        let mut slots = Vec::with_capacity(indicators.len());
        for &indicator in indicators {
            if let Some(i) = self.slots.iter().position(|s| s.indicator.same_as(indicator)) {
                slots.push(i);
                continue;
            }
            let derived = match &mut derived {
                Some(derived) => derived,
                None => derived.insert(bars.adjusted(self.adjust)?.resampled(self.frequency)),
            };
            let mut slot = Slot::new(indicator.clone());
            catch_up(&mut slot, derived);
            self.slots.push(slot);
            slots.push(self.slots.len() - 1);
        }
        Ok(slots)
    }

    /// Recomputes every state from `bars`.
    pub fn rebuild(&mut self, bars: &BarColumns) -> Result<(), SeriesError> {
        let derived = bars.adjusted(self.adjust)?.resampled(self.frequency);
        for slot in &mut self.slots {
            *slot = Slot::new(slot.indicator.clone());
            catch_up(slot, &derived);
        }
        self.raw_len = bars.len();
        self.latest = bars.adj_factor.last();
        self.sealed = false;
        self.current = match derived.len() {
            0 => None,
            n => {
                let last = n - 1;
                let period = derive::period(self.frequency, derived.date[last]);
                let start = (0..bars.len())
                    .rev()
                    .take_while(|&i| derive::period(self.frequency, bars.date[i]) == period)
                    .last();
                Some(Current {
                    period,
                    start: start.unwrap_or(bars.len() - 1),
                    date: derived.date[last],
                    quote: derived.prices_with(&derived.factor_values()).quote(last),
                    factor: bars.adj_factor.last().unwrap_or(0.0),
                })
            }
        };
        Ok(())
    }

    /// Whether `bars` changed what the track has taken in, not only after it: a FORWARD track
    /// whose latest factor is no longer the latest. Then it must be [`Track::rebuild`]t.
    pub fn is_stale(&self, bars: &BarColumns) -> bool {
        self.adjust == Adjust::Forward && bars.adj_factor.last() != self.latest
    }

    /// Takes in raw bar `i` of `bars`: the bar after the last one taken in, or a revision of the
    /// last one (same date). Anything else (or a stale track) rebuilds the track. `revisable`:
    /// bar `i` may still be revised (a forming bar); a daily bar that is not is sealed into the
    /// committed states.
    pub fn advance(&mut self, bars: &BarColumns, i: usize, revisable: bool) -> Result<Advanced, SeriesError> {
        let in_step = i + 1 == self.raw_len || i == self.raw_len;
        let date = bars.date.get(i).copied();
        let period = date.map(|date| derive::period(self.frequency, date));
        if self.is_stale(bars) || !in_step || i >= bars.len() {
            self.rebuild(bars)?;
            return Ok(Advanced::Rebuilt);
        }
        if self.sealed && self.current.is_some_and(|c| Some(c.period) == period) {
            // A correction of a final bar: no state from before it was kept (a final bar is
            // rarely revised, and keeping one would cost every bar a copy), so the states are
            // stepped again from the start. Only the last bar's values change: a revision.
            if i + 1 == bars.len() {
                self.rebuild(bars)?;
            } else {
                let mut head = bars.clone();
                head.truncate(i + 1);
                self.rebuild(&head)?;
            }
            return Ok(Advanced::Revised);
        }
        let (date, period) = (bars.date[i], period.expect("i is a bar"));
        let (start, advanced) = match self.current {
            Some(current) if current.period == period => (current.start, Advanced::Revised),
            Some(current) => {
                if !self.sealed {
                    for slot in &mut self.slots {
                        slot.committed.step(&current.quote, &mut slot.values);
                    }
                }
                (i, Advanced::Appended)
            }
            None => (i, Advanced::Appended),
        };
        let quote = derive::bar(bars, start..=i, self.adjust, self.latest);
        self.current = Some(Current { period, start, date, quote, factor: bars.adj_factor.at(i).unwrap_or(0.0) });
        self.sealed = self.frequency == Frequency::Daily && !revisable;
        for slot in &mut self.slots {
            if self.sealed {
                slot.committed.step(&quote, &mut slot.values);
            } else {
                slot.peek(&quote);
            }
        }
        self.raw_len = i + 1;
        Ok(advanced)
    }

    /// The last derived bar: its date and prices.
    pub fn last(&self) -> Option<(Date, Quote)> {
        self.current.map(|c| (c.date, c.quote))
    }

    /// The adj_factor of the last raw bar taken in (0 without factors).
    pub fn factor(&self) -> f64 {
        self.current.map_or(0.0, |c| c.factor)
    }

    /// The values at the last derived bar of slot `slot`, one per output.
    pub fn values(&self, slot: usize) -> &[f64] {
        &self.slots[slot].values
    }

    /// How many indicator states the track holds.
    pub fn slots(&self) -> usize {
        self.slots.len()
    }
}

/// Steps a fresh slot over every derived bar but the last, and peeks at the last.
fn catch_up(slot: &mut Slot, derived: &BarColumns) {
    let factors = derived.factor_values();
    let prices = derived.prices_with(&factors);
    let Some(last) = prices.len().checked_sub(1) else { return };
    let mut scratch = vec![f64::NAN; slot.values.len()];
    for i in 0..last {
        slot.committed.step(&prices.quote(i), &mut scratch);
    }
    slot.peek(&prices.quote(last));
}

//! The live bars' counters: open subscriptions, subscribers ended as too slow, pushes and the
//! bars they carried, and updates queued to subscribers.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// Registered with the server's other counters.
#[derive(Default)]
pub(super) struct LiveMetrics {
    subscriptions: Gauge,
    too_slow: Counter,
    pushes: Counter,
    pushed_bars: Counter,
}

impl LiveMetrics {
    pub(super) fn register(registry: &mut Registry) -> LiveMetrics {
        let live = LiveMetrics::default();
        registry.register("idc_subscriptions", "Subscribe streams open", live.subscriptions.clone());
        registry.register(
            "idc_subscribers_too_slow",
            "Subscribers ended with RESOURCE_EXHAUSTED because their queue was full",
            live.too_slow.clone(),
        );
        registry.register("idc_pushes", "PushBars requests made durable and applied", live.pushes.clone());
        registry.register("idc_pushed_bars", "Bars appended or revised by PushBars", live.pushed_bars.clone());
        live
    }
}

impl super::Metrics {
    pub fn set_subscriptions(&self, count: usize) {
        self.live.subscriptions.set(i64::try_from(count).unwrap_or(i64::MAX));
    }

    pub fn subscriptions(&self) -> i64 {
        self.live.subscriptions.get()
    }

    pub fn subscriber_too_slow(&self) {
        self.live.too_slow.inc();
    }

    pub fn subscribers_too_slow(&self) -> u64 {
        self.live.too_slow.get()
    }

    /// One push of `bars` bars applied.
    pub fn pushed(&self, bars: usize) {
        self.live.pushes.inc();
        self.live.pushed_bars.inc_by(bars as u64);
    }

    pub fn pushes(&self) -> u64 {
        self.live.pushes.get()
    }
}

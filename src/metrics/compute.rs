//! `Compute`'s and `Chart`'s counter of computations given up: a formula stops at its next
//! operation once its call has ended, and this says how often that saved the rest.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::registry::Registry;

#[derive(Default)]
pub(super) struct ComputeMetrics {
    stopped: Counter,
}

impl ComputeMetrics {
    pub(super) fn register(registry: &mut Registry) -> ComputeMetrics {
        let metrics = ComputeMetrics::default();
        registry.register(
            "idc_computations_stopped",
            "Series computations (Compute, Chart) given up part way because their call had ended",
            metrics.stopped.clone(),
        );
        metrics
    }
}

impl super::Metrics {
    pub fn computation_stopped(&self) {
        self.compute.stopped.inc();
    }

    pub fn computations_stopped(&self) -> u64 {
        self.compute.stopped.get()
    }
}

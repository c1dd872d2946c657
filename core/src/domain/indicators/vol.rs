//! VOL: the volume itself, in both conventions (the volume panel of a chart, or a column beside
//! the indicators).

use super::stream::Step;
use super::{batch, boxed, no_check, Convention, Def, Quote, Visit};

pub(super) const DEF: Def = Def {
    name: "VOL",
    params: &[],
    cn_defaults: &[],
    talib_defaults: &[],
    outputs: &[""],
    check: no_check,
    stream: boxed!(build),
    batch: batch!(build, 1),
};

fn build<V: Visit>(_: &[f64], _: Convention, v: V) -> V::Out {
    v.visit(Volume)
}

/// Nothing to keep: each bar's value is its volume.
#[derive(Clone)]
struct Volume;

impl Step for Volume {
    fn step(&mut self, quote: &Quote, out: &mut [f64]) {
        out[0] = quote.volume;
    }
}

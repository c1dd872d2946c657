//! VOL: the volume itself, in both conventions (the volume panel of a chart, or a column beside
//! the indicators).

use super::stream::Step;
use super::{no_check, Convention, Def, Quote, Stream};

pub(super) const DEF: Def =
    Def { name: "VOL", params: &[], cn_defaults: &[], talib_defaults: &[], outputs: &[""], check: no_check, stream };

fn stream(_: &[f64], _: Convention) -> Box<dyn Stream> {
    Box::new(Volume)
}

/// Nothing to keep: each bar's value is its volume.
#[derive(Clone)]
struct Volume;

impl Step for Volume {
    fn step(&mut self, quote: &Quote, out: &mut [f64]) {
        out[0] = quote.volume;
    }
}

//! VOL: the volume itself, in both conventions (the volume panel of a chart, or a column beside
//! the indicators).

use super::{no_check, Convention, Def, Prices};

pub(super) const DEF: Def =
    Def { name: "VOL", params: &[], cn_defaults: &[], talib_defaults: &[], outputs: &[""], check: no_check, compute };

fn compute(p: &Prices, _: &[f64], _: Convention) -> Vec<Vec<f64>> {
    vec![p.volume.to_vec()]
}

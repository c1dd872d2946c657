//! OBV: on-balance volume, the running total of the volume signed by the close's move.
//!
//! * cn (MyTT `OBV`): SUM(IF(C > REF(C,1), V, IF(C < REF(C,1), −V, 0)), 0) / 10000, so bar 0
//!   counts 0 and the total is in units of 10,000 (as 通达信 shows it).
//! * talib (`OBV(close, volume)`): starts at bar 0's volume, in shares.

use super::{no_check, Convention, Def, Prices};

pub(super) const DEF: Def =
    Def { name: "OBV", params: &[], cn_defaults: &[], talib_defaults: &[], outputs: &[""], check: no_check, compute };

fn compute(p: &Prices, _: &[f64], convention: Convention) -> Vec<Vec<f64>> {
    let mut out = Vec::with_capacity(p.close.len());
    let mut total = match (convention, p.volume.first()) {
        (Convention::Talib, Some(&first)) => first,
        _ => 0.0,
    };
    for i in 0..p.close.len() {
        if i > 0 {
            if p.close[i] > p.close[i - 1] {
                total += p.volume[i];
            } else if p.close[i] < p.close[i - 1] {
                total -= p.volume[i];
            }
        }
        out.push(match convention {
            Convention::Cn => total / 10000.0,
            Convention::Talib => total,
        });
    }
    vec![out]
}

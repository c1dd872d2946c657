//! A checked push applied to a history: the bars appended, or the last one revised and the rest
//! appended, with their factors.

use crate::domain::series::BarColumns;
use crate::query::PushQuery;

/// What a push did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Applied {
    pub appended: usize,
    pub revised: usize,
    /// The index of the first bar that is new or changed.
    pub first_changed: usize,
}

/// Applies `push` (checked against `bars`) to `bars`. An instrument without factors that is pushed
/// one gains them: its earlier bars get the factor 1.
pub fn apply(bars: &mut BarColumns, push: &PushQuery) -> Applied {
    let revised = usize::from(push.revises);
    let first_changed = bars.len() - revised;
    bars.truncate(first_changed);
    let had_factors = !bars.adj_factor.is_empty();
    for pushed in &push.bars {
        let i = bars.len();
        let bar = pushed.bar;
        bars.date.push(bar.date);
        bars.open.push(bar.open);
        bars.high.push(bar.high);
        bars.low.push(bar.low);
        bars.close.push(bar.close);
        bars.volume.push(bar.volume);
        if let Some(factor) = pushed.adj_factor {
            if bars.adj_factor.is_empty() && i > 0 && !had_factors {
                bars.adj_factor.push(0, 1.0);
            }
            bars.adj_factor.push(i, factor);
        }
    }
    Applied { appended: push.bars.len() - revised, revised, first_changed }
}

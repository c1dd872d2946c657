//! Formulas against the built-ins they rewrite: what a 通达信 formula costs beside the built-in
//! indicator that computes the same values, batch and live (issue 24, "Formulas"; the target is
//! the MACD formula within 1.5× the built-in MACD, batch and live). Prints one Markdown table and
//! a line on that target; nothing is asserted about speed. `cargo bench --bench formula` runs the
//! full form; `cargo bench --bench formula -- --smoke` runs every path with tiny
//! counts in seconds (`bench/run` runs both forms as its `formula` section).
//!
//! The formulas are those of `tests/formulas/corpus.json` (MACD, KDJ, BOLL, and the conditions
//! `CROSS(MA(C,5),MA(C,20))` and `BARSLAST(C>REF(C,1))`, which have no built-in), all in the cn
//! convention. Over a 2,500-bar and a 1,000,000-bar random walk:
//!
//! * Batch: `Indicator::compute` over the whole walk, divided by its bars; the built-in and the
//!   formula timed alternately, run after run, medians of the runs, `black_box`ed.
//! * Live: a `Track` (no adjustment, daily) over the walk holding that one indicator, `advance`
//!   timed over a run of appended bars, then over as many revisions of the last bar (its close
//!   moved within its range), as bench/live.rs does; a fresh track a round, the built-in's and the
//!   formula's alternately, medians of the rounds.
//!
//! The formula's values equal the built-in's (matched by output name) to 1e-9 relative at every
//! bar of the walk, checked before the batch timing, and at the last bar after the first live
//! round's appends and after its revisions, so that the two do the same work.

use std::hint::black_box;
use std::time::{Duration, Instant};

use idc_core::domain::indicators::{Convention, Indicator};
use idc_core::domain::live::{Advanced, Track};
use idc_core::domain::series::{Adjust, BarColumns, Frequency};

#[path = "bars.rs"]
mod bars;
use bars::{head, median, ns, walk};

/// The corpus the formula tests check against MyTT.
const CORPUS: &str = include_str!("../tests/formulas/corpus.json");

/// The MACD formula of the formula issue, word for word.
const MACD_FORMULA: &str = "DIF:EMA(CLOSE,12)-EMA(CLOSE,26); DEA:EMA(DIF,9); MACD:(DIF-DEA)*2;";

/// The target of issue 24: the MACD formula within this many times the built-in MACD.
const TARGET: f64 = 1.5;

/// (corpus name, the built-in computing the same values and its parameters, if there is one).
const CASES: &[(&str, Option<(&str, &[f64])>)] = &[
    ("MACD", Some(("MACD", &[12.0, 26.0, 9.0]))),
    ("KDJ", Some(("KDJ", &[9.0, 3.0, 3.0]))),
    ("BOLL", Some(("BOLL", &[20.0, 2.0]))),
    ("CROSS_GOLDEN", None),
    ("BARSLAST_UP", None),
];

/// What one run measures.
struct Settings {
    smoke: bool,
    /// The walks' lengths, each with its batch runs.
    sizes: &'static [(usize, usize)],
    /// Live rounds, and bars appended (and revisions) per round.
    rounds: usize,
    steps: usize,
}

impl Settings {
    fn new(smoke: bool) -> Settings {
        if smoke {
            Settings { smoke, sizes: &[(2_500, 3), (20_000, 3)], rounds: 3, steps: 20 }
        } else {
            Settings { smoke, sizes: &[(2_500, 201), (1_000_000, 11)], rounds: 21, steps: 1000 }
        }
    }
}

/// One formula and what it is timed against.
struct Case {
    name: String,
    text: String,
    formula: Indicator,
    /// The built-in, and for each formula output the built-in's output of its name.
    builtin: Option<(Indicator, Vec<usize>)>,
}

/// Medians in ns: per bar for the batch, per update for the live runs.
#[derive(Default, Clone, Copy)]
struct Costs {
    batch: f64,
    append: f64,
    revise: f64,
}

/// idc_server's allocator and malloc thresholds (idc_core::memory), so that what is computed
/// here in-process is computed as the server computes it.
#[global_allocator]
static ALLOCATOR: idc_core::memory::Allocator = idc_core::memory::Allocator;

fn main() {
    let _ = idc_core::memory::fix_malloc_thresholds();
    // `cargo bench` passes `--bench`; only `--smoke` means anything here.
    let smoke = std::env::args().any(|a| a == "--smoke");
    let s = Settings::new(smoke);
    let cases = cases();
    let sizes: Vec<String> = s.sizes.iter().map(|&(n, _)| thousands(n)).collect();
    println!("formula bench ({}): {} bars", if s.smoke { "smoke" } else { "full" }, sizes.join(" and "));
    println!();
    println!(
        "### Formulas against the built-ins (cn convention; random walks of {} bars; batch: median of {} runs; \
         live: median of {} rounds of {} appends, then {} revisions of the last bar)",
        sizes.join(" and "),
        s.sizes.iter().map(|&(_, runs)| runs.to_string()).collect::<Vec<_>>().join(" and "),
        s.rounds,
        s.steps,
        s.steps
    );
    println!();
    println!(
        "| formula | built-in | bars | batch ns/bar built-in | formula | formula/built-in | append ns/update built-in \
         | formula | formula/built-in | revise ns/update built-in | formula | formula/built-in |"
    );
    println!("| --- | --- | --: | --: | --: | --: | --: | --: | --: | --: | --: | --: |");
    let mut macd = Vec::new();
    for &(n, runs) in s.sizes {
        let mut bars = walk(n + s.steps, 7);
        let history = head(&bars, n);
        for case in &cases {
            check_batch(case, &history);
            let (f, b) = match &case.builtin {
                Some((builtin, map)) => {
                    let (b, f) = measure(&s, runs, &mut bars, &history, builtin, Some((&case.formula, map)));
                    (f.expect("timed"), Some(b))
                }
                None => (measure(&s, runs, &mut bars, &history, &case.formula, None).0, None),
            };
            let cell = |x: Option<f64>| x.map_or("—".to_string(), |x| format!("{x:.1}"));
            let ratio = |a: f64, b: Option<f64>| b.map_or("—".to_string(), |b| format!("{:.2}", a / b));
            let label = case.builtin.as_ref().map_or("—".to_string(), |(b, _)| format!("`{}`", b.label()));
            println!(
                "| {} | {label} | {} | {} | {:.1} | {} | {} | {:.1} | {} | {} | {:.1} | {} |",
                case.name,
                thousands(n),
                cell(b.map(|b| b.batch)),
                f.batch,
                ratio(f.batch, b.map(|b| b.batch)),
                cell(b.map(|b| b.append)),
                f.append,
                ratio(f.append, b.map(|b| b.append)),
                cell(b.map(|b| b.revise)),
                f.revise,
                ratio(f.revise, b.map(|b| b.revise)),
            );
            if case.name == "MACD" {
                let b = b.expect("MACD has its built-in");
                macd.push((n, f.batch / b.batch, f.append / b.append, f.revise / b.revise));
            }
        }
    }
    println!();
    println!(
        "Every formula's values equal its built-in's (matched by output name) to 1e-9 relative: at every bar of \
         each walk, checked before the batch timing, and at the last bar after the first live round's appends \
         and after its revisions."
    );
    println!();
    let worst = macd.iter().map(|&(_, b, a, r)| b.max(a).max(r)).fold(0.0, f64::max);
    let detail: Vec<String> = macd
        .iter()
        .map(|&(n, b, a, r)| format!("{} bars: batch {b:.2}×, append {a:.2}×, revise {r:.2}×", thousands(n)))
        .collect();
    println!(
        "Target (issue 24): the MACD formula within {TARGET}× the built-in MACD, batch and live: {} ({}).",
        if worst <= TARGET { "met" } else { "missed" },
        detail.join("; ")
    );
    for case in &cases {
        println!("- {}: `{}`", case.name, case.text.replace('\n', " "));
    }
}

/// The cases, their formulas read from the corpus and compiled, each output matched to the
/// built-in's output of its name.
fn cases() -> Vec<Case> {
    let corpus: serde_json::Value = serde_json::from_str(CORPUS).expect("the corpus is JSON");
    let entries = corpus.as_array().expect("the corpus is a list");
    CASES
        .iter()
        .map(|&(name, builtin)| {
            let entry = entries.iter().find(|e| e["name"] == name).unwrap_or_else(|| panic!("{name} in the corpus"));
            let text = entry["formula"].as_str().expect("a formula").to_string();
            if name == "MACD" {
                assert_eq!(text, MACD_FORMULA, "the corpus's MACD is the issue's");
            }
            let formula = Indicator::formula(&text, Convention::Cn).unwrap_or_else(|e| panic!("{name}: {e}"));
            let builtin = builtin.map(|(def, params)| {
                let builtin = Indicator::new(def, params, Convention::Cn).expect("a valid built-in");
                let names = builtin.output_names();
                let map = formula
                    .output_names()
                    .iter()
                    .map(|out| {
                        names
                            .iter()
                            .position(|b| b.eq_ignore_ascii_case(out))
                            .unwrap_or_else(|| panic!("{name}: {def} has no output {out}"))
                    })
                    .collect();
                (builtin, map)
            });
            Case { name: name.to_string(), text, formula, builtin }
        })
        .collect()
}

/// Times `first` and, when given, `second` (with its outputs' map to `first`'s), alternately:
/// batch over `history`, then live over the bars after it. Checks the live values equal.
fn measure(
    s: &Settings,
    runs: usize,
    bars: &mut BarColumns,
    history: &BarColumns,
    first: &Indicator,
    second: Option<(&Indicator, &Vec<usize>)>,
) -> (Costs, Option<Costs>) {
    let n = history.len();
    let prices = history.prices();
    let time_batch = |indicator: &Indicator| {
        let start = Instant::now();
        black_box(indicator.compute(black_box(&prices)));
        start.elapsed()
    };
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        a.push(time_batch(first));
        if let Some((second, _)) = second {
            b.push(time_batch(second));
        }
    }
    let (batch_a, batch_b) = (ns(median(a)) / n as f64, second.map(|_| ns(median(b.clone())) / n as f64));

    let last = bars.len() - 1;
    let (low, high) = (bars.low[last], bars.high[last]);
    let mut live = [(Vec::new(), Vec::new()), (Vec::new(), Vec::new())];
    for round in 0..s.rounds {
        let mut tracks: Vec<(Track, usize)> = std::iter::once(first)
            .chain(second.map(|(i, _)| i))
            .map(|indicator| {
                let mut track = Track::new(history, Adjust::None, Frequency::Daily).expect("a track");
                let slot = track.add(indicator, history).expect("a slot");
                (track, slot)
            })
            .collect();
        // Appends, each indicator's run in turn.
        for (k, (track, slot)) in tracks.iter_mut().enumerate() {
            let start = Instant::now();
            for i in n..bars.len() {
                // Final bars, as a feed pushes them; the last one forming, to be revised below.
                let advanced = track.advance(black_box(bars), i, i == last).expect("an append");
                black_box(track.values(*slot));
                assert_eq!(advanced, Advanced::Appended, "bar {i}: the timed path");
            }
            live[k].0.push(start.elapsed());
        }
        if round == 0 {
            check_live(&tracks, second, "after the appends");
        }
        // Revisions: every track sees the same closes.
        let closes: Vec<f64> = (0..s.steps).map(|k| low + (high - low) * (k % 7) as f64 / 6.0).collect();
        for (k, (track, slot)) in tracks.iter_mut().enumerate() {
            let start = Instant::now();
            for &close in &closes {
                bars.close[last] = close;
                let advanced = track.advance(black_box(bars), last, true).expect("a revision");
                black_box(track.values(*slot));
                assert_eq!(advanced, Advanced::Revised, "the timed path");
            }
            live[k].1.push(start.elapsed());
        }
        if round == 0 {
            check_live(&tracks, second, "after the revisions");
        }
    }
    let costs = |(appends, revisions): &(Vec<Duration>, Vec<Duration>), batch: f64| Costs {
        batch,
        append: ns(median(appends.clone())) / s.steps as f64,
        revise: ns(median(revisions.clone())) / s.steps as f64,
    };
    (costs(&live[0], batch_a), batch_b.map(|batch| costs(&live[1], batch)))
}

/// The formula's batch values equal the built-in's at every bar.
fn check_batch(case: &Case, history: &BarColumns) {
    let Some((builtin, map)) = &case.builtin else {
        return;
    };
    let prices = history.prices();
    let (f, b) = (case.formula.compute(&prices), builtin.compute(&prices));
    for (out, &j) in map.iter().enumerate() {
        for i in 0..history.len() {
            let (x, y) = (f[out][i], b[j][i]);
            assert!(
                near(x, y),
                "{} over {} bars: output {} at bar {i} is {x}, the built-in's {y}",
                case.name,
                history.len(),
                case.formula.output_names()[out]
            );
        }
    }
}

/// The second track's values (the formula's) equal the first's (the built-in's) at the last bar.
fn check_live(tracks: &[(Track, usize)], second: Option<(&Indicator, &Vec<usize>)>, when: &str) {
    let Some((formula, map)) = second else {
        return;
    };
    let (built, f) = (tracks[0].0.values(tracks[0].1), tracks[1].0.values(tracks[1].1));
    for (out, &j) in map.iter().enumerate() {
        assert!(
            near(f[out], built[j]),
            "{formula:?} live {when}: output {out} is {}, the built-in's {}",
            f[out],
            built[j]
        );
    }
}

/// Equal to 1e-9 relative (absolute near zero), NaN only where the other is NaN.
fn near(x: f64, y: f64) -> bool {
    (x.is_nan() && y.is_nan()) || (x - y).abs() <= 1e-9 * x.abs().max(y.abs()).max(1.0)
}

/// 1000000 -> "1,000,000".
fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

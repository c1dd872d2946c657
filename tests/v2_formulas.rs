//! Formulas (`IndicatorSpec.formula`, issue 22) through the server: a table of malformed
//! formulas, each refused by `Compute` with its status and a message giving the formula, the line
//! and column and what is wrong, the server serving on after them (a health check answers within
//! 1 s after each); the MACD formula equal to the
//! built-in MACD, under its default and its own label; `Chart` with a formula overlay and a
//! formula panel; and `Subscribe` with a formula beside a built-in, every update after pushes (a
//! revision and a forming bar among them) equal to what `Compute` gives at that date.

mod common;

use common::live::{self, bar, computed, expect_update, push, spec, subscribe, subscription, Live};
use futures::TryStreamExt;
use grpcio::RpcStatusCode as Code;
use idc::config::Config;
use idc::protocol::indicators as pb;
use idc::protocol::indicators_grpc::IndicatorsClient;

/// MyTT's MACD, written as the 通达信 formula it is.
const MACD: &str = "DIF:EMA(CLOSE,12)-EMA(CLOSE,26); DEA:EMA(DIF,9); MACD:(DIF-DEA)*2;";

fn client(server: &common::InProcess) -> IndicatorsClient {
    IndicatorsClient::new(common::channel(&server.address()))
}

fn compute(client: &IndicatorsClient, request: &pb::ComputeRequest) -> Result<Vec<pb::Series>, grpcio::Error> {
    futures::executor::block_on(client.compute(request)?.try_collect())
}

fn formula(text: &str) -> pb::IndicatorSpec {
    pb::IndicatorSpec { formula: text.to_string(), ..Default::default() }
}

fn labelled(label: &str, text: &str) -> pb::IndicatorSpec {
    pb::IndicatorSpec { label: label.to_string(), ..formula(text) }
}

fn request(indicators: Vec<pb::IndicatorSpec>) -> pb::ComputeRequest {
    pb::ComputeRequest {
        symbols: vec!["SPX".into()],
        start_date: "2018-12-24".into(),
        end_date: "2018-12-31".into(),
        indicators,
        ..Default::default()
    }
}

fn column<'a>(series: &'a pb::Series, name: &str) -> &'a [f64] {
    let names: Vec<&str> = series.columns.iter().map(|c| c.name.as_str()).collect();
    let found = series.columns.iter().find(|c| c.name == name);
    &found.unwrap_or_else(|| panic!("no column {name} among {names:?}")).values
}

/// Every malformed formula, the status it gets and the fragments its message must hold.
fn malformed() -> Vec<(&'static str, Vec<pb::IndicatorSpec>, Code, Vec<String>)> {
    const INVALID: Code = Code::INVALID_ARGUMENT;
    const LIMIT: Code = Code::RESOURCE_EXHAUSTED;
    let one = |text: &str| vec![formula(text)];
    let words = |w: &[&str]| w.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let statements: String = (0..300).map(|i| format!("A{i}:C;")).collect();
    let deep = format!("X:{}C{};", "(".repeat(1000), ")".repeat(1000));
    let long = format!("X:{}1;", "C+".repeat(50_000));
    assert!(long.len() > 100_000);
    vec![
        (
            "an unclosed call",
            one("X:MA(C,5"),
            INVALID,
            words(&[
                "formula 1, 1:9: expected `,` or `)` to close the `(` at 1:5 of `MA`",
                "at the end of the formula",
            ]),
        ),
        (
            "an unclosed parenthesis",
            one("X:(C+1;"),
            INVALID,
            words(&["formula 1, 1:7: expected `)` to close the `(` at 1:3", "near \";\""]),
        ),
        (
            "a `)` too many after a call",
            one("X:MA(C,5));"),
            INVALID,
            words(&["formula 1, 1:10: unexpected `)`: expected an operator, or `;` to end the statement"]),
        ),
        ("a `)` without its `(`", one("X:C+1);"), INVALID, words(&["formula 1, 1:6: unexpected `)`", "near \");\""])),
        (
            "an unknown name",
            one("X:FOO+1;"),
            INVALID,
            words(&["formula 1, 1:3: unknown name FOO", "OPEN HIGH LOW CLOSE VOL", "near \"FOO+1;\""]),
        ),
        (
            "an unknown function, with a suggestion",
            one("X:EMAA(C,12);"),
            INVALID,
            words(&["formula 1, 1:3: unknown function EMAA (did you mean EMA?)"]),
        ),
        (
            "an unknown function on the third line",
            one("X:C;\nY:MA(C,5);\nZ:MAA(C,5)+1;"),
            INVALID,
            words(&["formula 1, 3:3: unknown function MAA (did you mean MA?)"]),
        ),
        (
            "MA with one argument",
            one("X:MA(C);"),
            INVALID,
            words(&["formula 1, 1:3: MA takes 2 arguments, not 1: MA(X, N): the mean of the last N values"]),
        ),
        (
            "IF with two arguments",
            one("X:IF(C,1);"),
            INVALID,
            words(&["formula 1, 1:3: IF takes 3 arguments, not 2: IF(COND, A, B)"]),
        ),
        (
            "a period named by a statement",
            one("N:=5; X:MA(C,N);"),
            INVALID,
            words(&["formula 1, 1:14: MA's argument 2 must be a constant (a whole number from 1 to 10000)"]),
        ),
        (
            "a period that is a series",
            one("X:REF(C,C);"),
            INVALID,
            words(&["formula 1, 1:9: REF's argument 2 must be a constant (a whole number from 0 to 10000)"]),
        ),
        (
            "a period of 0",
            one("X:MA(C,0);"),
            INVALID,
            words(&["formula 1, 1:8: MA's argument 2 is 0: it must be a whole number from 1 to 10000"]),
        ),
        (
            "a period of 10,001",
            one("X:MA(C,10001);"),
            INVALID,
            words(&["formula 1, 1:8: MA's argument 2 is 10001: it must be a whole number from 1 to 10000"]),
        ),
        (
            "a period of 2.5",
            one("X:MA(C,2.5);"),
            INVALID,
            words(&["formula 1, 1:8: MA's argument 2 is 2.5: it must be a whole number"]),
        ),
        (
            "SMA's weight above its period",
            one("X:SMA(C,5,6);"),
            INVALID,
            words(&["formula 1, 1:11: SMA's argument 3 is 6: it must be a whole number from 1 to 5"]),
        ),
        (
            "a built-in's parameter that is a series",
            one("X:RSI(C,6);"),
            INVALID,
            words(&["formula 1, 1:7: RSI's parameter 1 must be a constant"]),
        ),
        // A statement sees only the names before it, so a cycle is a name not yet defined.
        (
            "recursion through names",
            one("A:B; B:A;"),
            INVALID,
            words(&["formula 1, 1:3: B is defined later, at 1:6", "sees only the statements before it"]),
        ),
        ("a statement that reads itself", one("A:A+1;"), INVALID, words(&["formula 1, 1:3: A refers to itself"])),
        (
            "a built-in named, not called",
            one("X:RSI;"),
            INVALID,
            words(&["formula 1, 1:3: RSI is a built-in indicator: call it, RSI()"]),
        ),
        (
            "a function named, not called",
            one("X:MA+1;"),
            INVALID,
            words(&["formula 1, 1:3: MA is a function: MA(X, N)"]),
        ),
        (
            "DMA's smoothing out of range",
            one("X:DMA(C,2);"),
            INVALID,
            words(&["formula 1, 1:9: DMA's argument 2 is 2: it must be a number from 0 to 1"]),
        ),
        (
            "100 KB of text",
            one(&long),
            LIMIT,
            vec![format!(
                "formula 1, 1:1: the formula is {} bytes, over the limit of 16 KiB (16384 bytes)",
                long.len()
            )],
        ),
        (
            "parentheses 1,000 deep",
            one(&deep),
            LIMIT,
            words(&["formula 1, 1:67: nesting deeper than the limit of 64 levels"]),
        ),
        (
            "a chain of 600 operators",
            one(&format!("X:{};", vec!["C"; 600].join("+"))),
            LIMIT,
            words(&["formula 1, 1:1026: an expression deeper than the limit of 512 levels"]),
        ),
        ("300 statements", one(&statements), LIMIT, words(&["formula 1, 1:1683: more than 256 statements, the limit"])),
        (
            "an empty formula (and no name)",
            one(""),
            INVALID,
            words(&["indicator 1: give a built-in's name (MACD, RSI, ...) or a formula"]),
        ),
        (
            "a formula of white space",
            one("   "),
            INVALID,
            words(&["formula 1, 1:4: the formula has no statement: write one as `NAME:expr`"]),
        ),
        (
            "a formula of a comment",
            one("{only a comment}"),
            INVALID,
            words(&["formula 1, 1:17: the formula has no statement"]),
        ),
        (
            "only intermediates",
            one("A:=C; B:=A*2;"),
            INVALID,
            words(&["formula 1, 1:7: the formula has no output line: write at least one `NAME:expr`"]),
        ),
        (
            "a name defined twice",
            one("A:C; A:O;"),
            INVALID,
            words(&["formula 1, 1:6: `A` is already defined at 1:1", "near \"A:O;\""]),
        ),
        (
            "two statements without a name",
            one("C>O; O>C;"),
            INVALID,
            words(&["formula 1, 1:6: a second statement without a name (the first is at 1:1)"]),
        ),
        (
            "a keyword as a name",
            one("AND:C;"),
            INVALID,
            words(&["formula 1, 1:1: `AND` is a keyword and cannot name a statement"]),
        ),
        (
            ".DIF on a function of one value",
            one("X:MA(C,5).DIF;"),
            INVALID,
            words(&["formula 1, 1:3: MA has one value; .DIF selects an output of a built-in indicator"]),
        ),
        (
            "a built-in of several outputs without a choice",
            one("X:MACD(12,26,9);"),
            INVALID,
            words(&["formula 1, 1:3: MACD(12,26,9) has several outputs: choose one, e.g. MACD(12,26,9).DIF"]),
        ),
        (
            "an output the built-in has not",
            one("X:MACD(12,26,9).XYZ;"),
            INVALID,
            words(&["formula 1, 1:3: MACD has no output XYZ: its outputs are DIF, DEA, MACD"]),
        ),
        (
            "a bad character",
            one("X:C # 2;"),
            INVALID,
            words(&["formula 1, 1:5: unknown character `#`", "near \"# 2;\""]),
        ),
        ("a character outside ASCII", one("X:C∑;"), INVALID, words(&["formula 1, 1:4: unknown character `∑`"])),
        (
            "an unclosed comment",
            one("X:C; {no end"),
            INVALID,
            words(&["formula 1, 1:6: unclosed comment: this `{` has no `}`"]),
        ),
        (
            "an operator without its operand",
            one("X:C+;"),
            INVALID,
            words(&["formula 1, 1:5: expected an expression after `+`"]),
        ),
        ("a number too large", one("X:1e400;"), INVALID, words(&["formula 1, 1:3: the number `1e400` is too large"])),
        (
            "both a name and a formula",
            vec![pb::IndicatorSpec { name: "MA".into(), params: vec![5.0], ..formula("X:C;") }],
            INVALID,
            words(&["indicator 1 (formula 1): give either a built-in's name and parameters or a formula, not both"]),
        ),
        (
            "a bad formula after a built-in (the first formula, the second spec)",
            vec![spec("MACD", &[]), formula("X:FOO;")],
            INVALID,
            words(&["formula 1, 1:3: unknown name FOO"]),
        ),
        (
            "a bad formula after a good one",
            vec![formula(MACD), formula("X:MA(C);")],
            INVALID,
            words(&["formula 2, 1:3: MA takes 2 arguments, not 1"]),
        ),
        (
            "a label used twice",
            vec![labelled("M", "X:C;"), labelled("M", "Y:O;")],
            INVALID,
            words(&["indicator 2: the label \"M\" is already used by an earlier indicator"]),
        ),
    ]
}

#[test]
fn every_malformed_formula_is_refused_with_its_place_and_the_server_serves_on() {
    let server = common::InProcess::start(Config::default());
    let client = client(&server);
    let cases = malformed();
    assert!(cases.len() >= 25, "{} cases", cases.len());
    for (what, specs, code, fragments) in cases {
        match compute(&client, &request(specs)) {
            Err(grpcio::Error::RpcFailure(status)) => {
                assert_eq!(status.code(), code, "{what}: {}", status.message());
                for fragment in &fragments {
                    assert!(
                        status.message().contains(fragment.as_str()),
                        "{what}: {:?} should contain {fragment:?}",
                        status.message()
                    );
                }
            }
            other => panic!("{what}: expected {code:?}, got {:?}", other.map(|s| s.len())),
        }
        common::assert_healthy_after(&server.address(), what);
    }
    // The server still computes, formulas included.
    let series = compute(&client, &request(vec![formula(MACD), formula("UP:C>REF(C,1);")])).unwrap();
    assert_eq!(series.len(), 1);
    let names: Vec<&str> = series[0].columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["F1.DIF", "F1.DEA", "F1.MACD", "F2"]);
    assert_eq!(series[0].date.len(), 5);
}

#[test]
fn the_macd_formula_equals_the_built_in_macd_and_a_label_names_its_columns() {
    let server = common::InProcess::start(Config::default());
    let client = client(&server);
    let whole = |indicators| pb::ComputeRequest {
        symbols: vec!["SPX".into(), "AAPL".into()],
        indicators,
        ..Default::default()
    };
    let request = whole(vec![spec("MACD", &[12.0, 26.0, 9.0]), formula(MACD), labelled("M", MACD)]);
    let reply = compute(&client, &request).unwrap();
    assert_eq!(reply.len(), 2);
    for series in &reply {
        let names: Vec<&str> = series.columns.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "MACD(12,26,9).DIF",
                "MACD(12,26,9).DEA",
                "MACD(12,26,9).MACD",
                "F1.DIF",
                "F1.DEA",
                "F1.MACD",
                "M.DIF",
                "M.DEA",
                "M.MACD"
            ],
            "{}",
            series.symbol
        );
        assert!(series.date.len() > 3000, "{}: the whole history", series.symbol);
        for output in ["DIF", "DEA", "MACD"] {
            let built_in = column(series, &format!("MACD(12,26,9).{output}"));
            for label in ["F1", "M"] {
                let ours = column(series, &format!("{label}.{output}"));
                let bad: Vec<usize> = (0..built_in.len()).filter(|&i| !live::same(ours[i], built_in[i])).collect();
                assert!(
                    bad.is_empty(),
                    "{} {label}.{output}: {} bars differ from the built-in, first at {:?}",
                    series.symbol,
                    bad.len(),
                    bad.first().map(|&i| (&series.date[i], ours[i], built_in[i]))
                );
            }
        }
    }
    // One output line gives the column `<label>`.
    let reply = compute(&client, &whole(vec![labelled("fast", "MA5:MA(C,5);"), spec("MA", &[5.0])])).unwrap();
    for series in &reply {
        let (ours, built_in) = (column(series, "fast"), column(series, "MA(5)"));
        assert!((0..ours.len()).all(|i| live::same(ours[i], built_in[i])), "{}", series.symbol);
    }
}

fn chart(client: &IndicatorsClient, request: &pb::ChartRequest) -> Result<Vec<u8>, grpcio::Error> {
    let chunks: Vec<pb::ChartChunk> = futures::executor::block_on(client.chart(request)?.try_collect())?;
    Ok(chunks.iter().flat_map(|c| c.png.iter().copied()).collect())
}

#[test]
fn a_chart_draws_a_formula_overlay_and_a_formula_panel() {
    let server = common::InProcess::start(Config::default());
    let client = client(&server);
    let request = pb::ChartRequest {
        symbol: "SPX".into(),
        start_date: "2018-01-01".into(),
        end_date: "2018-12-31".into(),
        overlays: vec![labelled("avg", "FAST:MA(C,5); SLOW:EMA(C,20);")],
        panels: vec![spec("VOL", &[]), formula(MACD)],
        width: 800,
        height: 600,
        ..Default::default()
    };
    let png = chart(&client, &request).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    let image = image::load_from_memory(&png).expect("a PNG that decodes").to_rgb8();
    assert_eq!(image.dimensions(), (800, 600));
    // The formulas are drawn: without them the picture differs.
    let plain = pb::ChartRequest { overlays: vec![], panels: vec![spec("VOL", &[])], ..request.clone() };
    let plain = image::load_from_memory(&chart(&client, &plain).unwrap()).unwrap().to_rgb8();
    assert_eq!(plain.dimensions(), (800, 600));
    assert_ne!(image.as_raw(), plain.as_raw(), "the formula overlay and panel change the chart");
    // A bad formula in a panel is refused as Compute refuses it.
    let bad = pb::ChartRequest { panels: vec![formula("X:MA(C);")], ..request };
    match chart(&client, &bad) {
        Err(grpcio::Error::RpcFailure(status)) => {
            assert_eq!(status.code(), Code::INVALID_ARGUMENT, "{}", status.message());
            assert!(status.message().contains("formula 1, 1:3: MA takes 2 arguments, not 1"), "{}", status.message());
        }
        other => panic!("expected INVALID_ARGUMENT, got {:?}", other.map(|png| png.len())),
    }
}

/// A formula over most of the stateful functions, for the live test.
const CONDITIONS: &str = "UP:=C>REF(C,1);\n\
     K:SMA((C-LLV(L,9))/(HHV(H,9)-LLV(L,9))*100,3,1);\n\
     N:COUNT(UP,5);\n\
     B:BARSLAST(CROSS(MA(C,3),MA(C,8)));\n\
     S:STD(C,10)+SUM(V,4)/1000+AVEDEV(C,6)+WMA(C,5)+SLOPE(C,7);\n\
     R:RSI(6)+KDJ(9,3,3).J;";

#[test]
fn subscribe_with_formulas_gives_compute_s_values_after_every_push() {
    let history = live::walk(&live::weekdays("2022-01-03", 150), 11);
    let live = Live::start(&[("AAA", &history, false)], &[]);
    let request = subscription(&["AAA"], vec![formula(MACD), spec("MACD", &[]), labelled("cond", CONDITIONS)]);
    let mut stream = subscribe(&live.client, &request);
    let check = |update: &pb::Update, what: &str| {
        let series = computed(&live.client, &request, "AAA");
        live::assert_update_is_row(update, &series, what);
        for output in ["DIF", "DEA", "MACD"] {
            let (ours, built_in) =
                (update.values[&format!("F1.{output}")], update.values[&format!("MACD(12,26,9).{output}")]);
            assert!(live::same(ours, built_in), "{what}: F1.{output} {ours}, the built-in {built_in}");
        }
        for name in ["cond.K", "cond.N", "cond.B", "cond.S", "cond.R"] {
            assert!(update.values.contains_key(name), "{what}: no {name} in {:?}", update.values.keys());
        }
    };
    let snapshot = expect_update(&mut stream, "the snapshot");
    assert!(snapshot.snapshot, "{snapshot:?}");
    assert_eq!(snapshot.date, history.last().unwrap().date);
    check(&snapshot, "the snapshot");

    let last = &history.last().unwrap().date;
    let dates = live::weekdays(&live::date_of(live::days_of(last) + 1), 5);
    // Two appends, a revision of the last, a forming bar and its revision, then the next day
    // (which settles the forming bar), then two bars in one request.
    let steps: Vec<(Vec<pb::Bar>, bool, &str)> = vec![
        (vec![bar(&dates[0], 93.0)], false, "an appended bar"),
        (vec![bar(&dates[1], 95.5)], false, "a second appended bar"),
        (vec![bar(&dates[1], 91.25)], false, "a revision of the last bar"),
        (vec![bar(&dates[2], 97.0)], true, "a forming bar"),
        (vec![bar(&dates[2], 89.0)], true, "the forming bar revised"),
        (vec![bar(&dates[2], 90.5), bar(&dates[3], 92.0), bar(&dates[4], 99.0)], false, "three bars in one push"),
    ];
    let mut updates = 1;
    for (bars, forming, what) in &steps {
        push(&live.client, "AAA", bars, *forming).unwrap_or_else(|e| panic!("{what}: {e:?}"));
        for (k, pushed) in bars.iter().enumerate() {
            let update = expect_update(&mut stream, what);
            assert_eq!(update.date, pushed.date, "{what}: updates in push order");
            assert_eq!(update.provisional, *forming && k + 1 == bars.len(), "{what}: {update:?}");
            assert!(!update.snapshot);
            if k + 1 == bars.len() {
                check(&update, what);
            } else {
                // An earlier bar of the request: Compute's row of its date is final now.
                live::assert_update_is_row(&update, &computed(&live.client, &request, "AAA"), what);
            }
            updates += 1;
        }
    }
    assert_eq!(updates, 9);
}

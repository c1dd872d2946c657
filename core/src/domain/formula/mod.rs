//! Formulas: 通达信-style custom indicators, parsed, checked and compiled once, then run over
//! whole columns (`Compute`, `Chart`) or stepped one bar at a time (`Subscribe`) with the same
//! operations, so that both give the same values.
//!
//! * [`ast`]: the parsed formula, every node with its place in the text.
//! * [`error`]: a formula's error, with line, column and the text around it.
//! * [`parse`]: the parser from text to [`ast::Formula`].
//! * `compile`: names, functions, arities and constant periods checked; a [`Program`] built.
//! * `program`: the [`Program`], stepped as a [`crate::domain::indicators::Stream`].
//! * `batch`: the [`Program`] run over whole columns, in blocks of bars.
//! * `ops`: the functions' meaning, MyTT 2.9.3's, with numpy's NaN rules; `ema`: the
//!   exponential averages, one bar at a time and several blocks at once.
//!
//! No formula can read anything but the bars of the instrument it runs over: the language has
//! no file, network, clock or other-instrument function.

pub mod ast;
mod batch;
mod compile;
mod ema;
pub mod error;
mod ops;
pub mod parse;
mod program;

pub use compile::FUNCTIONS;
pub use error::FormulaError;
pub use parse::parse;
pub use program::Program;

use crate::domain::indicators::Convention;

impl Program {
    /// Parses, checks and compiles `text`; the built-ins it names compute in `convention`.
    pub fn compile(text: &str, convention: Convention) -> Result<Program, FormulaError> {
        let formula = parse(text)?;
        compile::compile(text, &formula, convention)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by the fuzzer: an unknown name of 1,000 characters was quoted whole in the refusal.
    #[test]
    fn refusals_quote_long_names_short() {
        let long = "U".repeat(1000);
        for text in [
            format!("MID:MA(C,20); {long}:MID+1; X:{long}2;"),
            format!("X:{long}(C);"),
            format!("X:MACD(12,26,9).{long};"),
            format!("X:MA(C,5).{long};"),
            format!("X:MA(C,{long});"),
            "X:MA(C,1e300);".to_string(),
        ] {
            let e = Program::compile(&text, Convention::Cn).unwrap_err();
            assert!(e.to_string().len() < 300, "{} bytes: {e}", e.to_string().len());
        }
    }

    /// A random walk of `n` bars with NaN and infinite prices, a NaN run across a block's end,
    /// flat runs, and factors.
    fn walk(n: usize, seed: u64) -> [Vec<f64>; 6] {
        let mut next = crate::domain::testing::uniform(seed);
        let mut bars: [Vec<f64>; 6] = Default::default();
        let mut close = 100.0;
        for i in 0..n {
            let flat = (120..140).contains(&i) || (700..760).contains(&i);
            if !flat {
                close = ((close + (next() - 0.5) * 6.0) * 2.0f64).round() / 2.0;
            }
            let (open, spread) = (close + 0.5, if flat { 0.0 } else { 1.0 });
            let mut row =
                [open, open.max(close) + spread, open.min(close) - spread, close, 1000.0, 1.0 + i as f64 / 1e3];
            match next() {
                r if r < 0.01 => row[3] = f64::NAN,
                r if r < 0.012 => row[1] = f64::INFINITY,
                r if r < 0.014 => row[2] = f64::NEG_INFINITY,
                _ if (1020..1030).contains(&i) => row[3] = f64::NAN,
                _ => {}
            }
            for (column, value) in bars.iter_mut().zip(row) {
                column.push(value);
            }
        }
        bars
    }

    /// The batch runs averages together and a stage behind the averages they read; the stream
    /// steps one operation after another. Over histories of every shape of last block, with
    /// NaN and infinite prices, they give the same bits, for programs that stress the stages:
    /// chains of averages, more averages than are stepped together, an average of an average in
    /// the same loop, outputs repeated, series, constants and built-ins as outputs.
    #[test]
    fn the_batch_is_the_stream_bit_for_bit() {
        let texts = [
            "DIF:EMA(CLOSE,12)-EMA(CLOSE,26); DEA:EMA(DIF,9); MACD:(DIF-DEA)*2;",
            "A:=EMA(C,5); B:EMA(A,5); CC:EMA(B,5); DD:EMA(CC,5); E:EMA(DD,5)+A; F:MA(EMA(C,4),3); G:EMA(MA(C,3),4);",
            "A:EMA(C,2); B:EMA(C,3); CC:EMA(C,4); D:EMA(C,5); E:EMA(C,6); F:EMA(C,7); G:A+B+CC+D+E+F; X:EMA(G,3);",
            "A:C; B:A; K:2; D:ADJ_FACTOR*C; E:EMA(EMA(EMA(C,3),4),5); F:EMA(E,2)-EMA(C,2); G:B;",
            "A:EMA(C,1); B:SMA(C,5,5); G:DMA(C,1); H:EMA(H-L,7)+EMA(O,3); I:EMA(1,3); J:100-EMA(C*0+1,3);",
            "X:MACD(12,26,9).DIF; Y:MACD(12,26,9).DEA+C; Z:EMA(MACD(12,26,9).MACD,3); W:EMA(KDJ(9,3,3).K,3);",
            "RSV:=(C-LLV(L,9))/(HHV(H,9)-LLV(L,9))*100; K:SMA(RSV,3,1); D:SMA(K,3,1); J:3*K-2*D; X:CROSS(K,D);",
        ];
        let same = |a: f64, b: f64| a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan());
        for (n, seed) in [(0, 1), (1, 1), (3, 2), (511, 3), (512, 4), (513, 5), (1500, 6), (3000, 7)] {
            let [open, high, low, close, volume, factor] = walk(n, seed);
            for factors in [&[][..], &factor] {
                let prices = crate::domain::indicators::Prices {
                    open: &open,
                    high: &high,
                    low: &low,
                    close: &close,
                    volume: &volume,
                    adj_factor: factors,
                };
                for text in texts {
                    let program = Program::compile(text, Convention::Cn).unwrap();
                    let batch = program.compute(&prices);
                    let mut stream = program.stream();
                    let mut out = vec![f64::NAN; program.outputs()];
                    for i in 0..n {
                        stream.step(&prices.quote(i), &mut out);
                        for (k, column) in batch.iter().enumerate() {
                            assert_eq!(column.len(), n);
                            assert!(same(out[k], column[i]), "{text} over {n} bars, output {k} at bar {i}");
                        }
                    }
                }
            }
        }
    }
}

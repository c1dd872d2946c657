//! The parser's unit tests: what each text parses to, and the message and place of each error.

use super::*;

fn ok(text: &str) -> Formula {
    parse(text).unwrap_or_else(|e| panic!("{text:?}: {e}"))
}

fn err(text: &str) -> FormulaError {
    match parse(text) {
        Ok(formula) => panic!("{text:?} parsed: {formula:?}"),
        Err(e) => e,
    }
}

/// The expression of a one-statement formula, written back fully parenthesized.
fn shape(text: &str) -> String {
    let formula = ok(text);
    assert_eq!(formula.statements.len(), 1, "{text:?}");
    show(&formula.statements[0].expr)
}

fn show(expr: &Expr) -> String {
    match expr {
        Expr::Number(n, _) => format!("{n}"),
        Expr::Name(name, _) => name.clone(),
        Expr::Unary { op, expr, .. } => {
            format!("({} {})", if *op == UnaryOp::Neg { "-" } else { "NOT" }, show(expr))
        }
        Expr::Binary { op, lhs, rhs, .. } => {
            let op = match op {
                BinaryOp::Add => "+",
                BinaryOp::Sub => "-",
                BinaryOp::Mul => "*",
                BinaryOp::Div => "/",
                BinaryOp::Gt => ">",
                BinaryOp::Lt => "<",
                BinaryOp::Ge => ">=",
                BinaryOp::Le => "<=",
                BinaryOp::Eq => "=",
                BinaryOp::Ne => "<>",
                BinaryOp::And => "AND",
                BinaryOp::Or => "OR",
            };
            format!("({} {op} {})", show(lhs), show(rhs))
        }
        Expr::Call { name, args, output, .. } => {
            let args: Vec<String> = args.iter().map(show).collect();
            let output = output.as_ref().map(|o| format!(".{o}")).unwrap_or_default();
            format!("{name}({}){output}", args.join(","))
        }
    }
}

#[test]
fn the_macd_formula() {
    let formula = ok("DIF:EMA(CLOSE,12)-EMA(CLOSE,26); DEA:EMA(DIF,9); MACD:(DIF-DEA)*2;");
    let names: Vec<(&str, bool)> = formula.statements.iter().map(|s| (s.name.as_str(), s.output)).collect();
    assert_eq!(names, [("DIF", true), ("DEA", true), ("MACD", true)]);
    let shapes: Vec<String> = formula.statements.iter().map(|s| show(&s.expr)).collect();
    assert_eq!(shapes, ["(EMA(CLOSE,12) - EMA(CLOSE,26))", "EMA(DIF,9)", "((DIF - DEA) * 2)"]);
}

#[test]
fn statements() {
    // `: =` is `:` then `=`, which starts no expression.
    assert_eq!(err("c_2 : = 3").message, "expected an expression after `:`");
    let formula = ok(";;a:=1;;; B:a+1 ;\n;_c2:3;");
    let names: Vec<(&str, bool)> = formula.statements.iter().map(|s| (s.name.as_str(), s.output)).collect();
    assert_eq!(names, [("A", false), ("B", true), ("_C2", true)]);
    // The last statement may omit its `;`; an expression alone is OUT.
    let formula = ok("X:=C; X>REF(X,1)");
    assert_eq!(formula.statements[1].name, "OUT");
    assert!(formula.statements[1].output);
    assert_eq!(show(&formula.statements[1].expr), "(X > REF(X,1))");
    // `A=1` alone is a comparison, not a statement name.
    assert_eq!(ok("A=1").statements[0].name, "OUT");
}

#[test]
fn precedence() {
    assert_eq!(shape("X:1+2*3"), "(1 + (2 * 3))");
    assert_eq!(shape("X:1-2-3"), "((1 - 2) - 3)");
    assert_eq!(shape("X:8/4/2"), "((8 / 4) / 2)");
    assert_eq!(shape("X:(1+2)*3"), "((1 + 2) * 3)");
    assert_eq!(shape("X:-A*B"), "((- A) * B)");
    assert_eq!(shape("X:- -A"), "(- (- A))");
    assert_eq!(shape("X:+A"), "A");
    assert_eq!(shape("X:A+B>C*D"), "((A + B) > (C * D))");
    assert_eq!(shape("X:A>B AND C<D OR E=F"), "(((A > B) AND (C < D)) OR (E = F))");
    assert_eq!(shape("X:A OR B AND C"), "(A OR (B AND C))");
    assert_eq!(shape("X:A||B&&C"), "(A OR (B AND C))");
    assert_eq!(shape("X:a and b or not c"), "((A AND B) OR (NOT C))");
    assert_eq!(shape("X:NOT A > B"), "((NOT A) > B)");
    assert_eq!(shape("X:NOT(A>B)"), "(NOT (A > B))");
    assert_eq!(shape("X:1<2<3"), "((1 < 2) < 3)");
    for (op, shown) in
        [(">=", ">="), ("<=", "<="), ("<>", "<>"), ("!=", "<>"), ("=", "="), ("==", "="), (">", ">"), ("<", "<")]
    {
        assert_eq!(shape(&format!("X:A{op}B")), format!("(A {shown} B)"));
    }
}

#[test]
fn numbers_names_and_calls() {
    assert_eq!(shape("X:12"), "12");
    assert_eq!(shape("X:0.5+.5+1.+1e3+2E-2+3e+1"), "(((((0.5 + 0.5) + 1) + 1000) + 0.02) + 30)");
    assert_eq!(shape("x:close+c+Vol"), "((CLOSE + C) + VOL)");
    assert_eq!(shape("X:macd(12,26,9).dif"), "MACD(12,26,9).DIF");
    assert_eq!(shape("X:MACD().DEA*2"), "(MACD().DEA * 2)");
    assert_eq!(shape("X:MACD ( 12 , 26 , 9 ) . DIF"), "MACD(12,26,9).DIF");
    assert_eq!(shape("X:IF(C>O,MAX(C,O),-1)"), "IF((C > O),MAX(C,O),(- 1))");
    assert_eq!(shape("X:CROSS(MA(C,5),MA(C,20))"), "CROSS(MA(C,5),MA(C,20))");
    assert_eq!(shape("X:BARSLAST(C>REF(C,1))"), "BARSLAST((C > REF(C,1)))");
    // `1e` without digits is the number 1 and then a name.
    assert_eq!(err("X:1e").message, "unexpected `e`: expected an operator, or `;` to end the statement");
}

#[test]
fn comments() {
    let formula = ok("{ the MACD }\nDIF:EMA(C,12)-EMA(C,26); // fast\n// a whole line\nDEA:{inline}EMA(DIF,{9}9)//");
    let shapes: Vec<String> = formula.statements.iter().map(|s| show(&s.expr)).collect();
    assert_eq!(shapes, ["(EMA(C,12) - EMA(C,26))", "EMA(DIF,9)"]);
    assert_eq!(shape("X:8{/}/2"), "(8 / 2)");
    // `//` ends the line; `/ /` is division then an operand missing.
    assert_eq!(err("X:8/ /2").message, "expected an expression after `/`");
    let e = err("X:1 { never closed\n\n");
    assert_eq!((e.line, e.column, e.message.as_str()), (1, 5, "unclosed comment: this `{` has no `}`"));
    let e = err("X:1 } ");
    assert_eq!((e.line, e.column), (1, 5));
    assert_eq!(e.message, "unknown character `}` (a comment is `{...}`)");
    // Comments do not nest: the first `}` closes.
    assert_eq!(err("X:1 {a {b} c}").message, "unexpected `c`: expected an operator, or `;` to end the statement");
    assert_eq!(shape("\u{3000}X\t:\r\n1"), "1");
}

#[test]
fn spans() {
    let text = "A:=1;\n  B:MAX(A, (2+3)*é)";
    let e = err(text);
    assert_eq!((e.line, e.column), (2, 18));
    let text = "A:=1;\n  {é}B:MAX(A, (2+3)*4).X";
    let formula = ok(text);
    let b = &formula.statements[1];
    assert_eq!(b.span, Span { line: 2, column: 6, start: 12, end: 13 });
    let Expr::Call { args, span, .. } = &b.expr else { panic!("{b:?}") };
    assert_eq!(&text[span.start..span.end], "MAX(A, (2+3)*4).X");
    assert_eq!((span.line, span.column), (2, 8));
    assert_eq!(&text[args[0].span().start..args[0].span().end], "A");
    let product = args[1].span();
    assert_eq!(&text[product.start..product.end], "(2+3)*4");
    assert_eq!((product.line, product.column), (2, 15));
    let Expr::Binary { lhs, rhs, .. } = &args[1] else { panic!() };
    assert_eq!(&text[lhs.span().start..lhs.span().end], "2+3");
    assert_eq!(lhs.span().column, 16);
    assert_eq!(rhs.span(), Span { line: 2, column: 21, start: 27, end: 28 });
    let text = "X: - NOT C";
    let expr = &ok(text).statements[0].expr;
    assert_eq!(expr.span(), Span { line: 1, column: 4, start: 3, end: 10 });
    let Expr::Unary { expr: inner, .. } = expr else { panic!() };
    assert_eq!(inner.span(), Span { line: 1, column: 6, start: 5, end: 10 });
    // An unnamed statement's span is its expression's.
    let formula = ok("  C>O");
    assert_eq!(formula.statements[0].span, Span { line: 1, column: 3, start: 2, end: 5 });
}

/// Every message, with its place.
#[test]
fn errors() {
    let cases: &[(&str, (u32, u32), &str)] = &[
        ("X:(1+2", (1, 7), "expected `)` to close the `(` at 1:3"),
        ("X:MAX(1,(2*3;", (1, 13), "expected `)` to close the `(` at 1:9"),
        ("X:MAX(1 2)", (1, 9), "expected `,` or `)` to close the `(` at 1:6 of `MAX`"),
        ("X:MAX(1,", (1, 9), "expected an expression after `,`"),
        ("X:MAX(1,)", (1, 9), "expected an expression after `,`"),
        ("X:2*", (1, 5), "expected an expression after `*`"),
        ("X:2*;", (1, 5), "expected an expression after `*`"),
        ("X:2+*3", (1, 5), "expected an expression after `+`"),
        ("X:", (1, 3), "expected an expression after `:`"),
        ("X:=;", (1, 4), "expected an expression after `:=`"),
        ("X:NOT", (1, 6), "expected an expression after `NOT`"),
        ("X:(", (1, 4), "expected an expression after `(`"),
        ("X:A AND OR B", (1, 9), "expected an expression after `AND`"),
        ("X:1)", (1, 4), "unexpected `)`: expected an operator, or `;` to end the statement"),
        ("X:1 Y:2", (1, 5), "unexpected `Y`: expected an operator, or `;` to end the statement"),
        ("X:1:2", (1, 4), "unexpected `:`: expected an operator, or `;` to end the statement"),
        ("X:1;)", (1, 5), "unexpected `)`: a statement is `NAME:expr` or `NAME:=expr` (or an expression alone)"),
        (":1", (1, 1), "a statement is `NAME:expr` or `NAME:=expr`, NAME a letter or `_` then letters, digits or `_`"),
        ("X:1;2A:=3", (1, 6), "unexpected `A`: expected an operator, or `;` to end the statement"),
        (
            "X:1; A+B:=3",
            (1, 6),
            "a statement is `NAME:expr` or `NAME:=expr`, NAME a letter or `_` then letters, digits or `_`",
        ),
        ("X:1#", (1, 4), "unknown character `#`"),
        ("X:1;\n Y:C\u{FF1B}", (2, 5), "unknown character `；` (did you mean `;`?)"),
        ("收盘:C", (1, 1), "unknown character `收` (names are ASCII letters, digits and `_`)"),
        ("X:A&B", (1, 4), "unknown character `&` (did you mean `&&` or AND?)"),
        ("X:A|B", (1, 4), "unknown character `|` (did you mean `||` or OR?)"),
        ("X:!A", (1, 3), "unknown character `!` (did you mean `!=` or NOT?)"),
        ("X:\0", (1, 3), "unknown character `\\0`"),
        ("and:1", (1, 1), "`AND` is a keyword and cannot name a statement"),
        ("X:1; Not:=2", (1, 6), "`NOT` is a keyword and cannot name a statement"),
        (
            "X:C.DIF",
            (1, 4),
            "`.OUTPUT` selects an output of a call, as in `MACD(12,26,9).DIF`; it follows the call's `)`",
        ),
        (
            "X:(MACD()).DIF",
            (1, 11),
            "`.OUTPUT` selects an output of a call, as in `MACD(12,26,9).DIF`; it follows the call's `)`",
        ),
        (
            "X:MACD().DIF.DEA",
            (1, 13),
            "`.OUTPUT` selects an output of a call, as in `MACD(12,26,9).DIF`; it follows the call's `)`",
        ),
        ("X:MACD().1", (1, 9), "unexpected `.1`: expected an operator, or `;` to end the statement"),
        ("X:MACD().(", (1, 10), "expected an output name after `.`, as in `MACD(12,26,9).DIF`"),
        ("X:1e999", (1, 3), "the number `1e999` is too large"),
        ("", (1, 1), "the formula has no statement: write one as `NAME:expr`"),
        (" ;; {only a comment}\n", (2, 1), "the formula has no statement: write one as `NAME:expr`"),
        ("A:1;\nb:=2;\n a:3", (3, 2), "`A` is already defined at 1:1"),
        (
            "C>O;\nC<O",
            (2, 1),
            "a second statement without a name (the first is at 1:1): name each output line, `NAME:expr`",
        ),
        (
            "OUT:1;\nC<O",
            (2, 1),
            "`OUT` is already defined at 1:1 (a statement without a name is called OUT; name it, `NAME:expr`)",
        ),
        (
            "C<O;\n out:=1",
            (2, 2),
            "`OUT` is already defined at 1:1 (a statement without a name is called OUT; name it, `NAME:expr`)",
        ),
    ];
    for (text, (line, column), message) in cases {
        let e = err(text);
        assert_eq!((e.line, e.column, e.message.as_str()), (*line, *column, *message), "{text:?}");
        assert!(!e.limit, "{text:?}");
        // The Display form has the place and the text there.
        let shown = e.to_string();
        assert!(shown.starts_with(&format!("{line}:{column}: {message}, ")), "{shown}");
    }
    assert_eq!(err("X:(1+2").to_string(), "1:7: expected `)` to close the `(` at 1:3, at the end of the formula");
    assert_eq!(err("X:MAX(1 2)").to_string(), "1:9: expected `,` or `)` to close the `(` at 1:6 of `MAX`, near \"2)\"");
    // A long token is quoted short.
    // The first error in the text is reported, even when the lexer stops later.
    assert_eq!(err("X:(1;Y:#").message, "expected `)` to close the `(` at 1:3");
    assert_eq!(err("X:1 {a {b} c}").message, "unexpected `c`: expected an operator, or `;` to end the statement");
    assert_eq!(err("X:1;\nY:2 #").message, "unknown character `#`");
    // Long names are quoted short, so that a message stays small (it travels in a gRPC status).
    let name = "N".repeat(5_000);
    let e = err(&format!("{name}:1;{name}:2"));
    assert_eq!(e.message, format!("`{}…` is already defined at 1:1", "N".repeat(24)));
    let e = err(&format!("X:{name}(1 2)"));
    assert_eq!(e.message, format!("expected `,` or `)` to close the `(` at 1:5003 of `{}…`", "N".repeat(24)));
    let long = format!("X:1 {}", "A".repeat(100));
    assert_eq!(
        err(&long).message,
        format!("unexpected `{}…`: expected an operator, or `;` to end the statement", "A".repeat(24))
    );
}

#[test]
fn limits() {
    // 100 KB of text.
    let text = "X:1;".repeat(25_600);
    let e = err(&text);
    assert!(e.limit);
    assert_eq!((e.line, e.column), (1, 1));
    assert_eq!(e.message, "the formula is 102400 bytes, over the limit of 16 KiB (16384 bytes)");
    // Exactly 16 KiB is allowed.
    let mut text = String::from("X:1;");
    text.push_str(&" ".repeat(MAX_FORMULA_BYTES - text.len()));
    assert_eq!(ok(&text).statements.len(), 1);
    text.push(' ');
    assert!(err(&text).limit);

    // 300 statements; 256 are fine, and empty ones do not count.
    let text: String = (0..300).map(|i| format!("A{i}:=1;")).collect();
    let e = err(&text);
    assert!(e.limit);
    assert_eq!(e.message, "more than 256 statements, the limit");
    assert_eq!(e.near, "A256:=1;A257:=1;A258:=1;");
    let text: String = (0..256).map(|i| format!("A{i}:=1;;")).collect();
    assert_eq!(ok(&text).statements.len(), 256);

    // Depth 1,000 of parentheses, of calls, of unary operators; 64 of each is fine.
    let depth_message =
        "nesting deeper than the limit of 64 levels (parentheses, calls and unary operators each count one)";
    for (open, close) in [("(", ")"), ("ABS(", ")"), ("-", ""), ("NOT ", ""), ("+", ""), ("-(", ")")] {
        let nested = |depth: usize| format!("X:{}C{}", open.repeat(depth), close.repeat(depth));
        let e = err(&nested(1_000));
        assert!(e.limit, "{open}");
        assert_eq!(e.message, depth_message);
        if open != "-(" {
            ok(&nested(64));
            assert_eq!(err(&nested(65)).message, depth_message);
        }
    }
    ok(&format!("X:{}C{}", "-(".repeat(32), ")".repeat(32)));
    // Siblings do not add up: only nesting counts.
    ok(&format!("X:{}", vec!["((((C))))"; 100].join("+")));

    // A chain of operators is as high as it is long: up to 511 operators.
    let chain = |n: usize| format!("X:C{}", "+C".repeat(n));
    ok(&chain(MAX_HEIGHT as usize - 1));
    let e = err(&chain(MAX_HEIGHT as usize));
    assert!(e.limit);
    assert_eq!(
        e.message,
        "an expression deeper than the limit of 512 levels (each operator of a chain such as `A+B+C` counts \
         one); split it into statements, `NAME:=expr`"
    );
    assert!(err(&format!("X:{}C{}{}", "(".repeat(20), "+C".repeat(600), ")".repeat(20))).limit);
}

/// Without the size limit, the depth limit alone keeps deep nesting off the stack.
#[test]
fn no_stack_overflow() {
    for (open, close) in [("(", ")"), ("MAX(C,", ")"), ("-", ""), ("NOT ", "")] {
        let text = format!("X:{}C{}", open.repeat(100_000), close.repeat(100_000));
        let e = parse_limited(&text, usize::MAX).unwrap_err();
        assert!(e.limit && e.message.starts_with("nesting deeper"), "{e}");
        let text = format!("X:{}", open.repeat(100_000));
        assert!(parse_limited(&text, usize::MAX).unwrap_err().limit);
    }
    let text = format!("X:C{}", "*C".repeat(100_000));
    assert!(parse_limited(&text, usize::MAX).unwrap_err().limit);
}

/// Every prefix and a few mutations of valid formulas: errors, never a panic, and every error
/// is at a place in the text.
#[test]
fn never_panics() {
    let seeds = [
        "DIF:EMA(CLOSE,12)-EMA(CLOSE,26); DEA:EMA(DIF,9); MACD:(DIF-DEA)*2;",
        "{KDJ}RSV:=(C-LLV(L,9))/(HHV(H,9)-LLV(L,9))*100;K:SMA(RSV,3,1);D:SMA(K,3,1);J:3*K-2*D;",
        "X:=MACD(12,26,9).DIF; // comment\nCROSS(X,0) AND NOT(C<O) || C>=1e3 && C!=.5",
        "收:=C；Y:（C+1）*2，",
    ];
    let extras = ["(", ")", ",", ";", ":", ":=", ".", "{", "}", "//", "-", "NOT", "é", "\n", "1e", "AND"];
    for seed in seeds {
        let mut cuts: Vec<usize> = seed.char_indices().map(|(i, _)| i).collect();
        cuts.push(seed.len());
        for &cut in &cuts {
            for variant in [
                seed[..cut].to_string(),
                seed[cut..].to_string(),
                format!("{}{}", &seed[..cut], &seed[cut..].chars().skip(1).collect::<String>()),
            ] {
                check(&variant);
                for extra in extras {
                    check(&format!("{extra}{variant}"));
                    let mid = variant.char_indices().map(|(i, _)| i).nth(variant.chars().count() / 2).unwrap_or(0);
                    check(&format!("{}{extra}{}", &variant[..mid], &variant[mid..]));
                }
            }
        }
    }
}

fn check(text: &str) {
    match parse(text) {
        Ok(formula) => assert!(!formula.statements.is_empty()),
        Err(e) => {
            assert!(e.line >= 1 && e.column >= 1, "{text:?}: {e}");
            assert!(e.line as usize <= text.lines().count().max(1) + 1, "{text:?}: {e}");
            assert!(e.near.chars().count() <= 24);
            assert!(e.message.len() <= 400, "{text:?}: {e}");
        }
    }
}

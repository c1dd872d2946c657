"""Reference values for idc's formulas: each formula of tests/formulas/corpus.json evaluated by
MyTT 2.9.3 in its Python form.

Usage: formula_reference.py [--numpy-division] [--formulas FORMULAS.csv] BARS.csv OUT.csv
       formula_reference.py [--numpy-division] [--formulas FORMULAS.csv] --random-walk OUT.csv

Reads daily bars (date,open,high,low,close[,volume]) or generates the seeded random walk of
tests/python/indicators_reference.py (3,000 bars of seed 20261202 with a run of 15 unchanged
bars), and writes one CSV: the bars, then one column per formula output, named `FORMULA|OUTPUT`
(the corpus's names), in corpus order. Floats have 17 significant digits, so the Rust side reads
back the exact values; NaN is an empty field, infinities `inf`/`-inf`. With --formulas it also
writes FORMULAS.csv: name, formula (the 通达信 text), outputs (space-separated), one row per formula,
for readers without a JSON parser.

Each Python form runs in a fresh namespace with MyTT's functions, numpy as `np`, and the bars as
numpy float arrays OPEN HIGH LOW CLOSE VOL (and O H L C V). Every output is converted to float64
(MyTT's booleans become 1.0/0.0) and broadcast to the bars' length (a constant output line).

MyTT's RD (rounding to 3 decimals) is replaced by the identity, as in indicators_reference.py.

Division: the formula language's division by zero gives NaN, where numpy gives ±inf for x/0 (and
NaN for 0/0, as the language does). So every `/` of a Python form is evaluated by `_div`, which is
numpy's division with NaN wherever the divisor is 0; MyTT's own functions are untouched (the forms
call only its operators, none that divide). --numpy-division keeps numpy's `/`: plain MyTT.
"""

import ast
import csv
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

import MyTT.MyTT

# The functions look RD up in their own module's globals: patch it there.
MyTT.MyTT.RD = lambda x, d=3: x

sys.path.insert(0, str(Path(__file__).resolve().parent))
from indicators_reference import random_walk  # noqa: E402  (the same bars as the indicators' test)

CORPUS = Path(__file__).resolve().parents[1] / "formulas" / "corpus.json"

# MyTT's functions that the language has (and the others a Python form may use).
MYTT = {name: getattr(MyTT.MyTT, name) for name in dir(MyTT.MyTT) if name.isupper()}


def _div(a, b):
    with np.errstate(divide="ignore", invalid="ignore"):
        quotient = np.true_divide(a, b)
    return np.where(np.asarray(b) == 0, np.nan, quotient)


class _Divisions(ast.NodeTransformer):
    """`a / b` becomes `_div(a, b)`."""

    def visit_BinOp(self, node):
        self.generic_visit(node)
        if isinstance(node.op, ast.Div):
            return ast.copy_location(
                ast.Call(func=ast.Name(id="_div", ctx=ast.Load()), args=[node.left, node.right], keywords=[]),
                node)
        return node


def compile_form(source, numpy_division):
    tree = ast.parse(source, mode="exec")
    if not numpy_division:
        tree = ast.fix_missing_locations(_Divisions().visit(tree))
    return compile(tree, "<python form>", "exec")


def evaluate(entry, series, n, numpy_division):
    namespace = dict(MYTT, np=np, _div=_div)
    for long, short in (("OPEN", "O"), ("HIGH", "H"), ("LOW", "L"), ("CLOSE", "C"), ("VOL", "V")):
        namespace[long] = namespace[short] = series[long].copy()
    with np.errstate(divide="ignore", invalid="ignore"):
        exec(compile_form(entry["python"], numpy_division), namespace)
    result = {}
    for output in entry["outputs"]:
        if output not in namespace:
            raise SystemExit(f"{entry['name']}: the Python form assigns no {output}")
        values = np.broadcast_to(np.asarray(namespace[output], dtype="float64"), (n,))
        result[output] = np.array(values)
    return result


def main(argv):
    numpy_division = "--numpy-division" in argv
    argv = [a for a in argv if a != "--numpy-division"]
    formulas_out = None
    if "--formulas" in argv:
        i = argv.index("--formulas")
        formulas_out = argv[i + 1]
        del argv[i:i + 2]
    if len(argv) != 2:
        raise SystemExit(__doc__)
    source, out = argv
    bars = random_walk() if source == "--random-walk" else pd.read_csv(source)
    if "volume" not in bars:
        bars["volume"] = 0.0
    n = len(bars)
    series = {name: bars[column].to_numpy(dtype="float64")
              for name, column in (("OPEN", "open"), ("HIGH", "high"), ("LOW", "low"),
                                   ("CLOSE", "close"), ("VOL", "volume"))}
    corpus = json.loads(CORPUS.read_text(encoding="utf-8"))
    columns = {k: bars[k] for k in bars.columns}
    for entry in corpus:
        for output, values in evaluate(entry, series, n, numpy_division).items():
            columns[f"{entry['name']}|{output}"] = values
    pd.DataFrame(columns).to_csv(out, index=False, float_format="%.17g")
    if formulas_out:
        with open(formulas_out, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(["name", "formula", "outputs"])
            for entry in corpus:
                writer.writerow([entry["name"], entry["formula"], " ".join(entry["outputs"])])


if __name__ == "__main__":
    main(sys.argv[1:])

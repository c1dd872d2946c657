"""The `## Tuning` section of bench/run: idc alone, one knob at a time, every setting against idc's
own defaults measured in the same section.

Each knob has a reference server (idc's defaults, or for the log the setting the rest of the
benchmark uses) and one server per other setting. The reference is measured right before the
other settings and again right after them: the ratios are against the mean of its two runs, and
the difference between those two runs (its spread) says how much the shared machine drifted
meanwhile. The sentences of the section are generated from the numbers: an effect is called one
only when it exceeds both MIN_EFFECT and that spread.

A knob that idc_server cannot switch would get a placeholder row saying why (UNSWITCHABLE);
today every knob has a flag: `--no-write-batching` for grpcio's `enhance_batch`, and
`--grpc-arg NAME=VALUE` for C-core's channel arguments.
"""

import os
import re
import subprocess

import calls
from report import fmt, table
from servers import BenchError

KIB = 1024
MIB = 1 << 20
MB = 1e6
# Short runs: the whole section is budgeted at about 90 s of the full run's 10 minutes.
RUN_S = 1.5
# Below this change (and below the reference's own spread) a ratio is called noise.
MIN_EFFECT = 0.05
COMPLETION_QUEUES = (1, 2, 4)
CHUNK_SIZES = (1 * KIB, 4 * KIB, 16 * KIB, 64 * KIB, 256 * KIB, 1 * MIB)
# What the rest of the benchmark runs idc with: no log line per call.
QUIET_LOG = "info,idc::rpc=warn"

# Knobs that idc_server cannot switch yet: (name, what it is, words whose appearance in
# `idc_server --help` or in an `IDC_...` environment variable named in src/ means a switch was
# added and this table is out of date).
UNSWITCHABLE = ()  # every knob the issue names has a switch now (flags of idc_server)


def size_name(n):
    if n >= MIB and n % MIB == 0:
        return "%d MiB" % (n // MIB)
    return "%d KiB" % (n // KIB) if n >= KIB else "%d B" % n


class Load:
    """One load run: unary GetMACD (parity request) or GetMACDGraph of the knob's graph file."""

    def __init__(self, kind, connections, streams):
        self.kind, self.connections, self.streams = kind, connections, streams

    def name(self, file_size):
        if self.kind == "unary":
            return "unary %d×%d" % (self.connections, self.streams)
        n = self.connections * self.streams
        return "streaming %s, %d stream%s" % (size_name(file_size), n, "" if n == 1 else "s")

    @property
    def rate_unit(self):
        return "req/s" if self.kind == "unary" else "MB/s"

    @property
    def latency_name(self):
        return "p99" if self.kind == "unary" else "last byte"


class Setting:
    def __init__(self, label, args=(), env=None):
        self.label, self.args, self.env = label, list(args), env or {}


class Knob:
    """A knob: its reference setting, its other settings, the loads each is measured under, and
    the graph file (size, and the chunk size unless the knob sets it) its servers stream."""

    def __init__(self, name, switch, reference, variants, loads, file_size, chunk=None, order=None):
        self.name, self.switch = name, switch
        self.reference, self.variants, self.loads = reference, variants, loads
        self.file_size, self.chunk = file_size, chunk
        # The order of the table's rows (the reference among them); default: reference first.
        self.order = order or [reference] + variants


def help_defaults(idc):
    """{flag: default} of every `--flag <X> ... [default: N]` in `idc_server --help`, and the
    help text itself."""
    try:
        text = subprocess.run([idc, "--help"], capture_output=True, text=True, timeout=30, check=True).stdout
    except (OSError, subprocess.SubprocessError) as err:
        raise BenchError("`%s --help` failed: %s" % (idc, err)) from None
    defaults = {}
    # Options are blocks that start with a line `  -x, --flag` or `      --flag`.
    for block in re.split(r"\n(?=\s{2,}(?:-\w, )?--)", text):
        flag = re.match(r"\s*(?:-\w, )?--([\w-]+)", block)
        default = re.search(r"\[default: (.*)\]\s*$", block, re.M)
        if flag and default:
            defaults[flag.group(1)] = default.group(1)
    return defaults, text


def int_default(defaults, flag):
    try:
        return int(defaults[flag])
    except (KeyError, ValueError):
        raise BenchError("`idc_server --help` shows no numeric default for --%s" % flag) from None


def completion_queues_default(defaults, text):
    """--completion-queues's default: a number, or one per CPU (its help says so, with no
    `[default: N]`), the CPUs this process may run on, as the server counts them."""
    if "completion-queues" not in defaults and re.search(
            r"--completion-queues <[^>]*>\s*\n[^\n]*default: one per CPU", text):
        return len(os.sched_getaffinity(0))
    return int_default(defaults, "completion-queues")


def knobs(defaults, smoke, text=""):
    cq = completion_queues_default(defaults, text)
    chunk = int_default(defaults, "chunk-size")
    quota = int_default(defaults, "memory-quota-mib")
    # The unary, queue and quota loads stream the 1 MiB file in the article's 1 KiB chunks.
    article_chunk = 1024
    cq_ref = Setting("%d (default: one per core)" % cq)
    cq_others = [Setting(str(n), ["--completion-queues", str(n)]) for n in COMPLETION_QUEUES if n != cq]
    chunk_ref = Setting("%s (default)" % size_name(chunk))
    chunk_others = {c: Setting(size_name(c), ["--chunk-size", str(c)]) for c in CHUNK_SIZES if c != chunk}
    chunk_order = [chunk_others.get(c, chunk_ref) for c in sorted(set(CHUNK_SIZES) | {chunk})]
    return [
        Knob("Completion queues", "`--completion-queues`", cq_ref, cq_others,
             [Load("unary", 16, 8), Load("unary", 1, 1), Load("stream", 16, 1)], MIB, article_chunk,
             order=sorted([cq_ref] + cq_others, key=lambda s: int(s.label.split()[0]))),
        Knob("Chunk size", "`--chunk-size`", chunk_ref, list(chunk_others.values()),
             [Load("stream", 1, 1), Load("stream", 16, 1)], MIB if smoke else 8 * MIB, None, order=chunk_order),
        Knob("Per-call access log", "`RUST_LOG` (target `idc::rpc`)",
             Setting("`%s`: no line per call (the rest of this benchmark)" % QUIET_LOG, env={"RUST_LOG": QUIET_LOG}),
             [Setting("`info`: idc's default, one line per call", env={"RUST_LOG": "info"})],
             [Load("unary", 16, 8)], MIB, article_chunk),
        Knob("Memory quota", "`--memory-quota-mib`", Setting("%d MiB (default)" % quota),
             [Setting("0 (no quota)", ["--memory-quota-mib", "0"])],
             [Load("unary", 64, 16), Load("stream", 16, 1)], MIB, article_chunk),
        Knob("Write batching (grpcio `enhance_batch`)", "`--no-write-batching`", Setting("on (default)"),
             [Setting("off", ["--no-write-batching"])],
             [Load("stream", 1, 1), Load("stream", 16, 1)], MIB, article_chunk),
        Knob("C-core channel arguments", "`--grpc-arg NAME=VALUE`", Setting("C-core's defaults"),
             [Setting("`grpc.http2.write_buffer_size=1048576`", ["--grpc-arg", "grpc.http2.write_buffer_size=1048576"]),
              Setting("`grpc.http2.bdp_probe=0`", ["--grpc-arg", "grpc.http2.bdp_probe=0"]),
              Setting("`grpc.http2.max_frame_size=65536`", ["--grpc-arg", "grpc.http2.max_frame_size=65536"])],
             [Load("unary", 16, 8), Load("stream", 16, 1)], MIB, article_chunk),
    ]  # fmt: skip


class Measured:
    """One setting under one load: the rate (req/s or MB/s), the latency (ms: p99 for unary,
    mean time to last byte for streams) and the peak RSS (KiB), of one run or of the reference's
    two."""

    def __init__(self, runs, load, file_size):
        self.runs = runs  # [(Run, rss_kib)]

        def rate(run):
            return run.ok_req_s if load.kind == "unary" else run.ok_req_s * file_size / MB

        def latency(run):
            return run.percentile_ms(99) if load.kind == "unary" else run.mean_ms()

        rates = [rate(run) for run, _ in runs]
        latencies = [latency(run) for run, _ in runs]
        self.rate = sum(rates) / len(rates)
        self.latency = sum(latencies) / len(latencies)
        self.rss_kib = max(rss for _, rss in runs)
        self.calls = sum(run.done for run, _ in runs)
        # How far the reference's two runs lie apart, relative to their mean.
        self.spread = abs(rates[0] - rates[-1]) / self.rate if self.rate else 0.0
        self.latency_spread = abs(latencies[0] - latencies[-1]) / self.latency if self.latency else 0.0


def file_sizes(smoke):
    """The graph file sizes the section streams."""
    return sorted({MIB, MIB if smoke else 8 * MIB})


def measure(bench, idc, parity_request, graphs):
    """Runs every knob with the server binary `idc`; `graphs` maps each of file_sizes() to a graph
    file of that size. Returns the results for `markdown`."""
    defaults, help_text = help_defaults(idc)
    results = {"knobs": [], "unswitchable": []}
    for knob in knobs(defaults, bench.s.smoke, help_text):
        results["knobs"].append((knob, measure_knob(bench, knob, graphs[knob.file_size], parity_request)))
    switches = help_text.lower() + "\n" + "\n".join(env_switches())
    for name, what, words in UNSWITCHABLE:
        seen = [w for w in words if w in switches]
        results["unswitchable"].append((name, what, seen))
    return results


def env_switches():
    """The `IDC_...` environment variable names that idc's sources mention (lowercase)."""
    names = set()
    for folder, _, files in os.walk(os.path.join(calls.ROOT, "src")):
        for name in files:
            if name.endswith(".rs"):
                with open(os.path.join(folder, name), encoding="utf-8", errors="replace") as f:
                    names.update(m.lower() for m in re.findall(r'"(IDC_[A-Z0-9_]+)"', f.read()))
    return sorted(names)


def measure_knob(bench, knob, graph, parity_request):
    """{(setting label, load index): Measured} for the knob's settings."""

    def start(setting):
        args = ["--graph-file", graph] + (["--chunk-size", str(knob.chunk)] if knob.chunk else []) + setting.args
        return bench.start("idc", args, label="idc tuning %s %s" % (knob.name, setting.label), env=setting.env)

    def run_loads(server, setting):
        out = []
        for i, load in enumerate(knob.loads):
            if load.kind == "unary":
                method, body = calls.UNARY, parity_request
            else:
                method, body = calls.STREAM, calls.request()
            expected = expected_of[(server.label, method)]
            run, rss = bench.measure(server, method, body, load.connections, load.streams, expected, run_s=RUN_S)
            out.append((i, run, rss))
            m = Measured([(run, rss)], load, knob.file_size)
            bench.log("tuning %s, %s: %s: %s %s, %s %s ms"
                      % (knob.name, setting.label, load.name(knob.file_size), fmt(m.rate), load.rate_unit,
                         load.latency_name, fmt(m.latency)))
        return out

    expected_of = {}
    with open(graph, "rb") as f:
        graph_bytes = f.read()

    def expect(server):
        # What every load run of this server must return, checked first: GetMACD's bytes equal
        # the reference server's (no knob may change a reply), GetMACDGraph's chunks add up to
        # the file (a chunk size changes the messages, not what they carry).
        for method, body in ((calls.UNARY, parity_request), (calls.STREAM, calls.request())):
            expected_of[(server.label, method)] = calls.messages(server.target, method, body, label=server.label)
        unary = expected_of[(server.label, calls.UNARY)]
        if unary != expected_of.setdefault("reference unary", unary):
            raise BenchError("%s: GetMACD replied with other bytes than the reference setting's" % server.label)
        if calls.payload(expected_of[(server.label, calls.STREAM)]) != graph_bytes:
            raise BenchError("%s: GetMACDGraph's chunks do not add up to %s" % (server.label, graph))

    runs = {}
    reference = start(knob.reference)
    try:
        expect(reference)
        before = run_loads(reference, knob.reference)
        for setting in knob.variants:
            server = start(setting)
            try:
                expect(server)
                for i, run, rss in run_loads(server, setting):
                    runs[(setting.label, i)] = Measured([(run, rss)], knob.loads[i], knob.file_size)
            finally:
                server.stop()
        after = run_loads(reference, knob.reference)
    finally:
        reference.stop()
    for (i, run_a, rss_a), (_, run_b, rss_b) in zip(before, after):
        runs[(knob.reference.label, i)] = Measured([(run_a, rss_a), (run_b, rss_b)], knob.loads[i], knob.file_size)
    return runs


def pct(x):
    return "%+.0f %%" % ((x - 1) * 100)


def effect(ratio, spread):
    """A ratio in words: a change, or noise when within MIN_EFFECT or the reference's spread."""
    if abs(ratio - 1) <= max(MIN_EFFECT, spread):
        return "%s× (within the noise)" % fmt(ratio)
    return "%s× (%s)" % (fmt(ratio), pct(ratio))


def markdown(results):
    out = ["\n## Tuning\n"]
    out.append(
        "idc alone, one knob at a time, each setting on its own server; every other setting is idc's default "
        "(and `RUST_LOG=%s`, but in the log rows). Runs of about %.1f s after a warm-up. Each knob's reference "
        "(idc's default; for the log, the rest of the benchmark's setting) is measured right before its other settings and again right after them: ratios are "
        "against the mean of its two runs, and their spread (how far they lie apart) shows how much the "
        "machine drifted meanwhile. A change is called one when it exceeds both %d %% and that spread. Unary "
        "latency is the p99; a stream's is the mean time to its last byte. Peak RSS is the largest seen "
        "during the setting's runs.\n" % (QUIET_LOG, RUN_S, MIN_EFFECT * 100))
    rows = []
    sentences = []
    for knob, runs in results["knobs"]:
        for setting in knob.order:
            is_ref = setting is knob.reference
            for i, load in enumerate(knob.loads):
                m, ref = runs[(setting.label, i)], runs[(knob.reference.label, i)]
                rate_vs = "1.00× (runs %.0f %% apart)" % (ref.spread * 100) if is_ref else "%s×" % fmt(m.rate / ref.rate)
                latency_vs = ("1.00× (runs %.0f %% apart)" % (ref.latency_spread * 100) if is_ref
                              else "%s×" % fmt(m.latency / ref.latency))
                rows.append([knob.name, setting.label + (" — reference" if is_ref else ""),
                             load.name(knob.file_size), fmt(m.calls), "%s %s" % (fmt(m.rate), load.rate_unit),
                             rate_vs, "%s %s ms" % (load.latency_name, fmt(m.latency)),
                             latency_vs, fmt(m.rss_kib / 1024)])
        sentences.append(knob_sentence(knob, runs))
    for name, what, seen in results["unswitchable"]:
        why = ("not measured: `idc_server --help` or an `IDC_` environment variable in src/ now mentions %s; "
               "add its settings to `knobs()` in bench/lib/tuning.py" % ", ".join("`%s`" % w for w in seen)) if seen else (
            "not measured: idc_server has no flag or environment variable for it (%s)" % what)
        rows.append([name, "—", "—", "—", why, "—", "—", "—", "—"])
        sentences.append("**%s**: %s." % (name, why))
    out.append(table(["knob", "setting", "load", "calls", "rate", "rate vs reference", "latency",
                      "latency vs reference", "peak RSS MiB"], rows))
    out.append("\nWhat each knob changed in this run (sentences generated from the table):\n")
    out.extend("- " + s for s in sentences)
    return "\n".join(out)


def knob_sentence(knob, runs):
    """What the knob's settings changed, in words, from the numbers."""
    ref_spreads = ", ".join("%s %.0f %% (%s %.0f %%)" % (
        load.name(knob.file_size), runs[(knob.reference.label, i)].spread * 100, load.latency_name,
        runs[(knob.reference.label, i)].latency_spread * 100) for i, load in enumerate(knob.loads))
    parts = []
    for setting in knob.variants:
        effects = []
        for i, load in enumerate(knob.loads):
            m, ref = runs[(setting.label, i)], runs[(knob.reference.label, i)]
            effects.append("%s %s %s, %s %s" % (load.name(knob.file_size), load.rate_unit,
                                                 effect(m.rate / ref.rate, ref.spread), load.latency_name,
                                                 effect(m.latency / ref.latency, ref.latency_spread)))
        parts.append("%s: %s" % (setting.label, "; ".join(effects)))
    text = "**%s** (%s). Reference: %s; its two runs lay apart by %s. %s." % (
        knob.name, knob.switch, knob.reference.label, ref_spreads, ". ".join(parts))
    if knob.name == "Chunk size":
        text += " " + chunk_conclusion(knob, runs)
    elif knob.name == "Memory quota":
        text += " " + cost_conclusion(knob, runs, "the quota", "no quota", invert=True)
    elif knob.name == "Per-call access log":
        text += " " + cost_conclusion(knob, runs, "a log line per call", "none", invert=False)
    return text


def changed(ratio, spread):
    return abs(ratio - 1) > max(MIN_EFFECT, spread)


def cost_conclusion(knob, runs, what, without, invert):
    """What `what` costs: the reference has it and the variant not (invert) or the other way."""
    setting = knob.variants[0]
    costs = []
    widest = 0.0
    for i, load in enumerate(knob.loads):
        m, ref = runs[(setting.label, i)], runs[(knob.reference.label, i)]
        widest = max(widest, MIN_EFFECT, ref.spread, ref.latency_spread)
        with_it, without_it = (ref, m) if invert else (m, ref)
        r = with_it.rate / without_it.rate
        if changed(r, ref.spread):
            costs.append("%s %.0f %% of the %s at %s (%s against %s)" % (
                "costs" if r < 1 else "gains", abs(1 - r) * 100, load.rate_unit, load.name(knob.file_size),
                fmt(with_it.rate), fmt(without_it.rate)))
        r = with_it.latency / without_it.latency
        if changed(r, ref.latency_spread):
            costs.append("makes the %s at %s %.0f %% %s (%s against %s ms)" % (
                load.latency_name, load.name(knob.file_size), abs(1 - r) * 100,
                ("later" if r > 1 else "earlier") if load.kind == "stream" else ("longer" if r > 1 else "shorter"),
                fmt(with_it.latency), fmt(without_it.latency)))
    if not costs:
        return ("So %s, against %s, changed nothing past the noise, which in this run was up to %.0f %%."
                % (what, without, widest * 100))
    return "So %s, against %s, %s." % (what, without, "; ".join(costs))


def chunk_conclusion(knob, runs):
    """Where raising the chunk size pays: per stream count, the best chunk and how much it buys."""
    parts = []
    ref_chunk = knob.reference
    for i, load in enumerate(knob.loads):
        by_chunk = [(s, runs[(s.label, i)]) for s in knob.order]
        ref = runs[(ref_chunk.label, i)]
        best_s, best = max(by_chunk, key=lambda sm: sm[1].rate)
        enough = next(s for s, m in by_chunk if m.rate >= 0.9 * best.rate)
        if not changed(best.rate / ref.rate, ref.spread):
            parts.append("with %s no chunk size beats the default past the noise (best %s at %s)"
                         % (load.name(knob.file_size), fmt(best.rate), best_s.label))
            continue
        parts.append(
            "with %s, %s chunks stream %s× the default's MB/s (%s against %s MB/s; the last byte after %s "
            "instead of %s ms; peak RSS %s against %s MiB)%s" % (
                load.name(knob.file_size), best_s.label.replace(" (default)", ""), fmt(best.rate / ref.rate),
                fmt(best.rate), fmt(ref.rate), fmt(best.latency), fmt(ref.latency), fmt(best.rss_kib / 1024),
                fmt(ref.rss_kib / 1024),
                "" if enough is best_s else ", and %s chunks already reach 90 %% of that" % (
                    enough.label.replace(" (default)", ""))))
    return "Raising it: %s." % "; ".join(parts)

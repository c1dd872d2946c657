"""What the report says besides the numbers: the machine, the versions, and Markdown tables."""

import os
import platform
import re
import subprocess

import grpc


def _out(argv, cwd=None):
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=30, cwd=cwd).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return ""


def machine():
    model = "unknown CPU"
    with open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    memory = ""
    with open("/proc/meminfo") as meminfo:
        for line in meminfo:
            if line.startswith("MemTotal:"):
                memory = "%.0f GiB RAM" % (int(line.split()[1]) / 1024 / 1024)
    return "%s, %d cores, %s, Linux %s (%s)" % (model, os.cpu_count(), memory, platform.release(), platform.machine())


def load_average():
    """The 1-minute load average: how busy the shared machine was besides the run."""
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def _lock_version(lock_path, crate):
    try:
        with open(lock_path) as f:
            text = f.read()
    except OSError:
        return None
    match = re.search(r'^name = "%s"\nversion = "([^"]+)"' % re.escape(crate), text, re.M)
    return match.group(1) if match else None


def versions(root, tonic_dir):
    """(name, version) pairs of everything whose version bears on the numbers."""
    lock = os.path.join(root, "Cargo.lock")
    sys_version = _lock_version(lock, "grpcio-sys") or "?"
    core = re.search(r"\+(\d+\.\d+\.\d+)", sys_version)
    debian_grpc = _out(["dpkg-query", "-W", "-f", "${Version}", "libgrpc++-dev"])
    pkg_grpc = _out(["pkg-config", "--modversion", "grpc++"])
    import matplotlib
    import pandas

    return [
        ("idc", "%s (commit %s%s)" % (
            _lock_version(lock, "idc") or "?",
            _out(["git", "rev-parse", "--short", "HEAD"], cwd=root) or "?",
            # Only what idc_server is built from: other work in the tree does not change the numbers.
            ", with uncommitted changes to the server" if _out(
                ["git", "status", "--porcelain", "--", "src", "bin", "build.rs", "Cargo.toml", "Cargo.lock", "protos"],
                cwd=root) else "",
        )),
        ("rustc", _out(["rustc", "--version"]) or "?"),
        ("grpcio crate (idc)", "%s, grpcio-sys %s: gRPC C-core %s" % (
            _lock_version(lock, "grpcio") or "?", sys_version, core.group(1) if core else "?")),
        ("Python grpcio (reference servers)", "%s, Python %s" % (grpc.__version__, platform.python_version())),
        ("pandas, matplotlib (data server)", "%s, %s" % (pandas.__version__, matplotlib.__version__)),
        ("Debian grpc++ (C++ peer)", "%s (libgrpc++-dev %s)" % (pkg_grpc or "?", debian_grpc or "?")),
        ("tonic (tonic peer)", _lock_version(os.path.join(tonic_dir, "Cargo.lock"), "tonic") or "?"),
        ("h2load", _out(["h2load", "--version"]) or "?"),
    ]  # fmt: skip


def table(header, rows):
    """A Markdown table; numbers are already formatted strings."""
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def fmt(value, digits=None):
    """A number for a table: three significant figures-ish, '—' when missing."""
    if value is None:
        return "—"
    if isinstance(value, int):
        return "{:,}".format(value)
    if value != value:  # NaN
        return "—"
    if digits is None:
        digits = 0 if abs(value) >= 100 else 1 if abs(value) >= 10 else 2 if abs(value) >= 1 else 3
    return "{:,.{}f}".format(value, digits)


def ratio(a, b):
    if a is None or b is None or b == 0:
        return "—"
    return "%s×" % fmt(a / b)

"""Generate the Python gRPC stubs for the idc protos at test time.

The Python peers (idc_server.py, idc_client.py, ...) import `indicator_pb2`,
`indicator_pb2_grpc`, `indicator_graph_pb2` and `indicator_graph_pb2_grpc`.
Those modules are never committed: `ensure_stubs()` runs `grpc_tools.protoc`
on `../../protos/*.proto` (relative to this file) and puts the output
directory on `sys.path`.

Output directory: `$IDC_PY_STUBS_DIR` if set, else a fresh temporary
directory that is removed when the process exits. Each process always runs
protoc into its own private temporary directory, so concurrent processes
never see half-written files; with `$IDC_PY_STUBS_DIR` the finished files are
then moved into place one by one with an atomic `os.replace`.
"""

import atexit
import os
import shutil
import sys
import tempfile

PROTO_DIR = os.path.normpath(
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "protos")
)
PROTOS = ("indicator.proto", "indicator_graph.proto")

_stubs_dir = None


def _run_protoc(out_dir):
    from grpc_tools import protoc

    # grpc_tools ships the well-known types; keep them on the include path.
    well_known = os.path.join(os.path.dirname(protoc.__file__), "_proto")
    args = [
        "grpc_tools.protoc",
        "-I" + PROTO_DIR,
        "-I" + well_known,
        "--python_out=" + out_dir,
        "--grpc_python_out=" + out_dir,
    ] + [os.path.join(PROTO_DIR, name) for name in PROTOS]
    if protoc.main(args) != 0:
        raise RuntimeError("grpc_tools.protoc failed on %s" % PROTO_DIR)


def ensure_stubs():
    """Generate the stubs (once per process), add their directory to sys.path,
    and return that directory."""
    global _stubs_dir
    if _stubs_dir is not None:
        return _stubs_dir

    wanted = os.environ.get("IDC_PY_STUBS_DIR")
    if wanted:
        os.makedirs(wanted, exist_ok=True)
        private = tempfile.mkdtemp(prefix=".idc-stubs-", dir=wanted)
        try:
            _run_protoc(private)
            for name in sorted(os.listdir(private)):
                if name.endswith(".py"):
                    os.replace(os.path.join(private, name), os.path.join(wanted, name))
        finally:
            shutil.rmtree(private, ignore_errors=True)
        out_dir = wanted
    else:
        out_dir = tempfile.mkdtemp(prefix="idc-py-stubs-")
        atexit.register(shutil.rmtree, out_dir, True)
        _run_protoc(out_dir)

    if out_dir not in sys.path:
        sys.path.insert(0, out_dir)
    _stubs_dir = out_dir
    return out_dir

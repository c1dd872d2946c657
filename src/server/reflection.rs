//! Server reflection (`grpc.reflection.v1.ServerReflection` and its `v1alpha` twin), so that
//! `grpcurl`, `evans` and Postman can list, describe and call our services without the `.proto`
//! files. No grpcio-based server has it built in (grpc-rs issue #162), so it is written here.
//!
//! The descriptors come from the generated code: rust-protobuf embeds each `.proto`'s
//! `FileDescriptorProto`, so what reflection serves is exactly what was compiled in. The two
//! versions of the protocol are the same messages under two package names (identical field
//! numbers and types), so one handler on the `v1` types serves both method paths.

use std::collections::HashMap;
use std::sync::Arc;

use futures::{SinkExt, TryStreamExt};
use grpcio::{
    DuplexSink, Marshaller, Method, MethodType, RequestStream, RpcContext, RpcStatusCode, ServiceBuilder, WriteFlags,
};
use protobuf::descriptor::{DescriptorProto, FileDescriptorProto};
use protobuf::Message;

use crate::metrics::Metrics;
use crate::protocol::reflection_v1::reflection::server_reflection_request::Message_request as Request;
use crate::protocol::reflection_v1::reflection::server_reflection_response::Message_response as Response;
use crate::protocol::reflection_v1::reflection::{
    ErrorResponse, FileDescriptorResponse, ListServiceResponse, ServerReflectionRequest, ServerReflectionResponse,
    ServiceResponse,
};
use crate::protocol::reflection_v1::reflection_grpc::METHOD_SERVER_REFLECTION_SERVER_REFLECTION_INFO as V1_INFO;
use crate::protocol::{health, indicator, indicator_graph, reflection_v1, reflection_v1alpha};

/// The same method under the `v1alpha` path, with the `v1` types (wire-identical).
const V1ALPHA_INFO: Method<ServerReflectionRequest, ServerReflectionResponse> = Method {
    ty: MethodType::Duplex,
    name: "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
    req_mar: Marshaller { ser: grpcio::pb_ser, de: grpcio::pb_de },
    resp_mar: Marshaller { ser: grpcio::pb_ser, de: grpcio::pb_de },
};

/// The files reflection knows, their serialized descriptors, and which file defines each symbol.
struct Catalog {
    /// Service names, for `list_services`.
    services: Vec<String>,
    /// File name -> (serialized `FileDescriptorProto`, the files it imports).
    files: HashMap<String, (Vec<u8>, Vec<String>)>,
    /// Fully qualified symbol (message, enum, service, method, field) -> file name.
    symbols: HashMap<String, String>,
}

impl Catalog {
    fn new() -> Catalog {
        let protos: [&FileDescriptorProto; 5] = [
            indicator::file_descriptor().proto(),
            indicator_graph::file_descriptor().proto(),
            health::file_descriptor().proto(),
            reflection_v1::reflection::file_descriptor().proto(),
            reflection_v1alpha::reflection::file_descriptor().proto(),
        ];
        let mut catalog = Catalog { services: Vec::new(), files: HashMap::new(), symbols: HashMap::new() };
        for proto in protos {
            let package = proto.package();
            let qualify = |name: &str| if package.is_empty() { name.to_string() } else { format!("{package}.{name}") };
            let file = proto.name().to_string();
            for service in &proto.service {
                let service_name = qualify(service.name());
                for method in &service.method {
                    catalog.symbols.insert(format!("{service_name}.{}", method.name()), file.clone());
                }
                catalog.symbols.insert(service_name.clone(), file.clone());
                catalog.services.push(service_name);
            }
            for message in &proto.message_type {
                catalog.add_message(&qualify(message.name()), message, &file);
            }
            for e in &proto.enum_type {
                catalog.symbols.insert(qualify(e.name()), file.clone());
            }
            let bytes = proto.write_to_bytes().expect("a compiled-in descriptor serializes");
            catalog.files.insert(file, (bytes, proto.dependency.clone()));
        }
        catalog.services.sort();
        catalog
    }

    fn add_message(&mut self, full_name: &str, message: &DescriptorProto, file: &str) {
        self.symbols.insert(full_name.to_string(), file.to_string());
        for field in &message.field {
            self.symbols.insert(format!("{full_name}.{}", field.name()), file.to_string());
        }
        for nested in &message.nested_type {
            self.add_message(&format!("{full_name}.{}", nested.name()), nested, file);
        }
        for e in &message.enum_type {
            self.symbols.insert(format!("{full_name}.{}", e.name()), file.to_string());
        }
    }

    /// `file` and every file it imports, each once, `file` first.
    fn with_dependencies(&self, file: &str) -> Option<Vec<Vec<u8>>> {
        let mut order = vec![file.to_string()];
        let mut i = 0;
        while i < order.len() {
            let (_, imports) = self.files.get(&order[i])?;
            for import in imports {
                if !order.contains(import) {
                    order.push(import.clone());
                }
            }
            i += 1;
        }
        // Imports that are not compiled in (none today) are left for the client to ask about.
        Some(order.iter().filter_map(|name| self.files.get(name).map(|(bytes, _)| bytes.clone())).collect())
    }

    fn answer(&self, request: &ServerReflectionRequest) -> Response {
        let not_found = |what: String| {
            let mut error = ErrorResponse::new();
            error.error_code = RpcStatusCode::NOT_FOUND.into();
            error.error_message = what;
            Response::ErrorResponse(error)
        };
        let files = |names: Option<Vec<Vec<u8>>>, what: String| match names {
            Some(files) => {
                let mut response = FileDescriptorResponse::new();
                response.file_descriptor_proto = files;
                Response::FileDescriptorResponse(response)
            }
            None => not_found(what),
        };
        match &request.message_request {
            Some(Request::ListServices(_)) => {
                let mut list = ListServiceResponse::new();
                list.service = self
                    .services
                    .iter()
                    .map(|name| {
                        let mut service = ServiceResponse::new();
                        service.name = name.clone();
                        service
                    })
                    .collect();
                Response::ListServicesResponse(list)
            }
            Some(Request::FileByFilename(name)) => {
                files(self.with_dependencies(name), format!("no file {name:?} on this server"))
            }
            Some(Request::FileContainingSymbol(symbol)) => {
                let found =
                    self.symbols.get(symbol.trim_start_matches('.')).and_then(|file| self.with_dependencies(file));
                files(found, format!("no symbol {symbol:?} on this server"))
            }
            Some(Request::FileContainingExtension(request)) => not_found(format!(
                "no extension {} of {:?}: these protos define none",
                request.extension_number, request.containing_type
            )),
            Some(Request::AllExtensionNumbersOfType(name)) => {
                not_found(format!("no extensions of {name:?}: these protos define none"))
            }
            None => {
                let mut error = ErrorResponse::new();
                error.error_code = RpcStatusCode::INVALID_ARGUMENT.into();
                error.error_message = "the request asks for nothing: set one of its message_request fields".into();
                Response::ErrorResponse(error)
            }
        }
    }
}

/// Both reflection services, ready to register with a server.
pub fn services(metrics: Arc<Metrics>) -> Vec<grpcio::Service> {
    let catalog = Arc::new(Catalog::new());
    let mut services = Vec::new();
    for method in [&V1_INFO, &V1ALPHA_INFO] {
        let (catalog, metrics) = (Arc::clone(&catalog), Arc::clone(&metrics));
        let service = ServiceBuilder::new()
            .add_duplex_streaming_handler(method, move |ctx, requests, sink| {
                serve(&ctx, Arc::clone(&catalog), &metrics, requests, sink)
            })
            .build();
        services.push(service);
    }
    services
}

/// Answers each request of the stream in turn, until the client closes it.
fn serve(
    ctx: &RpcContext,
    catalog: Arc<Catalog>,
    metrics: &Arc<Metrics>,
    mut requests: RequestStream<ServerReflectionRequest>,
    mut sink: DuplexSink<ServerReflectionResponse>,
) {
    let mut record = metrics.call("ServerReflectionInfo", || ctx.peer());
    let host = String::from_utf8_lossy(ctx.host()).into_owned();
    ctx.spawn(async move {
        let ended = async {
            while let Some(request) = requests.try_next().await? {
                let mut response = ServerReflectionResponse::new();
                response.valid_host = host.clone();
                response.message_response = Some(catalog.answer(&request));
                response.original_request = protobuf::MessageField::some(request);
                record.sent(response.compute_size() as usize);
                sink.send((response, WriteFlags::default())).await?;
            }
            sink.close().await
        };
        match ended.await {
            Ok(()) => record.finish(RpcStatusCode::OK),
            Err(e) => {
                log::debug!("ServerReflectionInfo ended early: {e}");
                record.finish(RpcStatusCode::CANCELLED);
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_symbol_of_our_protos_leads_to_its_file() {
        let catalog = Catalog::new();
        assert_eq!(
            catalog.services,
            [
                "grpc.health.v1.Health",
                "grpc.reflection.v1.ServerReflection",
                "grpc.reflection.v1alpha.ServerReflection",
                "idc.Indicator",
                "idc.IndicatorGraph"
            ]
        );
        for (symbol, file) in [
            ("idc.Indicator", "indicator.proto"),
            ("idc.Indicator.GetMACD", "indicator.proto"),
            ("idc.MACDData", "indicator.proto"),
            (".idc.MACDGraphReply", "indicator_graph.proto"),
            ("grpc.health.v1.HealthCheckResponse.ServingStatus", "grpc/health/v1/health.proto"),
        ] {
            let mut request = ServerReflectionRequest::new();
            request.message_request = Some(Request::FileContainingSymbol(symbol.into()));
            let Response::FileDescriptorResponse(found) = catalog.answer(&request) else { panic!("{symbol}") };
            let proto = FileDescriptorProto::parse_from_bytes(&found.file_descriptor_proto[0]).unwrap();
            assert_eq!(proto.name(), file, "{symbol}");
        }
        let mut request = ServerReflectionRequest::new();
        request.message_request = Some(Request::FileContainingSymbol("idc.Nothing".into()));
        assert!(matches!(catalog.answer(&request), Response::ErrorResponse(e) if e.error_code == 5));
    }
}

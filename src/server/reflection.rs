//! Server reflection (`grpc.reflection.v1.ServerReflection` and its `v1alpha` twin), so that
//! `grpcurl`, `evans` and Postman can list, describe and call our services without the `.proto`
//! files. No grpcio-based server has it built in (grpc-rs issue #162), so it is written here.
//!
//! The descriptors come from the generated code: rust-protobuf embeds each `.proto`'s
//! `FileDescriptorProto`, so what reflection serves is exactly what was compiled in. The two
//! versions of the protocol are the same messages under two package names (identical field
//! numbers and types), so one handler on the `v1` types serves both method paths.
//!
//! On a server with a token, a reflection call without one is let through by the auth checker
//! ([`crate::auth`]) and answered here only for the health service's own file: its symbols and
//! the file by name. That is all `grpcurl … grpc.health.v1.Health/Check` asks for before it calls
//! health, which needs no token. Any other request on such a call (listing the services, any
//! other symbol or file) ends the call with UNAUTHENTICATED, as the checker would have.

use std::collections::HashMap;
use std::sync::Arc;

use futures::{SinkExt, TryStreamExt};
use grpcio::{
    DuplexSink, Marshaller, Method, MethodType, RequestStream, RpcContext, RpcStatus, RpcStatusCode, ServiceBuilder,
    WriteFlags,
};
use protobuf::descriptor::{DescriptorProto, FileDescriptorProto};
use protobuf::Message;

use crate::auth::{Token, TOKEN_REQUIRED};
use crate::metrics::Metrics;
use crate::protocol::reflection_v1::reflection::server_reflection_request::Message_request as Request;
use crate::protocol::reflection_v1::reflection::server_reflection_response::Message_response as Response;
use crate::protocol::reflection_v1::reflection::{
    ErrorResponse, FileDescriptorResponse, ListServiceResponse, ServerReflectionRequest, ServerReflectionResponse,
    ServiceResponse,
};
use crate::protocol::reflection_v1::reflection_grpc::METHOD_SERVER_REFLECTION_SERVER_REFLECTION_INFO as V1_INFO;
use crate::protocol::{health, indicator, indicator_graph, indicators, reflection_v1, reflection_v1alpha};

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
    /// The health service's file and the files it imports: what a call without the token may
    /// ask for.
    open_files: Vec<String>,
}

impl Catalog {
    fn new() -> Catalog {
        let protos: [&FileDescriptorProto; 6] = [
            indicator::file_descriptor().proto(),
            indicator_graph::file_descriptor().proto(),
            indicators::file_descriptor().proto(),
            health::file_descriptor().proto(),
            reflection_v1::reflection::file_descriptor().proto(),
            reflection_v1alpha::reflection::file_descriptor().proto(),
        ];
        let mut catalog =
            Catalog { services: Vec::new(), files: HashMap::new(), symbols: HashMap::new(), open_files: Vec::new() };
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
        catalog.open_files = catalog.file_names(health::file_descriptor().proto().name()).unwrap_or_default();
        catalog
    }

    /// Whether a call without the token may have `request` answered: only when it asks for the
    /// health service's file, by a symbol in it or by its name.
    fn answers_without_token(&self, request: &ServerReflectionRequest) -> bool {
        let file = match &request.message_request {
            Some(Request::FileByFilename(name)) => Some(name),
            Some(Request::FileContainingSymbol(symbol)) => self.symbols.get(symbol.trim_start_matches('.')),
            _ => None,
        };
        file.is_some_and(|file| self.open_files.contains(file))
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

    /// `file` and every file it imports, each once, `file` first: their descriptors.
    fn with_dependencies(&self, file: &str) -> Option<Vec<Vec<u8>>> {
        let order = self.file_names(file)?;
        // Imports that are not compiled in (none today) are left for the client to ask about.
        Some(order.iter().filter_map(|name| self.files.get(name).map(|(bytes, _)| bytes.clone())).collect())
    }

    /// `file` and every file it imports, each once, `file` first: their names.
    fn file_names(&self, file: &str) -> Option<Vec<String>> {
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
        Some(order)
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

/// Both reflection services, ready to register with a server. With `token` (the server's), a
/// call that does not carry it is answered only for the health service's file.
pub fn services(metrics: Arc<Metrics>, token: Option<Token>) -> Vec<grpcio::Service> {
    let catalog = Arc::new(Catalog::new());
    let mut services = Vec::new();
    for method in [&V1_INFO, &V1ALPHA_INFO] {
        let (catalog, metrics, token) = (Arc::clone(&catalog), Arc::clone(&metrics), token.clone());
        let service = ServiceBuilder::new()
            .add_duplex_streaming_handler(method, move |ctx, requests, sink| {
                let with_token = token.as_ref().is_none_or(|token| token.is_carried_by(ctx.request_headers()));
                serve(&ctx, Arc::clone(&catalog), &metrics, with_token, requests, sink)
            })
            .build();
        services.push(service);
    }
    services
}

/// Answers each request of the stream in turn, until the client closes it. Without the token
/// (`with_token` false), the first request for more than health's file ends the call with
/// UNAUTHENTICATED.
fn serve(
    ctx: &RpcContext,
    catalog: Arc<Catalog>,
    metrics: &Arc<Metrics>,
    with_token: bool,
    mut requests: RequestStream<ServerReflectionRequest>,
    mut sink: DuplexSink<ServerReflectionResponse>,
) {
    let mut record = metrics.call("ServerReflectionInfo", || ctx.peer());
    let host = String::from_utf8_lossy(ctx.host()).into_owned();
    let peer = ctx.peer();
    ctx.spawn(async move {
        let ended = async {
            while let Some(request) = requests.try_next().await? {
                if !with_token && !catalog.answers_without_token(&request) {
                    log::info!("ServerReflectionInfo from {peer}: refused, {TOKEN_REQUIRED}");
                    sink.fail(RpcStatus::with_message(RpcStatusCode::UNAUTHENTICATED, TOKEN_REQUIRED.into())).await?;
                    return Ok(RpcStatusCode::UNAUTHENTICATED);
                }
                let mut response = ServerReflectionResponse::new();
                response.valid_host = host.clone();
                response.message_response = Some(catalog.answer(&request));
                response.original_request = protobuf::MessageField::some(request);
                record.sent(response.compute_size() as usize);
                sink.send((response, WriteFlags::default())).await?;
            }
            sink.close().await.map(|()| RpcStatusCode::OK)
        };
        match ended.await {
            Ok(code) => record.finish(code),
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
                "idc.IndicatorGraph",
                "idc.v2.Indicators"
            ]
        );
        for (symbol, file) in [
            ("idc.Indicator", "indicator.proto"),
            ("idc.Indicator.GetMACD", "indicator.proto"),
            ("idc.MACDData", "indicator.proto"),
            (".idc.MACDGraphReply", "indicator_graph.proto"),
            ("idc.v2.Indicators.Compute", "idc/v2/indicators.proto"),
            ("idc.v2.Update", "idc/v2/indicators.proto"),
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

    #[test]
    fn without_the_token_only_the_health_file_is_answered() {
        let catalog = Catalog::new();
        let asks = |request: Request| {
            let mut message = ServerReflectionRequest::new();
            message.message_request = Some(request);
            catalog.answers_without_token(&message)
        };
        for symbol in ["grpc.health.v1.Health", ".grpc.health.v1.Health.Check", "grpc.health.v1.HealthCheckRequest"] {
            assert!(asks(Request::FileContainingSymbol(symbol.into())), "{symbol}");
        }
        assert!(asks(Request::FileByFilename("grpc/health/v1/health.proto".into())));
        for symbol in ["idc.Indicator", "idc.MACDData", "grpc.reflection.v1.ServerReflection", "idc.Nothing"] {
            assert!(!asks(Request::FileContainingSymbol(symbol.into())), "{symbol}");
        }
        assert!(!asks(Request::FileByFilename("indicator.proto".into())));
        assert!(!asks(Request::ListServices(String::new())));
    }
}

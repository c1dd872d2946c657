//! Tuning: knobs for measuring and tuning gRPC itself (BENCHMARKS.md's tuning section), which a
//! deployment seldom needs.

/// The transport's knobs.
#[derive(Debug, Clone, PartialEq, Eq, clap::Args)]
#[command(next_help_heading = "Tuning")]
pub struct Tuning {
    /// Whether a graph stream asks gRPC to coalesce its messages into fewer writes (grpcio's
    /// `enhance_batch`); measured in BENCHMARKS.md's tuning section.
    #[arg(long = "no-write-batching", action = clap::ArgAction::SetFalse,
          help = "Send each graph chunk as its own write instead of letting gRPC coalesce them (slower; for \
                  measurement: see BENCHMARKS.md, \"Tuning\")")]
    pub write_batching: bool,

    /// Raw C-core channel arguments (`grpc.http2.write_buffer_size` and the like), for tuning;
    /// applied after idc's own, so they win.
    #[arg(
        long = "grpc-arg",
        value_name = "NAME=VALUE",
        help = "A raw gRPC C-core channel argument, NAME=VALUE (repeatable), e.g. \
                  grpc.http2.write_buffer_size=262144 or grpc.http2.bdp_probe=0; for tuning, applied last."
    )]
    pub grpc_args: Vec<GrpcArg>,
}

impl Default for Tuning {
    fn default() -> Self {
        super::defaults()
    }
}

impl Tuning {
    /// An argument built in code is held to what `--grpc-arg` accepts: the server passes the
    /// names and texts to C-core as C strings.
    pub(super) fn validate(&self) -> Result<(), super::ConfigError> {
        let refused = |message| super::ConfigError::Setting { flag: "grpc-arg", message };
        for arg in &self.grpc_args {
            let parsed: GrpcArg = arg.to_string().parse().map_err(refused)?;
            if parsed.name != arg.name {
                return Err(refused(format!("{:?} is not a gRPC channel argument name (it holds '=')", arg.name)));
            }
        }
        Ok(())
    }
}

/// One `--grpc-arg NAME=VALUE`: an integer value is passed as one, anything else as a string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrpcArg {
    pub name: String,
    pub value: GrpcArgValue,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GrpcArgValue {
    Int(i32),
    Text(String),
}

impl std::str::FromStr for GrpcArg {
    type Err = String;

    fn from_str(text: &str) -> Result<GrpcArg, String> {
        let (name, value) = text
            .split_once('=')
            .ok_or_else(|| format!("{text:?} is not NAME=VALUE, as in grpc.http2.write_buffer_size=262144"))?;
        if !name.starts_with("grpc.") || name.contains('\0') || value.contains('\0') {
            return Err(format!("{name:?} is not a gRPC channel argument name (they start with \"grpc.\")"));
        }
        let value = value.parse().map(GrpcArgValue::Int).unwrap_or_else(|_| GrpcArgValue::Text(value.to_string()));
        Ok(GrpcArg { name: name.to_string(), value })
    }
}

impl std::fmt::Display for GrpcArg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.value {
            GrpcArgValue::Int(v) => write!(f, "{}={v}", self.name),
            GrpcArgValue::Text(v) => write!(f, "{}={v}", self.name),
        }
    }
}

/// `write-batching true grpc-args [grpc.http2.bdp_probe=0]`, for the start-up log line.
impl std::fmt::Display for Tuning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let args: Vec<String> = self.grpc_args.iter().map(ToString::to_string).collect();
        write!(f, "write-batching {} grpc-args [{}]", self.write_batching, args.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_args_parse_integers_and_strings_and_refuse_other_names() {
        let int: GrpcArg = "grpc.http2.bdp_probe=0".parse().unwrap();
        assert_eq!(int, GrpcArg { name: "grpc.http2.bdp_probe".into(), value: GrpcArgValue::Int(0) });
        let text: GrpcArg = "grpc.primary_user_agent=idc bench".parse().unwrap();
        assert_eq!(text.value, GrpcArgValue::Text("idc bench".into()));
        assert_eq!(text.to_string(), "grpc.primary_user_agent=idc bench");
        assert!("grpc.http2.bdp_probe".parse::<GrpcArg>().unwrap_err().contains("NAME=VALUE"));
        assert!("http2.bdp_probe=0".parse::<GrpcArg>().unwrap_err().contains("start with"));
    }
}

// Command idc_go_client is a Go gRPC peer for idc's interop tests: it calls
// idc.Indicator/GetMACD, idc.IndicatorGraph/GetMACDGraph or
// grpc.health.v1.Health/Check once, with optional TLS, mTLS and a bearer
// token, and prints the result in a form the tests can compare.
//
// It is built against Debian's grpc-go 1.33 (see ../build.sh), hence
// grpc.WithInsecure instead of credentials/insecure, which 1.33 lacks.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"idc/idcpb" // generated from protos/ by build.sh
)

const prog = "idc_go_client"

type options struct {
	target, call             string
	startDate, endDate       string
	out, service             string
	timeout                  float64
	tlsCA, tlsCert, tlsKey   string
	tlsServerName, tokenFile string
}

func main() {
	var o options
	flag.StringVar(&o.target, "target", "localhost:50051", "server address HOST:PORT")
	flag.StringVar(&o.call, "call", "", "call to make: macd, graph or health (required)")
	flag.StringVar(&o.startDate, "start-date", "2023-01-01", "request start_date")
	flag.StringVar(&o.endDate, "end-date", "2023-12-31", "request end_date")
	flag.StringVar(&o.out, "out", "", "macd: write the serialized reply here; graph: write the PNG here")
	flag.StringVar(&o.service, "service", "", "service name for the health check")
	flag.Float64Var(&o.timeout, "timeout", 10, "deadline of the call, in seconds")
	flag.StringVar(&o.tlsCA, "tls-ca", "", "PEM file of root certificates; turns TLS on")
	flag.StringVar(&o.tlsCert, "tls-cert", "", "PEM client certificate (mTLS, needs -tls-key)")
	flag.StringVar(&o.tlsKey, "tls-key", "", "PEM client private key (mTLS, needs -tls-cert)")
	flag.StringVar(&o.tlsServerName, "tls-server-name", "", "name to check in the server certificate")
	flag.StringVar(&o.tokenFile, "auth-token-file", "", "file holding a token sent as 'authorization: Bearer <token>'")
	flag.Parse() // exits 2 on a bad flag

	switch {
	case flag.NArg() > 0:
		usage("unexpected argument %q", flag.Arg(0))
	case o.call != "macd" && o.call != "graph" && o.call != "health":
		usage("-call must be macd, graph or health")
	case !(o.timeout > 0) || math.IsInf(o.timeout, 0):
		usage("-timeout must be a positive number of seconds")
	case (o.tlsCert == "") != (o.tlsKey == ""):
		usage("-tls-cert and -tls-key go together")
	case o.tlsCA == "" && (o.tlsCert != "" || o.tlsServerName != ""):
		usage("-tls-cert, -tls-key and -tls-server-name need -tls-ca")
	}

	if err := run(&o); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", prog, err)
		os.Exit(1)
	}
}

func usage(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "%s: %s\n", prog, fmt.Sprintf(format, args...))
	flag.Usage()
	os.Exit(2)
}

// codeNames are the canonical status code names, as other gRPC peers print
// them (Python's StatusCode.name, for one). Go's Code.String() gives
// "DeadlineExceeded", and spells CANCELLED "Canceled".
var codeNames = map[codes.Code]string{
	codes.OK:                 "OK",
	codes.Canceled:           "CANCELLED",
	codes.Unknown:            "UNKNOWN",
	codes.InvalidArgument:    "INVALID_ARGUMENT",
	codes.DeadlineExceeded:   "DEADLINE_EXCEEDED",
	codes.NotFound:           "NOT_FOUND",
	codes.AlreadyExists:      "ALREADY_EXISTS",
	codes.PermissionDenied:   "PERMISSION_DENIED",
	codes.ResourceExhausted:  "RESOURCE_EXHAUSTED",
	codes.FailedPrecondition: "FAILED_PRECONDITION",
	codes.Aborted:            "ABORTED",
	codes.OutOfRange:         "OUT_OF_RANGE",
	codes.Unimplemented:      "UNIMPLEMENTED",
	codes.Internal:           "INTERNAL",
	codes.Unavailable:        "UNAVAILABLE",
	codes.DataLoss:           "DATA_LOSS",
	codes.Unauthenticated:    "UNAUTHENTICATED",
}

// rpcError formats a failed call as "<Method> failed: <CODE_NAME>: <message>".
func rpcError(method string, err error) error {
	st := status.Convert(err)
	name, ok := codeNames[st.Code()]
	if !ok {
		name = st.Code().String() // "Code(N)"
	}
	return fmt.Errorf("%s failed: %s: %s", method, name, st.Message())
}

func run(o *options) error {
	transport, err := transportOption(o)
	if err != nil {
		return err
	}
	// Dial does not block: connection and handshake errors surface as the
	// call's status (UNAVAILABLE), reported like any other RPC error.
	conn, err := grpc.Dial(o.target, transport)
	if err != nil {
		return err
	}
	defer conn.Close()

	ctx, cancel := context.WithTimeout(context.Background(),
		time.Duration(o.timeout*float64(time.Second)))
	defer cancel()
	if o.tokenFile != "" {
		token, err := os.ReadFile(o.tokenFile)
		if err != nil {
			return err
		}
		// Plain metadata rather than PerRPCCredentials: the latter would
		// refuse to send the token over a connection without TLS.
		ctx = metadata.AppendToOutgoingContext(ctx, "authorization",
			"Bearer "+strings.TrimRight(string(token), " \t\r\n"))
	}

	switch o.call {
	case "macd":
		return callMACD(ctx, conn, o)
	case "graph":
		return callGraph(ctx, conn, o)
	default:
		return callHealth(ctx, conn, o)
	}
}

func transportOption(o *options) (grpc.DialOption, error) {
	if o.tlsCA == "" {
		return grpc.WithInsecure(), nil
	}
	pem, err := os.ReadFile(o.tlsCA)
	if err != nil {
		return nil, err
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s: no PEM certificate found", o.tlsCA)
	}
	// An empty ServerName makes grpc check the host part of -target.
	cfg := &tls.Config{RootCAs: roots, ServerName: o.tlsServerName}
	if o.tlsCert != "" {
		cert, err := tls.LoadX509KeyPair(o.tlsCert, o.tlsKey)
		if err != nil {
			return nil, err
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return grpc.WithTransportCredentials(credentials.NewTLS(cfg)), nil
}

func callMACD(ctx context.Context, conn *grpc.ClientConn, o *options) error {
	reply, err := idcpb.NewIndicatorClient(conn).GetMACD(ctx,
		&idcpb.MACDRequest{StartDate: o.startDate, EndDate: o.endDate})
	if err != nil {
		return rpcError("GetMACD", err)
	}
	if o.out != "" {
		// Deterministic, so that the bytes can be compared with another
		// peer's serialization of the same reply.
		b, err := proto.MarshalOptions{Deterministic: true}.Marshal(reply)
		if err != nil {
			return err
		}
		if err := os.WriteFile(o.out, b, 0o644); err != nil {
			return err
		}
	}
	fmt.Printf("rows: %d\n", len(reply.Macd))
	for _, r := range reply.Macd {
		fmt.Printf("%s %v %v %v %v %v\n", r.Date, r.Open, r.Close, r.High, r.Low, r.Macd)
	}
	return nil
}

func callGraph(ctx context.Context, conn *grpc.ClientConn, o *options) (err error) {
	stream, err := idcpb.NewIndicatorGraphClient(conn).GetMACDGraph(ctx,
		&idcpb.MACDGraphRequest{StartDate: o.startDate, EndDate: o.endDate})
	if err != nil {
		return rpcError("GetMACDGraph", err)
	}
	// Chunks go to OUT.tmp, renamed to OUT only once the stream ended with
	// OK, so that OUT never holds a truncated picture.
	var f *os.File
	if o.out != "" {
		tmp := o.out + ".tmp"
		if f, err = os.Create(tmp); err != nil {
			return err
		}
		defer func() {
			if f != nil { // not renamed: drop the partial file
				f.Close()
				os.Remove(tmp)
			}
		}()
	}
	total := 0
	for {
		msg, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return rpcError("GetMACDGraph", err)
		}
		total += len(msg.MacdChunk)
		if f != nil {
			if _, err := f.Write(msg.MacdChunk); err != nil {
				return err
			}
		}
	}
	if f != nil {
		if err := f.Close(); err != nil {
			return err
		}
		if err := os.Rename(f.Name(), o.out); err != nil {
			return err
		}
		f = nil
	}
	fmt.Printf("bytes: %d\n", total)
	return nil
}

func callHealth(ctx context.Context, conn *grpc.ClientConn, o *options) error {
	resp, err := healthpb.NewHealthClient(conn).Check(ctx,
		&healthpb.HealthCheckRequest{Service: o.service})
	if err != nil {
		return rpcError("Check", err)
	}
	fmt.Println(resp.Status)
	return nil
}

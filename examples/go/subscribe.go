// Command subscribe subscribes to one symbol's live bars through
// idc.v2.Indicators/Subscribe, with MACD(12,26,9) and RSI(24), and prints the
// first N updates, one a line:
//
//	subscribe [-timeout S] ADDRESS SYMBOL [N]
//	subscribe localhost:50051 SPX 3
//
// Each line is `date close MACD(12,26,9).DIF RSI(24) provisional snapshot`,
// numbers to four decimals (NaN where an indicator has no value yet). The
// first update is the snapshot (the latest bar held); the next ones are bars
// pushed after it. After N updates (default 3) the call is cancelled and the
// program exits 0. The lines are the ones examples/python/subscribe.py
// prints, character for character. build.sh -program subscribe builds it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/status"

	idcv2 "idc/v2" // generated from protos/idc/v2/indicators.proto by build.sh
)

// columns are the values printed, as the server names them.
var columns = []string{"MACD(12,26,9).DIF", "RSI(24)"}

func main() {
	timeout := flag.Float64("timeout", 0, "deadline in seconds (default: none)")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: subscribe [-timeout S] ADDRESS SYMBOL [N]")
		flag.PrintDefaults()
	}
	flag.Parse()
	n := 3
	if flag.NArg() == 3 {
		var err error
		if n, err = strconv.Atoi(flag.Arg(2)); err != nil {
			n = 0
		}
	}
	if flag.NArg() < 2 || flag.NArg() > 3 || n < 1 || *timeout < 0 {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(flag.Arg(0), flag.Arg(1), n, *timeout); err != nil {
		fmt.Fprintf(os.Stderr, "subscribe: %v\n", err)
		os.Exit(1)
	}
}

func run(address, symbol string, n int, timeout float64) error {
	ctx, cancel := context.WithCancel(context.Background())
	if timeout > 0 {
		ctx, cancel = context.WithTimeout(context.Background(), time.Duration(timeout*float64(time.Second)))
	}
	// Cancelling the context when done ends the subscription on the server too.
	defer cancel()
	conn, err := grpc.DialContext(ctx, address, grpc.WithInsecure())
	if err != nil {
		return err
	}
	defer conn.Close()

	request := &idcv2.SubscribeRequest{
		Symbols: []string{symbol},
		Indicators: []*idcv2.IndicatorSpec{
			{Name: "MACD", Params: []float64{12, 26, 9}},
			{Name: "RSI", Params: []float64{24}},
		},
	}
	stream, err := idcv2.NewIndicatorsClient(conn).Subscribe(ctx, request)
	if err != nil {
		return rpcError(err)
	}
	for printed := 0; printed < n; printed++ {
		update, err := stream.Recv()
		if err == io.EOF {
			return errors.New("the server ended the subscription after " + strconv.Itoa(printed) + " update(s)")
		}
		if err != nil {
			return rpcError(err)
		}
		// Println writes straight to stdout (unbuffered): a reader sees each update as it comes.
		fmt.Println(line(update))
	}
	return nil
}

func line(update *idcv2.Update) string {
	fields := []string{update.Date, number(update.GetBar().GetClose())}
	for _, name := range columns {
		value, ok := update.Values[name]
		if !ok {
			value = math.NaN()
		}
		fields = append(fields, number(value))
	}
	fields = append(fields, strconv.FormatBool(update.Provisional), strconv.FormatBool(update.Snapshot))
	return strings.Join(fields, " ")
}

// rpcError says which call failed, with the status the server sent.
func rpcError(err error) error {
	s := status.Convert(err)
	return fmt.Errorf("Subscribe failed: %v: %s", s.Code(), s.Message())
}

func number(v float64) string {
	if math.IsNaN(v) {
		return "NaN"
	}
	return fmt.Sprintf("%.4f", v)
}

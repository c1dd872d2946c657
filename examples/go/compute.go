// Command compute calls idc.v2.Indicators/Compute for a few symbols and prints
// the last bars of each, with their MACD(12,26,9) and RSI(6) columns, as a
// table:
//
//	compute [-rows 5] [-timeout 30] ADDRESS SYMBOL [SYMBOL...]
//	compute localhost:50051 AAPL SPX
//
// The table is the one examples/python/compute.py prints, character for
// character: fixed four decimals, NaN where an indicator has no value yet.
// build.sh builds it from Debian's grpc-go packages (hence grpc.WithInsecure:
// grpc-go 1.33 has no credentials/insecure).
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/status"

	idcv2 "idc/v2" // generated from protos/idc/v2/indicators.proto by build.sh
)

func main() {
	rows := flag.Int("rows", 5, "bars to print per symbol, the latest")
	timeout := flag.Float64("timeout", 30, "deadline of the call, in seconds")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: compute [-rows N] [-timeout S] ADDRESS SYMBOL [SYMBOL...]")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() < 2 || *rows < 1 || !(*timeout > 0) {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(flag.Arg(0), flag.Args()[1:], *rows, *timeout); err != nil {
		fmt.Fprintf(os.Stderr, "compute: %v\n", err)
		os.Exit(1)
	}
}

func run(address string, symbols []string, rows int, timeout float64) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(timeout*float64(time.Second)))
	defer cancel()
	conn, err := grpc.DialContext(ctx, address, grpc.WithInsecure())
	if err != nil {
		return err
	}
	defer conn.Close()

	request := &idcv2.ComputeRequest{
		Symbols: symbols,
		Indicators: []*idcv2.IndicatorSpec{
			{Name: "MACD", Params: []float64{12, 26, 9}},
			{Name: "RSI", Params: []float64{6}},
		},
	}
	stream, err := idcv2.NewIndicatorsClient(conn).Compute(ctx, request)
	if err != nil {
		return rpcError(err)
	}
	var table [][]string
	for {
		series, err := stream.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			return rpcError(err)
		}
		if table == nil {
			header := []string{"symbol", "date", "close"}
			for _, column := range series.Columns {
				header = append(header, column.Name)
			}
			table = append(table, header)
		}
		first := len(series.Date) - rows
		if first < 0 {
			first = 0
		}
		for i := first; i < len(series.Date); i++ {
			row := []string{series.Symbol, series.Date[i], number(series.Close[i])}
			for _, column := range series.Columns {
				row = append(row, number(column.Values[i]))
			}
			table = append(table, row)
		}
	}
	printTable(table)
	return nil
}

// rpcError says which call failed, with the status the server sent.
func rpcError(err error) error {
	s := status.Convert(err)
	return fmt.Errorf("Compute failed: %v: %s", s.Code(), s.Message())
}

func number(v float64) string {
	if math.IsNaN(v) {
		return "NaN"
	}
	return fmt.Sprintf("%.4f", v)
}

// printTable prints symbol and date left-aligned, numbers right-aligned, two
// spaces apart.
func printTable(table [][]string) {
	if len(table) == 0 {
		return
	}
	widths := make([]int, len(table[0]))
	for _, row := range table {
		for i, cell := range row {
			if len(cell) > widths[i] {
				widths[i] = len(cell)
			}
		}
	}
	for _, row := range table {
		cells := make([]string, len(row))
		for i, cell := range row {
			if i < 2 {
				cells[i] = fmt.Sprintf("%-*s", widths[i], cell)
			} else {
				cells[i] = fmt.Sprintf("%*s", widths[i], cell)
			}
		}
		fmt.Println(strings.TrimRight(strings.Join(cells, "  "), " "))
	}
}

// Command omgen writes a synthetic OpenMetrics file for import benchmarks: --series series of
// node-exporter-like label sets (8 labels), one sample every --interval over --duration starting
// at --start (default: two aligned hours ending at least 3h ago), each series' samples together
// as OpenMetrics lists them. Half the series are integer counters, a quarter integer gauges, a
// quarter gauges with two decimals.
//
//	go run ./scripts/omgen --series=100000 --interval=60s --duration=2h > in.om
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"strconv"
	"time"
)

func main() {
	series := flag.Int("series", 100000, "number of series")
	interval := flag.Duration("interval", time.Minute, "sample interval")
	duration := flag.Duration("duration", 2*time.Hour, "time span of the samples")
	start := flag.Int64("start", 0, "first timestamp, Unix seconds (0: aligned to 2h, 5h or more ago)")
	flag.Parse()
	if *start == 0 {
		*start = (time.Now().Add(-5*time.Hour).Unix() / 7200) * 7200
	}
	w := bufio.NewWriterSize(os.Stdout, 1<<20)
	defer w.Flush()
	const metrics = 100 // metric names; series are spread over them, families stay contiguous
	per := (*series + metrics - 1) / metrics
	step := int64(interval.Seconds())
	n := int(*duration / *interval)
	var buf []byte
	made := 0
	for m := 0; m < metrics && made < *series; m++ {
		name := fmt.Sprintf("node_synthetic_%d", m)
		kind := "gauge"
		if m%2 == 0 {
			kind = "counter"
		}
		fmt.Fprintf(w, "# HELP %s Synthetic metric %d.\n# TYPE %s %s\n", name, m, name, kind)
		sample := name
		if kind == "counter" {
			sample += "_total"
		}
		for i := 0; i < per && made < *series; i++ {
			made++
			id := m*per + i
			lbls := fmt.Sprintf(`{instance="host-%d.example.org:9100",job="node",cluster="eu-west-%d",namespace="ns-%d",pod="pod-%d",cpu="%d",mode="%s"}`,
				id/64, id%4, id%37, id/16, id%16, [...]string{"idle", "user", "system", "iowait"}[id%4])
			v := float64(id % 1000)
			for k := 0; k < n; k++ {
				buf = append(buf[:0], sample...)
				buf = append(buf, lbls...)
				buf = append(buf, ' ')
				switch {
				case kind == "counter":
					v += float64((id*7+k)%13 + 1)
					buf = strconv.AppendInt(buf, int64(v), 10)
				case id%2 == 0:
					buf = strconv.AppendInt(buf, int64((id+k*3)%500), 10)
				default:
					buf = strconv.AppendFloat(buf, float64((id*31+k*17)%100000)/100, 'f', 2, 64)
				}
				buf = append(buf, ' ')
				buf = strconv.AppendInt(buf, *start+int64(k)*step, 10)
				buf = append(buf, '\n')
				w.Write(buf)
			}
		}
	}
	w.WriteString("# EOF\n")
}

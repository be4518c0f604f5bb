package v1

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/prompb"

	"github.com/vigil-monitoring/vigil/storage"
)

func writeBody(t *testing.T, req *prompb.WriteRequest) []byte {
	t.Helper()
	raw, err := req.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return snappy.Encode(nil, raw)
}

func series(name string, extra []prompb.Label, samples ...prompb.Sample) prompb.TimeSeries {
	ls := append([]prompb.Label{{Name: "__name__", Value: name}}, extra...)
	return prompb.TimeSeries{Labels: ls, Samples: samples}
}

func postWrite(t *testing.T, env *testEnv, body []byte, contentType string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, env.srv.URL+"/api/v1/write", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Encoding", "snappy")
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("X-Prometheus-Remote-Write-Version", "0.1.0")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestRemoteWrite(t *testing.T) {
	env := newTestEnv(t, func(o *Options) { o.EnableRemoteWrite = true })
	base := testStart.Add(20 * time.Minute).UnixMilli()
	const ct = "application/x-protobuf"

	ok := &prompb.WriteRequest{Timeseries: []prompb.TimeSeries{
		series("pushed_total", []prompb.Label{{Name: "src", Value: "agent"}}, prompb.Sample{Timestamp: base, Value: 1}, prompb.Sample{Timestamp: base + 1000, Value: 2}),
		// Without a metric name: skipped, as Prometheus does, without failing the request.
		{Labels: []prompb.Label{{Name: "src", Value: "nameless"}}, Samples: []prompb.Sample{{Timestamp: base, Value: 1}}},
	}}
	if code, body := postWrite(t, env, writeBody(t, ok), ct+";proto=prometheus.WriteRequest"); code != http.StatusNoContent {
		t.Fatalf("write: %d %s", code, body)
	}
	res := env.do(t, http.MethodGet, "/api/v1/query", url.Values{"query": {"pushed_total"}, "time": {"1704068401"}})
	if want := `{"status":"success","data":{"resultType":"vector","result":[{"metric":{"__name__":"pushed_total","src":"agent"},"value":[1704068401,"2"]}]}}`; res.body != want {
		t.Fatalf("after write:\n got %s\nwant %s", res.body, want)
	}
	if res := env.do(t, http.MethodGet, "/api/v1/series", url.Values{"match[]": {`{src="nameless"}`}}); res.body != `{"status":"success","data":[]}` {
		t.Fatalf("nameless series was written: %s", res.body)
	}

	for _, tc := range []struct {
		name        string
		body        []byte
		contentType string
		code        int
		text        string
	}{
		{"out of order", writeBody(t, &prompb.WriteRequest{Timeseries: []prompb.TimeSeries{
			series("pushed_total", []prompb.Label{{Name: "src", Value: "agent"}}, prompb.Sample{Timestamp: base, Value: 5}),
		}}), ct, http.StatusBadRequest, "out of order sample"},
		{"duplicate", writeBody(t, &prompb.WriteRequest{Timeseries: []prompb.TimeSeries{
			series("pushed_total", []prompb.Label{{Name: "src", Value: "agent"}}, prompb.Sample{Timestamp: base + 1000, Value: 7}),
		}}), ct, http.StatusBadRequest, "duplicate sample for timestamp"},
		{"too far in the future", writeBody(t, &prompb.WriteRequest{Timeseries: []prompb.TimeSeries{
			series("future", nil, prompb.Sample{Timestamp: time.Now().Add(time.Hour).UnixMilli(), Value: 1}),
		}}), ct, http.StatusBadRequest, "out of bounds"},
		{"invalid native histogram", writeBody(t, &prompb.WriteRequest{Timeseries: []prompb.TimeSeries{
			{Labels: []prompb.Label{{Name: "__name__", Value: "h"}}, Histograms: []prompb.Histogram{invalidHistogram(base)}},
		}}), ct, http.StatusBadRequest, "histogram's observation count should equal"},
		{"not snappy", []byte("plainly not snappy"), ct, http.StatusBadRequest, "snappy"},
		{"not protobuf", snappy.Encode(nil, []byte{0xff, 0xff, 0xff}), ct, http.StatusBadRequest, "decoding remote write request"},
		{"unknown proto", writeBody(t, ok), "application/x-protobuf;proto=io.prometheus.write.v3.Request", http.StatusUnsupportedMediaType, "unknown type for remote write protobuf message"},
		{"not protobuf content", writeBody(t, ok), "text/plain", http.StatusUnsupportedMediaType, "expected application/x-protobuf"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := postWrite(t, env, tc.body, tc.contentType)
			if code != tc.code || !strings.Contains(body, tc.text) {
				t.Fatalf("got %d %q, want %d containing %q", code, body, tc.code, tc.text)
			}
		})
	}
	// A failed request leaves nothing of its batch behind.
	if res := env.do(t, http.MethodGet, "/api/v1/query", url.Values{"query": {"pushed_total"}, "time": {"1704068401"}}); !strings.Contains(res.body, `"2"]`) {
		t.Fatalf("value changed by a rejected write: %s", res.body)
	}

	disabled := newTestEnv(t, nil)
	if code, body := postWrite(t, disabled, writeBody(t, ok), ct); code != http.StatusNotFound || !strings.Contains(body, "--web.enable-remote-write-receiver") {
		t.Fatalf("disabled receiver: %d %s", code, body)
	}
}

// TestRemoteWritePartial: a batch with refused samples (out of order, duplicate, too far in
// the future, an invalid native histogram) stores its valid samples and answers 400 listing the refused
// ones, so that the sender neither retries nor loses the good samples. Before, the whole batch
// was rolled back.
func TestRemoteWritePartial(t *testing.T) {
	env := newTestEnv(t, func(o *Options) { o.EnableRemoteWrite = true })
	base := testStart.Add(20 * time.Minute).UnixMilli()
	const ct = "application/x-protobuf"
	first := &prompb.WriteRequest{Timeseries: []prompb.TimeSeries{
		series("pushed_total", nil, prompb.Sample{Timestamp: base, Value: 1}, prompb.Sample{Timestamp: base + 1000, Value: 2}),
	}}
	if code, body := postWrite(t, env, writeBody(t, first), ct); code != http.StatusNoContent {
		t.Fatalf("write: %d %s", code, body)
	}
	mixed := &prompb.WriteRequest{Timeseries: []prompb.TimeSeries{
		series("pushed_total", nil,
			prompb.Sample{Timestamp: base - 1000, Value: 9}, // out of order
			prompb.Sample{Timestamp: base + 1000, Value: 9}, // duplicate
			prompb.Sample{Timestamp: base + 2000, Value: 3}, // good
		),
		series("future", nil, prompb.Sample{Timestamp: time.Now().Add(time.Hour).UnixMilli(), Value: 1}),
		{Labels: []prompb.Label{{Name: "__name__", Value: "h"}}, Histograms: []prompb.Histogram{invalidHistogram(base)}},
		series("fresh", nil, prompb.Sample{Timestamp: base, Value: 42}), // good
	}}
	code, body := postWrite(t, env, writeBody(t, mixed), ct)
	if code != http.StatusBadRequest {
		t.Fatalf("mixed batch: %d %s, want 400", code, body)
	}
	for _, want := range []string{"out of order sample", "duplicate sample for timestamp", "too far in the future", "histogram's observation count"} {
		if !strings.Contains(body, want) {
			t.Errorf("answer %q lacks %q", body, want)
		}
	}
	for q, want := range map[string]string{"pushed_total": `"3"]`, "fresh": `"42"]`} {
		res := env.do(t, http.MethodGet, "/api/v1/query", url.Values{"query": {q}, "time": {"1704068402"}})
		if !strings.Contains(res.body, want) {
			t.Errorf("%s after the mixed batch: %s, want %s", q, res.body, want)
		}
	}
}

// TestRemoteWriteBodyLimits: Prometheus's limits, 32 MiB compressed (413) and 32 MiB decoded
// (400, judged from the snappy header before decoding); the receiver reads at most the limit of
// an oversized body and allocates nothing for a body claiming a huge decoded size.
func TestRemoteWriteBodyLimits(t *testing.T) {
	env := newTestEnv(t, func(o *Options) { o.EnableRemoteWrite = true })
	const ct = "application/x-protobuf"
	// A snappy block claiming 1 GiB decoded: varint length, then a literal.
	huge := binary.AppendUvarint(nil, 1<<30)
	huge = append(huge, 0, 'x')
	for _, tc := range []struct {
		name     string
		body     []byte
		code     int
		text     string
		maxAlloc uint64
	}{
		{"compressed too large", bytes.Repeat([]byte{0}, 48<<20), http.StatusRequestEntityTooLarge, "request body exceeds the 33554432 bytes limit", 40 << 20},
		{"decoded too large", huge, http.StatusBadRequest, "decoded size exceeds the 33554432 bytes limit", 4 << 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			rec := httptest.NewRecorder()
			req := httptest.NewRequest(http.MethodPost, "/api/v1/write", bytes.NewReader(tc.body))
			req.Header.Set("Content-Encoding", "snappy")
			req.Header.Set("Content-Type", ct)
			env.api.ServeHTTP(rec, req)
			runtime.ReadMemStats(&after)
			if rec.Code != tc.code || !strings.Contains(rec.Body.String(), tc.text) {
				t.Fatalf("got %d %q, want %d %q", rec.Code, rec.Body.String(), tc.code, tc.text)
			}
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > tc.maxAlloc {
				t.Errorf("allocated %d MiB, want <= %d MiB", alloc>>20, tc.maxAlloc>>20)
			}
		})
	}
}

// blockingAppendable holds every Appender call until release is closed, counting the callers.
type blockingAppendable struct {
	storage.Appendable
	entered chan struct{}
	release chan struct{}
}

func (b *blockingAppendable) Appender(ctx context.Context) storage.Appender {
	b.entered <- struct{}{}
	<-b.release
	return b.Appendable.Appender(ctx)
}

// TestRemoteWriteConcurrency: with RemoteWriteConcurrency 2, two requests append, two wait
// (bodies unread) and the fifth is answered 503 at once; the waiting ones then complete.
func TestRemoteWriteConcurrency(t *testing.T) {
	db := newTestDB(t)
	blocking := &blockingAppendable{Appendable: db, entered: make(chan struct{}, 8), release: make(chan struct{})}
	env := newTestEnvDB(t, db, func(o *Options) {
		o.EnableRemoteWrite = true
		o.RemoteWriteConcurrency = 2
		o.Appendable = blocking
	})
	base := testStart.Add(20 * time.Minute).UnixMilli()
	send := func(i int) *httptest.ResponseRecorder {
		body := writeBody(t, &prompb.WriteRequest{Timeseries: []prompb.TimeSeries{
			series("conc", []prompb.Label{{Name: "i", Value: strconv.Itoa(i)}}, prompb.Sample{Timestamp: base, Value: 1}),
		}})
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodPost, "/api/v1/write", bytes.NewReader(body))
		req.Header.Set("Content-Encoding", "snappy")
		env.api.ServeHTTP(rec, req)
		return rec
	}
	var wg sync.WaitGroup
	codes := make([]int, 4)
	for i := range 4 {
		wg.Go(func() { codes[i] = send(i).Code })
	}
	// Two requests are appending, two are waiting for a slot.
	<-blocking.entered
	<-blocking.entered
	for len(env.api.writes.admit) < 4 {
		runtime.Gosched()
	}
	if rec := send(99); rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "too many concurrent remote write requests") {
		t.Fatalf("excess request: %d %s, want 503", rec.Code, rec.Body.String())
	}
	close(blocking.release)
	wg.Wait()
	for i, c := range codes {
		if c != http.StatusNoContent {
			t.Errorf("request %d: %d, want 204", i, c)
		}
	}
}

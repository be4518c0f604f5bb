package v1

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang/snappy"
	remoteapi "github.com/prometheus/client_golang/exp/api/remote"
	"github.com/prometheus/prometheus/model/labels"
	writev2 "github.com/prometheus/prometheus/prompb/io/prometheus/write/v2"
)

// v2Series builds a 2.0 series with upstream's symbol table.
func v2Series(st *writev2.SymbolsTable, ls labels.Labels, samples ...writev2.Sample) writev2.TimeSeries {
	return writev2.TimeSeries{LabelsRefs: st.SymbolizeLabels(ls, nil), Samples: samples}
}

func postV2(t *testing.T, env *testEnv, req *writev2.Request, contentType string) (*http.Response, string) {
	t.Helper()
	raw, err := req.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	hreq, err := http.NewRequest(http.MethodPost, env.srv.URL+"/api/v1/write", strings.NewReader(string(snappy.Encode(nil, raw))))
	if err != nil {
		t.Fatal(err)
	}
	hreq.Header.Set("Content-Encoding", "snappy")
	hreq.Header.Set("Content-Type", contentType)
	hreq.Header.Set("X-Prometheus-Remote-Write-Version", "2.0.0")
	resp, err := http.DefaultClient.Do(hreq)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return resp, b.String()
}

const v2ContentType = "application/x-protobuf;proto=io.prometheus.write.v2.Request"

func TestRemoteWriteV2(t *testing.T) {
	env := newTestEnv(t, func(o *Options) { o.EnableRemoteWrite = true })
	base := testStart.Add(20 * time.Minute).UnixMilli()

	// A full request through client_golang's remote-write client (the sender Prometheus 3
	// uses): it checks the written-count headers against what it sent.
	st := writev2.NewSymbolTable()
	a := v2Series(&st, labels.FromStrings("__name__", "v2_total", "src", "a"), writev2.Sample{Timestamp: base, Value: 1}, writev2.Sample{Timestamp: base + 1000, Value: 2})
	a.Metadata = writev2.Metadata{Type: writev2.Metadata_METRIC_TYPE_COUNTER, HelpRef: st.Symbolize("Requests."), UnitRef: st.Symbolize("")}
	a.Exemplars = []writev2.Exemplar{{LabelsRefs: st.SymbolizeLabels(labels.FromStrings("trace_id", "abc"), nil), Value: 1, Timestamp: base}}
	b := v2Series(&st, labels.FromStrings("__name__", "v2_gauge", "src", "b"), writev2.Sample{Timestamp: base, Value: -1.5})
	req := &writev2.Request{Symbols: st.Symbols(), Timeseries: []writev2.TimeSeries{a, b}}
	api, err := remoteapi.NewAPI(env.srv.URL, remoteapi.WithAPIPath("api/v1/write"))
	if err != nil {
		t.Fatal(err)
	}
	stats, err := api.Write(context.Background(), remoteapi.WriteV2MessageType, req)
	if err != nil {
		t.Fatalf("client_golang write: %v", err)
	}
	if stats.Samples != 3 || stats.Histograms != 0 || stats.Exemplars != 1 {
		t.Fatalf("written stats %+v, want 3 samples, 0 histograms, 1 exemplar", stats)
	}
	for q, want := range map[string]string{
		"v2_total": `{"status":"success","data":{"resultType":"vector","result":[{"metric":{"__name__":"v2_total","src":"a"},"value":[1704068401,"2"]}]}}`,
		"v2_gauge": `{"status":"success","data":{"resultType":"vector","result":[{"metric":{"__name__":"v2_gauge","src":"b"},"value":[1704068401,"-1.5"]}]}}`,
	} {
		if res := env.do(t, http.MethodGet, "/api/v1/query", url.Values{"query": {q}, "time": {"1704068401"}}); res.body != want {
			t.Fatalf("after write:\n got %s\nwant %s", res.body, want)
		}
	}

	// A partial write: the good samples are stored, the rest refused with reasons (400), and
	// the headers count what was written.
	st = writev2.NewSymbolTable()
	good := v2Series(&st, labels.FromStrings("__name__", "v2_partial", "k", "good"), writev2.Sample{Timestamp: base, Value: 10}, writev2.Sample{Timestamp: base + 1000, Value: 11})
	ooo := v2Series(&st, labels.FromStrings("__name__", "v2_total", "src", "a"), writev2.Sample{Timestamp: base, Value: 9})
	hist := v2Series(&st, labels.FromStrings("__name__", "v2_hist"))
	// Invalid: buckets hold more observations than the count.
	hist.Histograms = []writev2.Histogram{
		{Timestamp: base, Count: &writev2.Histogram_CountInt{CountInt: 1}, PositiveSpans: []writev2.BucketSpan{{Length: 1}}, PositiveDeltas: []int64{5}},
		{Timestamp: base + 1000, Count: &writev2.Histogram_CountInt{CountInt: 2}, PositiveSpans: []writev2.BucketSpan{{Length: 1}}, PositiveDeltas: []int64{5}},
	}
	nameless := v2Series(&st, labels.FromStrings("k", "nameless"), writev2.Sample{Timestamp: base, Value: 1})
	empty := v2Series(&st, labels.FromStrings("__name__", "v2_empty"))
	badRef := writev2.TimeSeries{LabelsRefs: []uint32{0, 9999}, Samples: []writev2.Sample{{Timestamp: base, Value: 1}}}
	req = &writev2.Request{Symbols: st.Symbols(), Timeseries: []writev2.TimeSeries{good, ooo, hist, nameless, empty, badRef}}
	resp, body := postV2(t, env, req, v2ContentType)
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("partial write: %d %s", resp.StatusCode, body)
	}
	for _, want := range []string{"out of order sample", "histogram's observation count should equal", "invalid metric name or labels", "must contain at least one sample", "parsing labels for series"} {
		if !strings.Contains(body, want) {
			t.Errorf("partial write answer lacks %q: %s", want, body)
		}
	}
	for h, want := range map[string]string{"Samples": "2", "Histograms": "0", "Exemplars": "0"} {
		if got := resp.Header.Get("X-Prometheus-Remote-Write-" + h + "-Written"); got != want {
			t.Errorf("%s written header %q, want %q", h, got, want)
		}
	}
	res := env.do(t, http.MethodGet, "/api/v1/query", url.Values{"query": {`v2_partial`}, "time": {"1704068401"}})
	if !strings.Contains(res.body, `"k":"good"},"value":[1704068401,"11"]`) {
		t.Fatalf("good samples of a partial write not stored: %s", res.body)
	}
	if res := env.do(t, http.MethodGet, "/api/v1/series", url.Values{"match[]": {`{__name__=~"v2_hist|v2_empty"}`, `{k="nameless"}`}}); res.body != `{"status":"success","data":[]}` {
		t.Fatalf("refused series written: %s", res.body)
	}

	// Accepted messages: a receiver set to 1.0 only answers 2.0 with 415, and the reverse.
	only1 := newTestEnv(t, func(o *Options) {
		o.EnableRemoteWrite = true
		o.RemoteWriteMessages = remoteapi.MessageTypes{remoteapi.WriteV1MessageType}
	})
	if resp, body := postV2(t, only1, req, v2ContentType); resp.StatusCode != http.StatusUnsupportedMediaType || !strings.Contains(body, "io.prometheus.write.v2.Request protobuf message is not accepted by this server") {
		t.Errorf("2.0 to a 1.0-only receiver: %d %s", resp.StatusCode, body)
	}
	// Undecodable 2.0 body.
	hreq, _ := http.NewRequest(http.MethodPost, env.srv.URL+"/api/v1/write", strings.NewReader(string(snappy.Encode(nil, []byte{0xff, 0xff}))))
	hreq.Header.Set("Content-Type", v2ContentType)
	r2, err := http.DefaultClient.Do(hreq)
	if err != nil {
		t.Fatal(err)
	}
	r2.Body.Close()
	if r2.StatusCode != http.StatusBadRequest {
		t.Errorf("undecodable 2.0 body: %d", r2.StatusCode)
	}
}

// FuzzRemoteWriteV2 feeds arbitrary 2.0 bodies (decoded protobuf bytes) to the receiver: it
// answers 204 or 400 (never 500: the storage is fine), and the written-count headers never
// exceed what the request held.
func FuzzRemoteWriteV2(f *testing.F) {
	st := writev2.NewSymbolTable()
	ts := v2Series(&st, labels.FromStrings("__name__", "m", "a", "b"), writev2.Sample{Timestamp: testStart.UnixMilli(), Value: 1})
	ts.Histograms = []writev2.Histogram{{Timestamp: 1}}
	seed, _ := (&writev2.Request{Symbols: st.Symbols(), Timeseries: []writev2.TimeSeries{ts}}).Marshal()
	f.Add(seed)
	f.Add([]byte{})
	f.Add([]byte{0x2a, 0x02, 0x08, 0x01})
	// A storage that keeps native histograms, so that valid ones are written.
	env := newTestEnv(f, func(o *Options) { o.EnableRemoteWrite = true; o.Appendable = newHistStore() })
	f.Fuzz(func(t *testing.T, raw []byte) {
		resp, body := postV2Raw(t, env, raw)
		if resp.StatusCode != http.StatusNoContent && resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
		var req writev2.Request
		if req.Unmarshal(raw) != nil {
			return
		}
		n, nh := 0, 0
		for _, ts := range req.Timeseries {
			n += len(ts.Samples)
			nh += len(ts.Histograms)
		}
		if got := resp.Header.Get("X-Prometheus-Remote-Write-Samples-Written"); got != "" {
			if w, err := strconv.Atoi(got); err != nil || w > n {
				t.Fatalf("%s samples written of %d", got, n)
			}
		}
		if got := resp.Header.Get("X-Prometheus-Remote-Write-Histograms-Written"); got != "" {
			if w, err := strconv.Atoi(got); err != nil || w > nh {
				t.Fatalf("%s histograms written of %d", got, nh)
			}
		}
	})
}

func postV2Raw(t *testing.T, env *testEnv, raw []byte) (*http.Response, string) {
	t.Helper()
	hreq, err := http.NewRequest(http.MethodPost, env.srv.URL+"/api/v1/write", strings.NewReader(string(snappy.Encode(nil, raw))))
	if err != nil {
		t.Fatal(err)
	}
	hreq.Header.Set("Content-Type", v2ContentType)
	resp, err := http.DefaultClient.Do(hreq)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b := make([]byte, 1024)
	n, _ := resp.Body.Read(b)
	return resp, string(b[:n])
}

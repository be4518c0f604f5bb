package v1

import (
	"bytes"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/prompb"
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
		{"native histogram", writeBody(t, &prompb.WriteRequest{Timeseries: []prompb.TimeSeries{
			{Labels: []prompb.Label{{Name: "__name__", Value: "h"}}, Histograms: []prompb.Histogram{{Timestamp: base}}},
		}}), ct, http.StatusBadRequest, "native histogram samples are not supported"},
		{"not snappy", []byte("plainly not snappy"), ct, http.StatusBadRequest, "snappy"},
		{"not protobuf", snappy.Encode(nil, []byte{0xff, 0xff, 0xff}), ct, http.StatusBadRequest, "decoding remote write request"},
		{"remote write 2.0", writeBody(t, ok), "application/x-protobuf;proto=io.prometheus.write.v2.Request", http.StatusUnsupportedMediaType, "unsupported content type"},
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

package adapter

import (
	"context"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
)

func promServer(t *testing.T, h http.HandlerFunc) *PromClient {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	c, err := NewPromClient(srv.URL+"/prefix/", nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestPromClientQueryVector(t *testing.T) {
	var gotPath, gotQuery, gotTime, gotMethod string
	c := promServer(t, func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		gotPath, gotQuery, gotTime, gotMethod = r.URL.Path, r.Form.Get("query"), r.Form.Get("time"), r.Method
		_, _ = w.Write([]byte(`{"status":"success","warnings":["w1"],"data":{"resultType":"vector","result":[
			{"metric":{"pod":"a"},"value":[1700000000.123,"1.5"]},
			{"metric":{"pod":"b","__name__":"x"},"value":[1700000000,"NaN"]},
			{"metric":{"pod":"h"},"histogram":[1700000000,{"count":"1","sum":"1"}]},
			{"metric":{},"value":[ 1700000001 , "+Inf" ]}]}}`))
	})
	v, warnings, err := c.Query(context.Background(), `up{pod=~"a|b"}`, time.Unix(1700000000, 500e6))
	if err != nil {
		t.Fatal(err)
	}
	if gotPath != "/prefix/api/v1/query" || gotQuery != `up{pod=~"a|b"}` || gotTime != "1700000000.5" || gotMethod != http.MethodPost {
		t.Errorf("request %s %s query=%q time=%q", gotMethod, gotPath, gotQuery, gotTime)
	}
	if !slices.Equal(warnings, Warnings{"w1"}) {
		t.Errorf("warnings %v", warnings)
	}
	vec, ok := v.(model.Vector)
	if !ok || len(vec) != 3 {
		t.Fatalf("got %v, want a vector of 3 (the histogram sample skipped)", v)
	}
	if vec[0].Metric["pod"] != "a" || vec[0].Value != 1.5 || vec[0].Timestamp != 1700000000123 {
		t.Errorf("sample 0: %v", vec[0])
	}
	if vec[1].Metric["__name__"] != "x" || !math.IsNaN(float64(vec[1].Value)) {
		t.Errorf("sample 1: %v", vec[1])
	}
	if !math.IsInf(float64(vec[2].Value), 1) || vec[2].Timestamp != 1700000001000 || len(vec[2].Metric) != 0 {
		t.Errorf("sample 2: %v", vec[2])
	}
}

func TestPromClientQueryScalarAndOtherTypes(t *testing.T) {
	body := `{"status":"success","data":{"resultType":"scalar","result":[1700000000,"42"]}}`
	c := promServer(t, func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte(body)) })
	v, _, err := c.Query(context.Background(), "42", time.Now())
	if s, ok := v.(*model.Scalar); err != nil || !ok || s.Value != 42 || s.Timestamp != 1700000000000 {
		t.Fatalf("scalar: %v %v", v, err)
	}
	body = `{"status":"success","data":{"resultType":"matrix","result":[]}}`
	if _, _, err := c.Query(context.Background(), "x[1m]", time.Now()); err == nil || !strings.Contains(err.Error(), `"matrix"`) {
		t.Errorf("matrix result: %v", err)
	}
	body = `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,2]}]}}`
	if _, _, err := c.Query(context.Background(), "x", time.Now()); err == nil || !strings.Contains(err.Error(), "not a string") {
		t.Errorf("bad sample value: %v", err)
	}
}

func TestPromClientErrors(t *testing.T) {
	status, body := 0, ""
	c := promServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	})
	for _, tc := range []struct {
		status int
		body   string
		want   string
	}{
		{400, `{"status":"error","errorType":"bad_data","error":"parse error at char 3"}`, "bad_data: parse error at char 3"},
		{422, `{"status":"error","errorType":"execution","error":"too many samples"}`, "execution: too many samples"},
		{502, `<html>bad gateway</html>`, "server returned HTTP status 502 Bad Gateway: <html>bad gateway</html>"},
		{200, `{"status":"success","data":`, "decoding"},
	} {
		status, body = tc.status, tc.body
		_, _, err := c.Query(context.Background(), "x", time.Now())
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("query, HTTP %d %s: got %v, want %q", tc.status, tc.body, err, tc.want)
		}
		_, err = c.Series(context.Background(), "x", time.Now(), time.Now(), func(string, []string) {})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("series, HTTP %d %s: got %v, want %q", tc.status, tc.body, err, tc.want)
		}
	}
}

func TestPromClientFallsBackToGet(t *testing.T) {
	var methods []string
	c := promServer(t, func(w http.ResponseWriter, r *http.Request) {
		methods = append(methods, r.Method)
		if r.Method == http.MethodPost {
			w.WriteHeader(http.StatusMethodNotAllowed)
			return
		}
		if r.URL.Query().Get("query") != "up" {
			t.Errorf("GET without the query: %s", r.URL)
		}
		_, _ = w.Write([]byte(`{"status":"success","data":{"resultType":"vector","result":[]}}`))
	})
	if _, _, err := c.Query(context.Background(), "up", time.Now()); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(methods, []string{"POST", "GET"}) {
		t.Errorf("methods %v", methods)
	}
}

func TestPromClientSeriesStreams(t *testing.T) {
	var match, start, end string
	c := promServer(t, func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		match, start, end = r.Form.Get("match[]"), r.Form.Get("start"), r.Form.Get("end")
		_, _ = w.Write([]byte(`{"status":"success","data":[
			{"__name__":"up","pod":"a","namespace":"ns","job":"j"},
			{"pod":"nameless"},
			{"namespace":"ns","__name__":"http_requests_total"}],"warnings":["partial"],"extra":{"x":[1]}}`))
	})
	var got []string
	warnings, err := c.Series(context.Background(), `{__name__=~".+"}`, time.Unix(100, 0), time.Unix(400, 250e6), func(name string, labels []string) {
		got = append(got, name+" "+strings.Join(labels, ","))
	})
	if err != nil {
		t.Fatal(err)
	}
	if match != `{__name__=~".+"}` || start != "100" || end != "400.25" {
		t.Errorf("request match=%q start=%q end=%q", match, start, end)
	}
	if want := []string{"up job,namespace,pod", "http_requests_total namespace"}; !slices.Equal(got, want) {
		t.Errorf("series %q, want %q", got, want)
	}
	if !slices.Equal(warnings, Warnings{"partial"}) {
		t.Errorf("warnings %v", warnings)
	}
}

package adapter

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"
)

// PromAPI is the part of the Prometheus HTTP API the adapter uses (/api/v1/query and
// /api/v1/series), so any Prometheus-compatible server (Vigil, Prometheus, Thanos, Mimir,
// VictoriaMetrics) works.
type PromAPI interface {
	// Query evaluates an instant query at ts. The result is a model.Vector or *model.Scalar
	// (other result types are returned as an error naming the type).
	Query(ctx context.Context, query string, ts time.Time) (model.Value, Warnings, error)
	// Series calls fn for every series matching match in [start, end] with the metric name and
	// the other label names, sorted. labelNames is reused between calls.
	Series(ctx context.Context, match string, start, end time.Time, fn func(name string, labelNames []string)) (Warnings, error)
}

// Warnings are the warnings of a Prometheus API response.
type Warnings []string

// PromClient speaks the Prometheus HTTP API. It decodes responses into what the adapter needs
// without an intermediate generic form: a 1,000-pod query result is decoded in one pass, and
// the series of a relist are streamed one at a time instead of materialized as a list of label
// sets (10,000 names × their series every relist interval).
type PromClient struct {
	base *url.URL
	hc   *http.Client
}

// NewPromClient returns a client for the Prometheus API at address; rt nil means
// http.DefaultTransport.
func NewPromClient(address string, rt http.RoundTripper) (*PromClient, error) {
	u, err := url.Parse(address)
	if err != nil {
		return nil, err
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("%q: scheme must be http or https", address)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	if rt == nil {
		rt = http.DefaultTransport
	}
	return &PromClient{base: u, hc: &http.Client{Transport: rt}}, nil
}

func formatTime(t time.Time) string {
	return strconv.FormatFloat(float64(t.UnixNano())/1e9, 'f', -1, 64)
}

// post sends form to path as a POST (queries over many object names exceed URL limits) and
// retries as GET if the server does not allow POST, as the Prometheus Go client does.
func (c *PromClient) post(ctx context.Context, path string, form url.Values) (*http.Response, error) {
	u := *c.base
	u.Path += path
	body := form.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusMethodNotAllowed {
		return resp, nil
	}
	drain(resp)
	u.RawQuery = body
	if req, err = http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil); err != nil {
		return nil, err
	}
	return c.hc.Do(req)
}

func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
}

// apiError is the error of a non-success response: errorType and error of the body, or the
// HTTP status and the start of the body when it is not the API's JSON.
func apiError(resp *http.Response, body []byte, errorType, msg string) error {
	if msg != "" {
		if errorType == "" {
			return errors.New(msg)
		}
		return fmt.Errorf("%s: %s", errorType, msg)
	}
	if len(body) > 200 {
		body = body[:200]
	}
	return fmt.Errorf("server returned HTTP status %s: %s", resp.Status, bytes.TrimSpace(body))
}

// queryResponse is an /api/v1/query response; result is decoded once its type is known.
type queryResponse struct {
	Status    string   `json:"status"`
	ErrorType string   `json:"errorType"`
	Error     string   `json:"error"`
	Warnings  Warnings `json:"warnings"`
	Data      struct {
		ResultType string          `json:"resultType"`
		Result     json.RawMessage `json:"result"`
	} `json:"data"`
}

// samplePair is the [<unix seconds>, "<value>"] pair of the API.
type samplePair struct {
	T model.Time
	V model.SampleValue
}

func (p *samplePair) UnmarshalJSON(b []byte) error {
	s := strings.TrimSpace(string(b))
	if s == "null" {
		return nil
	}
	if len(s) < 2 || s[0] != '[' || s[len(s)-1] != ']' {
		return fmt.Errorf("sample value %.40s is not a [time, value] pair", s)
	}
	ts, val, ok := strings.Cut(s[1:len(s)-1], ",")
	if !ok {
		return fmt.Errorf("sample value %.40s is not a [time, value] pair", s)
	}
	sec, err := strconv.ParseFloat(strings.TrimSpace(ts), 64)
	if err != nil {
		return fmt.Errorf("sample time %.40s: %w", ts, err)
	}
	val = strings.TrimSpace(val)
	if len(val) < 2 || val[0] != '"' || val[len(val)-1] != '"' {
		return fmt.Errorf("sample value %.40s is not a string", val)
	}
	v, err := strconv.ParseFloat(val[1:len(val)-1], 64)
	if err != nil {
		return fmt.Errorf("sample value %.40s: %w", val, err)
	}
	p.T, p.V = model.Time(math.Round(sec*1000)), model.SampleValue(v)
	return nil
}

// Query implements PromAPI.
func (c *PromClient) Query(ctx context.Context, query string, ts time.Time) (model.Value, Warnings, error) {
	resp, err := c.post(ctx, "/api/v1/query", url.Values{"query": {query}, "time": {formatTime(ts)}})
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, nil, err
	}
	var r queryResponse
	if err := json.Unmarshal(body, &r); err != nil {
		if resp.StatusCode/100 != 2 {
			return nil, nil, apiError(resp, body, "", "")
		}
		return nil, nil, fmt.Errorf("decoding the query response: %w", err)
	}
	if r.Status != "success" {
		return nil, r.Warnings, apiError(resp, body, r.ErrorType, r.Error)
	}
	switch r.Data.ResultType {
	case "vector":
		vec, err := decodeVector(r.Data.Result)
		if err != nil {
			return nil, r.Warnings, err
		}
		return vec, r.Warnings, nil
	case "scalar":
		var p samplePair
		if err := json.Unmarshal(r.Data.Result, &p); err != nil {
			return nil, r.Warnings, fmt.Errorf("decoding the query result: %w", err)
		}
		return &model.Scalar{Value: p.V, Timestamp: p.T}, r.Warnings, nil
	default:
		return nil, r.Warnings, fmt.Errorf("query returned a %q result, want a vector or scalar", r.Data.ResultType)
	}
}

// Series implements PromAPI. The response is decoded as a stream: one series at a time.
func (c *PromClient) Series(ctx context.Context, match string, start, end time.Time, fn func(name string, labelNames []string)) (Warnings, error) {
	resp, err := c.post(ctx, "/api/v1/series", url.Values{"match[]": {match}, "start": {formatTime(start)}, "end": {formatTime(end)}})
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	dec := json.NewDecoder(resp.Body)
	var (
		status, errorType, msg string
		warnings               Warnings
		set                    = map[string]string{}
		names                  []string
	)
	fail := func(err error) (Warnings, error) {
		if resp.StatusCode/100 != 2 {
			body, _ := io.ReadAll(io.LimitReader(io.MultiReader(dec.Buffered(), resp.Body), 200))
			return nil, apiError(resp, body, "", "")
		}
		return nil, fmt.Errorf("decoding the series response: %w", err)
	}
	if err := expectDelim(dec, '{'); err != nil {
		return fail(err)
	}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return fail(err)
		}
		switch key, _ := t.(string); key {
		case "status":
			err = dec.Decode(&status)
		case "errorType":
			err = dec.Decode(&errorType)
		case "error":
			err = dec.Decode(&msg)
		case "warnings":
			err = dec.Decode(&warnings)
		case "data":
			var t json.Token
			if t, err = dec.Token(); err != nil || t == nil { // null: no series
				break
			}
			if t != json.Delim('[') {
				err = fmt.Errorf("data is %v, want a list of series", t)
				break
			}
			for dec.More() {
				clear(set)
				if err = dec.Decode(&set); err != nil {
					break
				}
				names = names[:0]
				for l := range set {
					if l != model.MetricNameLabel {
						names = append(names, l)
					}
				}
				slices.Sort(names)
				if n := set[model.MetricNameLabel]; n != "" {
					fn(n, names)
				}
			}
			if err == nil {
				err = expectDelim(dec, ']')
			}
		default:
			var skip json.RawMessage
			err = dec.Decode(&skip)
		}
		if err != nil {
			return fail(err)
		}
	}
	if status != "success" {
		return warnings, apiError(resp, nil, errorType, msg)
	}
	return warnings, nil
}

func expectDelim(dec *json.Decoder, d json.Delim) error {
	t, err := dec.Token()
	if err != nil {
		return err
	}
	if t != d {
		return fmt.Errorf("got %v, want %v", t, d)
	}
	return nil
}

package write

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	remoteapi "github.com/prometheus/client_golang/exp/api/remote"
	commoncfg "github.com/prometheus/common/config"
	"github.com/prometheus/sigv4"

	"github.com/vigil-monitoring/vigil/config"
)

// Remote-write protocol headers (the 1.0 and 2.0 specifications).
const (
	versionHeader         = "X-Prometheus-Remote-Write-Version"
	version1HeaderValue   = "0.1.0"
	version20HeaderValue  = "2.0.0"
	samplesWrittenHeader  = "X-Prometheus-Remote-Write-Samples-Written"
	histogramsWritten     = "X-Prometheus-Remote-Write-Histograms-Written"
	exemplarsWrittenHdr   = "X-Prometheus-Remote-Write-Exemplars-Written"
	contentTypeV1         = "application/x-protobuf"
	contentTypeV2         = "application/x-protobuf;proto=io.prometheus.write.v2.Request"
	maxErrMsgLen          = 1024
	defaultRetryAfterWait = 0
)

// UserAgent is sent with every request; cmd/server sets it to Vigil's version.
var UserAgent = "Vigil"

// client sends encoded requests to one endpoint.
type client struct {
	url        string
	msg        remoteapi.WriteMessageType
	timeout    time.Duration
	retryOn429 bool
	http       *http.Client
}

func newClient(name string, cfg *config.RemoteWriteConfig) (*client, error) {
	hc, err := commoncfg.NewClientFromConfig(cfg.HTTPClientConfig, "remote_storage_write_client")
	if err != nil {
		return nil, fmt.Errorf("remote_write %s: HTTP client: %w", name, err)
	}
	t := hc.Transport
	if cfg.SigV4Config != nil {
		t, err = sigv4.NewSigV4RoundTripper(cfg.SigV4Config, t)
		if err != nil {
			return nil, fmt.Errorf("remote_write %s: sigv4: %w", name, err)
		}
	}
	if len(cfg.Headers) > 0 {
		t = &headerRoundTripper{headers: cfg.Headers, next: t}
	}
	hc.Transport = t
	return &client{
		url:        cfg.URL.String(),
		msg:        cfg.ProtobufMessage,
		timeout:    time.Duration(cfg.RemoteTimeout),
		retryOn429: cfg.QueueConfig.RetryOnRateLimit,
		http:       hc,
	}, nil
}

type headerRoundTripper struct {
	headers map[string]string
	next    http.RoundTripper
}

func (h *headerRoundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	for k, v := range h.headers {
		req.Header.Set(k, v)
	}
	return h.next.RoundTrip(req)
}

// writeStats are the remote-write 2.0 response headers: what the receiver says it wrote.
type writeStats struct {
	samples    int
	histograms int
	confirmed  bool // at least one of the headers was there
}

// recoverableError is an error worth retrying (network errors, 5xx, 429 when configured).
type recoverableError struct {
	error
	retryAfter time.Duration // from Retry-After; 0: use the backoff
}

func (e recoverableError) Unwrap() error { return e.error }

// httpStatusError is a non-recoverable answer (4xx): the batch is dropped.
type httpStatusError struct {
	code int
	msg  string
}

func (e *httpStatusError) Error() string { return e.msg }

// store sends one compressed request.
func (c *client) store(ctx context.Context, body []byte, attempt int) (writeStats, error) {
	req, err := http.NewRequest(http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return writeStats{}, err
	}
	req.Header.Add("Content-Encoding", "snappy")
	req.Header.Set("User-Agent", UserAgent)
	if c.msg == remoteapi.WriteV2MessageType {
		req.Header.Set("Content-Type", contentTypeV2)
		req.Header.Set(versionHeader, version20HeaderValue)
	} else {
		req.Header.Set("Content-Type", contentTypeV1)
		req.Header.Set(versionHeader, version1HeaderValue)
	}
	if attempt > 0 {
		req.Header.Set("Retry-Attempt", strconv.Itoa(attempt))
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	resp, err := c.http.Do(req.WithContext(ctx))
	if err != nil {
		return writeStats{}, recoverableError{error: err}
	}
	defer func() {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
		_ = resp.Body.Close()
	}()
	var rs writeStats
	if v := resp.Header.Get(samplesWrittenHeader); v != "" {
		if n, err := strconv.Atoi(v); err == nil {
			rs.samples, rs.confirmed = n, true
		}
	}
	if v := resp.Header.Get(histogramsWritten); v != "" {
		if n, err := strconv.Atoi(v); err == nil {
			rs.histograms, rs.confirmed = n, true
		}
	}
	if resp.Header.Get(exemplarsWrittenHdr) != "" {
		rs.confirmed = true
	}
	if resp.StatusCode/100 == 2 {
		return rs, nil
	}
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrMsgLen))
	err = fmt.Errorf("server returned HTTP status %s: %s", resp.Status, bytes.TrimSpace(msg))
	if resp.StatusCode/100 == 5 || (c.retryOn429 && resp.StatusCode == http.StatusTooManyRequests) {
		return rs, recoverableError{error: err, retryAfter: retryAfter(resp.Header.Get("Retry-After"))}
	}
	return rs, &httpStatusError{code: resp.StatusCode, msg: err.Error()}
}

// retryAfter parses Retry-After (seconds or an HTTP date); 0 when absent or invalid.
func retryAfter(v string) time.Duration {
	if v == "" {
		return defaultRetryAfterWait
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0)
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	return defaultRetryAfterWait
}

// isRecoverable tells a retryable error.
func isRecoverable(err error) (recoverableError, bool) {
	var re recoverableError
	ok := errors.As(err, &re)
	return re, ok
}

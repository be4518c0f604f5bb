package scrape

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/vigil-monitoring/vigil/config"
	"github.com/vigil-monitoring/vigil/storage"
)

// slowBody yields its lines, each after delay (a line longer than a read is read on without
// one), and fails as the HTTP client's body
// does when the request's context ends.
type slowBody struct {
	ctx   context.Context
	lines []string
	delay time.Duration
	begun bool // the first line was partly read
}

func (b *slowBody) Read(p []byte) (int, error) {
	if len(b.lines) == 0 {
		return 0, io.EOF
	}
	if !b.begun {
		select {
		case <-time.After(b.delay):
		case <-b.ctx.Done():
			return 0, context.Cause(b.ctx)
		}
	}
	n := copy(p, b.lines[0])
	b.lines[0], b.begun = b.lines[0][n:], true
	if b.lines[0] == "" {
		b.lines, b.begun = b.lines[1:], false
	}
	return n, nil
}
func (b *slowBody) Close() error { return nil }

// slowTarget answers after headerDelay with a body of lines, each read taking lineDelay.
type slowTarget struct {
	headerDelay, lineDelay time.Duration
	lines                  []string
}

func (s slowTarget) RoundTrip(req *http.Request) (*http.Response, error) {
	select {
	case <-time.After(s.headerDelay):
	case <-req.Context().Done():
		return nil, &urlError{req.URL.String(), context.Cause(req.Context())}
	}
	return &http.Response{
		StatusCode: http.StatusOK, Status: "200 OK",
		Header: http.Header{"Content-Type": {textType}},
		Body:   &slowBody{ctx: req.Context(), lines: append([]string(nil), s.lines...), delay: s.lineDelay},
	}, nil
}

type urlError struct {
	url string
	err error
}

func (e *urlError) Error() string { return fmt.Sprintf("Get %q: %v", e.url, e.err) }
func (e *urlError) Unwrap() error { return e.err }

// slowStorage is testStorage whose appends each take delay.
type slowStorage struct {
	*testStorage
	delay time.Duration
}

func (s slowStorage) Appender(ctx context.Context) storage.Appender {
	return slowAppender{s.testStorage.Appender(ctx), s.delay}
}

type slowAppender struct {
	storage.Appender
	delay time.Duration
}

func (a slowAppender) Append(ref storage.SeriesRef, l labels.Labels, t int64, v float64) (storage.SeriesRef, error) {
	time.Sleep(a.delay)
	return a.Appender.Append(ref, l, t, v)
}

// TestScrapeTimeoutCoversNetworkOnly: scrape_timeout bounds the request and reading the body,
// not parsing and appending it (as Prometheus's), even though Vigil parses a text body as it
// arrives. Time is synctest's: the delays are exact.
func TestScrapeTimeoutCoversNetworkOnly(t *testing.T) {
	lines := make([]string, 20)
	for i := range lines {
		lines[i] = fmt.Sprintf("m{i=\"%02d\"} %d\n", i, i)
	}
	const timeout = 100 * time.Millisecond
	cases := []struct {
		name                   string
		headerDelay, lineDelay time.Duration
		appendDelay            time.Duration
		err                    string // "" for success
	}{
		{"fast target, fast append", 0, time.Millisecond, 0, ""},
		// 20 lines × 10 ms of appending = 200 ms, twice the timeout: still a success.
		{"fast target, slow append", 10 * time.Millisecond, time.Millisecond, 10 * time.Millisecond, ""},
		// The network alone: 40 + 20 × 2 = 80 ms of 100, with 400 ms of appending in between.
		{"network just in time, slow append", 40 * time.Millisecond, 2 * time.Millisecond, 20 * time.Millisecond, ""},
		{"slow headers", 2 * timeout, 0, 0, "context deadline exceeded"},
		// 20 × 6 ms = 120 ms of body.
		{"slow body", 0, 6 * time.Millisecond, 0, "context deadline exceeded"},
		{"slow body, slow append", 0, 6 * time.Millisecond, 10 * time.Millisecond, "context deadline exceeded"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				st := newTestStorage()
				sl := testLoop(t, slowStorage{st, c.appendDelay}, func(sc *config.ScrapeConfig) {
					sc.ScrapeTimeout = model.Duration(timeout)
				}, "")
				sl.chunkSize = 16 // parse (and append) a line or two per read
				sl.client = &http.Client{Transport: slowTarget{c.headerDelay, c.lineDelay, lines}}
				sl.scrapeAndReport(ts0)
				up := st.series(`{__name__="up", instance="x:1", job="test"}`)
				if c.err == "" {
					if err := sl.target.LastError(); err != nil || sl.target.Health() != HealthGood {
						t.Fatalf("health %s, lastError %v, want a success", sl.target.Health(), err)
					}
					if got := len(st.series(`{__name__="m", i="19", instance="x:1", job="test"}`)); got != 1 {
						t.Fatalf("last line stored %d times, want once", got)
					}
					if len(up) != 1 || up[0].v != 1 {
						t.Fatalf("up = %v, want 1", up)
					}
					return
				}
				if err := sl.target.LastError(); err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("lastError %v, want one containing %q", err, c.err)
				}
				if len(up) != 1 || up[0].v != 0 {
					t.Fatalf("up = %v, want 0", up)
				}
				if names := st.names(); len(names) != 5 {
					t.Errorf("only the report series may be stored: %v", names)
				}
			})
		})
	}
}

// TestNetClock checks the clock's arithmetic: it runs only between resume and pause.
func TestNetClock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, c := startNetClock(context.Background(), 100*time.Millisecond)
		defer c.stop()
		time.Sleep(60 * time.Millisecond)
		c.pause()
		time.Sleep(time.Second) // paused: does not count
		if ctx.Err() != nil {
			t.Fatal("expired while paused")
		}
		c.resume()
		time.Sleep(30 * time.Millisecond)
		c.pause()
		c.resume()
		synctest.Wait()
		if ctx.Err() != nil {
			t.Fatal("expired after 90 ms of 100")
		}
		time.Sleep(11 * time.Millisecond)
		if !errors.Is(context.Cause(ctx), context.DeadlineExceeded) {
			t.Fatalf("cause %v after 101 ms, want context.DeadlineExceeded", context.Cause(ctx))
		}
	})
}

// TestScrapeTimeoutSlowBodyHTTP is the real HTTP client: a target that sends its headers and part
// of the body, then hangs, fails with Prometheus's error text.
func TestScrapeTimeoutSlowBodyHTTP(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", textType)
		_, _ = io.WriteString(w, "a 1\nb 2\n")
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer srv.Close()
	defer close(release)
	st := newTestStorage()
	sl := testLoop(t, st, func(c *config.ScrapeConfig) { c.ScrapeTimeout = model.Duration(50 * time.Millisecond) }, host(srv))
	sl.scrapeAndReport(ts0)
	if err := sl.target.LastError(); err == nil || !strings.Contains(err.Error(), "context deadline exceeded") {
		t.Fatalf("lastError %v, want one containing %q", err, "context deadline exceeded")
	}
	if names := st.names(); len(names) != 5 {
		t.Errorf("only the report series may be stored: %v", names)
	}
}

// TestManagerStopDoesNotWaitForHangingTargets: targets that accept connections and never answer
// (SIGSTOPped exporters) must not hold the shutdown for their scrape timeout. Nothing is stored
// for the cancelled scrapes: not even up=0, the server is going down, not the targets.
func TestManagerStopDoesNotWaitForHangingTargets(t *testing.T) {
	var (
		mu    sync.Mutex
		conns []net.Conn
	)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() { // accepts and never reads nor writes
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	}()
	const interval = 10 * time.Minute
	cfg := mustLoad(t, fmt.Sprintf(`
global: {scrape_interval: 10m, scrape_timeout: 10m}
scrape_configs:
- job_name: a
  static_configs: [{targets: [%q]}]
`, ln.Addr().String()))
	// The target's first scrape waits for its offset in the interval: choose the seed that
	// makes it start now.
	sc := cfg.ScrapeConfigs[0]
	lset, discovered, err := populateLabels(labels.NewBuilder(labels.EmptyLabels()), sc, model.LabelSet{model.AddressLabel: model.LabelValue(ln.Addr().String())}, nil)
	if err != nil {
		t.Fatal(err)
	}
	hash := newTarget(sc.JobName, lset, discovered, sc.Params).hash
	phase := uint64(time.Now().Add(100*time.Millisecond).UnixNano() % int64(interval))
	st := newTestStorage()
	m := NewManager(&Options{DiscoveryUpdateInterval: 20 * time.Millisecond, OffsetSeed: hash ^ phase}, nil, st, nil)
	if err := m.ApplyConfig(cfg); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the scrape to connect", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(conns) >= 1
	})
	stopped := make(chan struct{})
	start := time.Now()
	go func() { m.Stop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(10 * time.Second): // the scrape timeout is 10 minutes
		t.Fatal("Stop still waits 10 s after it was called")
	}
	t.Logf("stopped in %s", time.Since(start))
	if all := st.all(); len(all) != 0 {
		t.Errorf("the cancelled scrapes stored %v", all)
	}
}

// BenchmarkNetClockRead is the clock's cost per body read (resume and pause around it), against
// a plain read of the same 32 KiB.
func BenchmarkNetClockRead(b *testing.B) {
	src := strings.Repeat("x", 32<<10)
	buf := make([]byte, 32<<10)
	for _, clocked := range []bool{false, true} {
		b.Run(fmt.Sprintf("clocked=%v", clocked), func(b *testing.B) {
			_, c := startNetClock(context.Background(), time.Minute)
			defer c.stop()
			b.ReportAllocs()
			for b.Loop() {
				var r io.Reader = strings.NewReader(src)
				if clocked {
					r = c.reader(r)
				}
				if _, err := r.Read(buf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

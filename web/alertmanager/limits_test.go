package alertmanager

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigil-monitoring/vigil/routing"
)

func newTestHandler(t *testing.T) (*Handler, *routing.Router) {
	t.Helper()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "am.yml")
	if err := os.WriteFile(cfg, []byte("route: {receiver: r}\nreceivers: [{name: r}]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	r, err := routing.New(routing.Options{ConfigFile: cfg, DataDir: filepath.Join(dir, "data"), Registerer: reg, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	h, err := New(r, nil, reg)
	if err != nil {
		r.Stop()
		t.Fatal(err)
	}
	return h, r
}

// endless is a JSON document that never ends: head, then item over and over. It counts the
// bytes read from it.
type endless struct {
	head, item string
	off        int // of the next byte in head+item, then in item
	n          atomic.Int64
}

func (e *endless) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		src := e.item
		if e.off < len(e.head) {
			src = e.head
		}
		pos := e.off
		if src == e.item && e.off >= len(e.head) {
			pos = (e.off - len(e.head)) % len(e.item)
		}
		c := copy(p[n:], src[pos:])
		n += c
		e.off += c
	}
	e.n.Add(int64(n))
	return n, nil
}

// A body larger than MaxAlertsBodyBytes (POST /api/v2/alerts) or MaxBodyBytes (silences) is
// not read past the limit and is answered 400 with upstream's parse error, so that one client
// cannot make Vigil hold an arbitrarily large body (400 MB took the process to 1.3 GB).
func TestRequestBodiesAreBounded(t *testing.T) {
	h, r := newTestHandler(t)
	defer r.Stop()
	for _, tc := range []struct {
		name, path, head, item string
		limit                  int64
	}{
		{"alerts", "/api/v2/alerts", "[", `{"labels":{"alertname":"Big","instance":"host:9100"},"annotations":{"summary":"padding"}},`, MaxAlertsBodyBytes},
		{"silences", "/api/v2/silences", `{"comment":"c","createdBy":"me","startsAt":"2026-01-01T00:00:00Z","endsAt":"2027-01-01T00:00:00Z","matchers":[`, `{"name":"a","value":"b","isRegex":false},`, MaxBodyBytes},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := &endless{head: tc.head, item: tc.item}
			req := httptest.NewRequest(http.MethodPost, tc.path, io.LimitReader(body, 64<<20))
			req.Header.Set("Content-Type", "application/json")
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "request body too large") {
				t.Fatalf("POST %s with 64 MiB: %d %.300s", tc.path, rec.Code, rec.Body.String())
			}
			// Readers fill whole buffers: allow one buffer past the limit.
			if got := body.n.Load(); got > tc.limit+64<<10 {
				t.Fatalf("read %d bytes of the body, limit %d", got, tc.limit)
			}
		})
	}
	// A body just under the limit is still taken.
	var b strings.Builder
	b.WriteString("[")
	for i := 0; b.Len() < MaxAlertsBodyBytes-1024; i++ {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(`{"labels":{"alertname":"Big","n":"` + strings.Repeat("x", 1000) + `"}}`)
	}
	b.WriteString("]")
	req := httptest.NewRequest(http.MethodPost, "/api/v2/alerts", strings.NewReader(b.String()))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("POST /api/v2/alerts with %d bytes: %d %.300s", b.Len(), rec.Code, rec.Body.String())
	}
}

// blockingBody blocks its reader until released; it reports its first read on started.
type blockingBody struct {
	once    sync.Once
	started chan<- struct{}
	release chan struct{}
	r       io.Reader
}

func (b *blockingBody) Read(p []byte) (int, error) {
	b.once.Do(func() { b.started <- struct{}{} })
	<-b.release
	return b.r.Read(p)
}

// At most MaxConcurrentIntake POST /api/v2/alerts requests read their bodies at once; the rest
// wait for a slot before reading, and get one as requests finish.
func TestConcurrentIntakeIsBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h, r := newTestHandler(t)
		defer r.Stop()
		const n = MaxConcurrentIntake + 8
		started := make(chan struct{}, n)
		bodies := make([]*blockingBody, n)
		var wg sync.WaitGroup
		codes := make([]int, n)
		for i := range bodies {
			bodies[i] = &blockingBody{started: started, release: make(chan struct{}), r: strings.NewReader(`[{"labels":{"alertname":"A"}}]`)}
			req := httptest.NewRequest(http.MethodPost, "/api/v2/alerts", bodies[i])
			req.Header.Set("Content-Type", "application/json")
			wg.Go(func() {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				codes[i] = rec.Code
			})
		}
		synctest.Wait()
		reading := len(started)
		for _, b := range bodies {
			close(b.release)
		}
		wg.Wait()
		if reading != MaxConcurrentIntake {
			t.Fatalf("%d requests reading their bodies at once, want %d", reading, MaxConcurrentIntake)
		}
		if got := len(started); got != n {
			t.Fatalf("%d of %d requests read their bodies", got, n)
		}
		for i, c := range codes {
			if c != http.StatusOK {
				t.Fatalf("request %d: %d", i, c)
			}
		}
	})
}

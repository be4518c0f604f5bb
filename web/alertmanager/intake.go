package alertmanager

import (
	"bytes"
	"io"
	"mime"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/go-openapi/strfmt"
	"github.com/go-openapi/swag"
	"github.com/go-openapi/validate"
	"github.com/prometheus/alertmanager/matcher/compat"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"

	"github.com/vigil-monitoring/vigil/routing"
)

// postAlerts is the fast path of POST /api/v2/alerts, the hot endpoint every Prometheus
// server calls. It takes only requests it can answer exactly as upstream would — a JSON array
// of alerts in the plain shape (see decoder) that pass upstream's model validation and alert
// validation, checked with upstream's own functions — and stores them without building
// upstream's models or alert values. Everything else (other content types, other JSON shapes,
// invalid alerts) goes to the upstream handler with the body intact, so that error codes and
// messages stay Alertmanager's.
func (h *Handler) postAlerts(w http.ResponseWriter, r *http.Request) {
	// At most MaxConcurrentIntake requests read and store at once, so that the memory bodies
	// take is bounded; the others wait for a slot (or for their client to give up) before
	// reading anything.
	select {
	case h.intakeSlots <- struct{}{}:
		defer func() { <-h.intakeSlots }()
	case <-r.Context().Done():
		return
	}
	st := intakePool.Get().(*intakeState)
	defer st.release()
	st.buf.Reset()
	if r.ContentLength > 0 {
		st.buf.Grow(int(min(r.ContentLength, MaxAlertsBodyBytes+1)))
	}
	if _, err := st.buf.ReadFrom(http.MaxBytesReader(w, r.Body, MaxAlertsBodyBytes)); err != nil {
		// A body too large (or cut short): upstream's handler gets the bytes read and then the
		// same error, so the answer is Alertmanager's own (400, "parsing alerts body ... failed").
		h.fallbacks.Add(1)
		r.Body = io.NopCloser(io.MultiReader(bytes.NewReader(st.buf.Bytes()), errReader{err}))
		h.api.ServeHTTP(w, r)
		return
	}
	body := st.buf.Bytes()
	if h.storeAlerts(st, r.Header.Get("Content-Type"), body) {
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusOK)
		return
	}
	h.fallbacks.Add(1)
	r.Body = io.NopCloser(bytes.NewReader(body))
	h.api.ServeHTTP(w, r)
}

// errReader fails every read with err.
type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// storeAlerts stores the alerts of body if the fast path can take them all; false means the
// request is for upstream's handler and nothing was stored.
func (h *Handler) storeAlerts(st *intakeState, contentType string, body []byte) bool {
	if !isJSON(contentType) {
		return false
	}
	// The decoded strings are substrings of the body buffer, which the next request reuses:
	// routing's Store copies what it keeps, and release drops every reference to them.
	if len(body) == 0 || !st.dec.decode(unsafe.String(&body[0], len(body))) {
		return false
	}
	now := time.Now()
	in, firing, ok := st.convert(now, h.router.ResolveTimeout())
	if !ok {
		// Upstream stores the valid alerts of the batch and reports the invalid ones.
		return false
	}
	h.router.Store(in)
	h.received.firing.Add(float64(firing))
	h.received.resolved.Add(float64(len(in) - firing))
	return true
}

var intakePool = sync.Pool{New: func() any { return new(intakeState) }}

// intakeState is the reusable scratch of one intake request.
type intakeState struct {
	buf    bytes.Buffer
	dec    decoder
	packed []byte             // packed label sets of this request (see labelSet)
	in     []routing.Incoming // the converted alerts
	// The last time strings seen, and their outcome: within a batch from one Prometheus rule
	// evaluation they repeat.
	lastStart, lastEnd timeMemo
	// The last generator URL seen and whether it is valid, kept across requests (a copy, not
	// a substring of a body): a Prometheus rule sends the same one with every alert.
	lastURL   string
	lastURLOK bool
}

// release clears the references into the request's body and returns st to the pool.
func (st *intakeState) release() {
	clear(st.dec.pairs)
	clear(st.dec.alerts)
	clear(st.in)
	st.dec.s = ""
	st.lastStart, st.lastEnd = timeMemo{}, timeMemo{}
	if st.buf.Cap() > 1<<20 {
		return // let an unusually large buffer go
	}
	intakePool.Put(st)
}

const maxMemoURL = 4 << 10 // longer generator URLs are validated every time, not kept

type timeMemo struct {
	s  string
	t  time.Time
	ok bool
}

func isJSON(ct string) bool {
	if ct == "application/json" {
		return true
	}
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && mt == "application/json"
}

// dateTime decodes and validates a startsAt or endsAt value exactly as upstream's model does:
// strfmt's parser, then the date-time format check of the re-rendered value.
func (m *timeMemo) dateTime(field, s string) (time.Time, bool) {
	if m.s == s && m.s != "" {
		return m.t, m.ok
	}
	m.s, m.t, m.ok = s, time.Time{}, false
	dt, err := strfmt.ParseDateTime(s)
	if err != nil {
		return time.Time{}, false
	}
	if !swag.IsZero(dt) && validate.FormatOf(field, "body", "date-time", dt.String(), strfmt.Default) != nil {
		return time.Time{}, false
	}
	m.t, m.ok = time.Time(dt), true
	return m.t, true
}

// convert validates the decoded alerts with upstream's rules and applies upstream's defaults.
// It returns the alerts to store and how many are firing; ok is false if any alert would be
// rejected.
func (st *intakeState) convert(now time.Time, resolveTimeout time.Duration) (out []routing.Incoming, firing int, ok bool) {
	st.packed = st.packed[:0]
	out = slices.Grow(st.in[:0], len(st.dec.alerts))[:len(st.dec.alerts)]
	st.in = out
	pairs := st.dec.pairs
	for i := range st.dec.alerts {
		a := &st.dec.alerts[i]
		if !a.hasLabels {
			return nil, 0, false // required by the model
		}
		var startsAt, endsAt time.Time
		if a.hasStarts {
			if startsAt, ok = st.lastStart.dateTime("startsAt", a.startsAt); !ok {
				return nil, 0, false
			}
		}
		if a.hasEnds {
			if endsAt, ok = st.lastEnd.dateTime("endsAt", a.endsAt); !ok {
				return nil, 0, false
			}
		}
		if a.generatorURL != "" {
			if a.generatorURL != st.lastURL {
				st.lastURLOK = validate.FormatOf("generatorURL", "body", "uri", a.generatorURL, strfmt.Default) == nil
				st.lastURL = ""
				if len(a.generatorURL) <= maxMemoURL {
					st.lastURL = strings.Clone(a.generatorURL)
				}
			}
			if !st.lastURLOK {
				return nil, 0, false
			}
		}
		// Upstream's handler: defaults, then empty label values dropped, then validation.
		startsAt, endsAt, timeout := routing.TimeDefaults(now, startsAt, endsAt, resolveTimeout)
		if endsAt.Before(startsAt) {
			return nil, 0, false
		}
		labels, ok := st.labelSet(pairs[a.labels.lo:a.labels.hi], true)
		if !ok || labels == "" {
			return nil, 0, false
		}
		annots, ok := st.labelSet(pairs[a.annotations.lo:a.annotations.hi], false)
		if !ok {
			return nil, 0, false
		}
		out[i] = routing.Incoming{
			Labels: labels, Annotations: annots, GeneratorURL: a.generatorURL,
			StartsAt: startsAt, EndsAt: endsAt, UpdatedAt: now, Timeout: timeout,
		}
		if endsAt.After(now) {
			firing++
		}
	}
	return out, firing, true
}

// labelSet sorts, checks and packs one label set: upstream's validation (label names by the
// configured name rule, values valid UTF-8), empty values dropped when dropEmpty (labels, not
// annotations). Duplicate names, which encoding/json would merge, are left to upstream.
//
// The packed set lives in st's scratch buffer, which the next request overwrites: routing's
// Store copies what it keeps (new alerts, changed annotations), so an update of a known alert
// allocates nothing for its labels.
func (st *intakeState) labelSet(ps []routing.LabelPair, dropEmpty bool) (routing.Labels, bool) {
	if dropEmpty {
		n := 0
		for _, p := range ps {
			if p.Value != "" {
				ps[n] = p
				n++
			}
		}
		ps = ps[:n]
	}
	slices.SortFunc(ps, func(a, b routing.LabelPair) int { return strings.Compare(a.Name, b.Name) })
	for i, p := range ps {
		if i > 0 && ps[i-1].Name == p.Name {
			return "", false
		}
		if !compat.IsValidLabelName(model.LabelName(p.Name)) || !utf8.ValidString(p.Value) {
			return "", false
		}
	}
	start := len(st.packed)
	st.packed = routing.AppendPairs(st.packed, ps)
	if len(st.packed) == start {
		return "", true
	}
	// Appending never writes over bytes already handed out: a grown buffer is a new array.
	return routing.Labels(unsafe.String(&st.packed[start], len(st.packed)-start)), true
}

// receivedCounters are upstream's alertmanager_alerts_received_total counters, captured when
// the upstream API registers them, so that the fast path counts into the same series.
type receivedCounters struct {
	firing, resolved prometheus.Counter
}

// capturingRegisterer passes registrations through and keeps the received-alerts counter.
type capturingRegisterer struct {
	prometheus.Registerer
	received *prometheus.CounterVec
}

func (c *capturingRegisterer) Register(col prometheus.Collector) error {
	if err := c.Registerer.Register(col); err != nil {
		return err
	}
	if cv, ok := col.(*prometheus.CounterVec); ok && describes(cv, "alertmanager_alerts_received_total") {
		c.received = cv
	}
	return nil
}

func (c *capturingRegisterer) MustRegister(cols ...prometheus.Collector) {
	for _, col := range cols {
		if err := c.Register(col); err != nil {
			panic(err)
		}
	}
}

func describes(c prometheus.Collector, name string) bool {
	ch := make(chan *prometheus.Desc, 4)
	go func() { c.Describe(ch); close(ch) }()
	found := false
	for d := range ch {
		if strings.Contains(d.String(), `fqName: "`+name+`"`) {
			found = true
		}
	}
	return found
}

func newReceivedCounters(cv *prometheus.CounterVec) receivedCounters {
	if cv == nil {
		// No registry: count into unregistered counters.
		cv = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "alertmanager_alerts_received_total"}, []string{"status"})
	}
	return receivedCounters{firing: cv.WithLabelValues(string(model.AlertFiring)), resolved: cv.WithLabelValues(string(model.AlertResolved))}
}

package v1

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/klauspost/compress/gzip"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/vigil-monitoring/vigil/promql"
)

// flushSize is how much encoded JSON is buffered before it is written out: big query results are
// streamed in pieces instead of being held whole in memory.
const flushSize = 64 << 10

// encoder appends JSON to a buffer by hand (no reflection) for the hot types — query results,
// label sets, string lists — and falls back to encoding/json for the rest. Strings are escaped
// exactly as encoding/json (and Prometheus's jsoniter configuration) does, HTML characters
// included.
type encoder struct {
	w   io.Writer
	buf []byte
	err error
}

func newEncoder(w io.Writer) *encoder {
	return &encoder{w: w, buf: make([]byte, 0, 4096)}
}

func (e *encoder) maybeFlush() {
	if len(e.buf) >= flushSize {
		_ = e.flush()
	}
}

func (e *encoder) flush() error {
	if e.err == nil && len(e.buf) > 0 {
		_, e.err = e.w.Write(e.buf)
	}
	e.buf = e.buf[:0]
	return e.err
}

// queryData is the data of /query and /query_range.
type queryData struct {
	ResultType parser.ValueType
	Result     promql.Value
	Stats      *queryStats // with the stats parameter
}

func (e *encoder) value(v any) error {
	switch v := v.(type) {
	case *queryData:
		e.buf = append(e.buf, `{"resultType":`...)
		e.buf = appendString(e.buf, string(v.ResultType))
		e.buf = append(e.buf, `,"result":`...)
		if err := e.result(v.Result); err != nil {
			return err
		}
		if v.Stats != nil {
			b, err := json.Marshal(v.Stats)
			if err != nil {
				return fmt.Errorf("encoding query stats: %w", err)
			}
			e.buf = append(e.buf, `,"stats":`...)
			e.buf = append(e.buf, b...)
		}
		e.buf = append(e.buf, '}')
	case []string:
		e.buf = appendStrings(e.buf, v)
	case []labels.Labels:
		e.buf = append(e.buf, '[')
		for i, l := range v {
			if i > 0 {
				e.buf = append(e.buf, ',')
			}
			e.buf = appendLabels(e.buf, l)
			e.maybeFlush()
		}
		e.buf = append(e.buf, ']')
	default:
		b, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("encoding %T: %w", v, err)
		}
		e.buf = append(e.buf, b...)
	}
	return nil
}

func (e *encoder) result(v promql.Value) error {
	switch v := v.(type) {
	case promql.StepMatrix:
		// A range query's result: points on the step grid, written without materializing them.
		e.buf = append(e.buf, '[')
		for i := range v.Series {
			s := &v.Series[i]
			if i > 0 {
				e.buf = append(e.buf, ',')
			}
			e.buf = append(e.buf, `{"metric":`...)
			e.buf = appendLabels(e.buf, s.Metric)
			if s.Histograms == nil {
				e.buf = append(e.buf, `,"values":[`...)
				first := true
				for j, f := range s.Values {
					if !s.Has(j) {
						continue
					}
					if !first {
						e.buf = append(e.buf, ',')
					}
					first = false
					e.buf = appendPoint(e.buf, v.Start+int64(s.First+j)*v.Step, f)
					if j&1023 == 1023 {
						e.maybeFlush()
					}
				}
				e.buf = append(e.buf, ']', '}')
				e.maybeFlush()
				continue
			}
			// A series with native histograms: its floats under "values" and its histograms
			// under "histograms", each list left out when empty, as Prometheus writes them.
			e.stepPoints(v, s, false)
			e.stepPoints(v, s, true)
			e.buf = append(e.buf, '}')
			e.maybeFlush()
		}
		e.buf = append(e.buf, ']')
	case promql.Matrix:
		e.buf = append(e.buf, '[')
		for i, s := range v {
			if i > 0 {
				e.buf = append(e.buf, ',')
			}
			e.buf = append(e.buf, `{"metric":`...)
			e.buf = appendLabels(e.buf, s.Metric)
			if len(s.Floats) > 0 {
				e.buf = append(e.buf, `,"values":[`...)
				for j, p := range s.Floats {
					if j > 0 {
						e.buf = append(e.buf, ',')
					}
					e.buf = appendPoint(e.buf, p.T, p.F)
					if j&1023 == 1023 {
						e.maybeFlush()
					}
				}
				e.buf = append(e.buf, ']')
			}
			if len(s.Histograms) > 0 {
				e.buf = append(e.buf, `,"histograms":[`...)
				for j, p := range s.Histograms {
					if j > 0 {
						e.buf = append(e.buf, ',')
					}
					e.buf = appendHPoint(e.buf, p.T, p.H)
					e.maybeFlush()
				}
				e.buf = append(e.buf, ']')
			}
			e.buf = append(e.buf, '}')
			e.maybeFlush()
		}
		e.buf = append(e.buf, ']')
	case promql.Vector:
		e.buf = append(e.buf, '[')
		for i, s := range v {
			if i > 0 {
				e.buf = append(e.buf, ',')
			}
			e.buf = append(e.buf, `{"metric":`...)
			e.buf = appendLabels(e.buf, s.Metric)
			if s.H != nil {
				e.buf = append(e.buf, `,"histogram":`...)
				e.buf = appendHPoint(e.buf, s.T, s.H)
			} else {
				e.buf = append(e.buf, `,"value":`...)
				e.buf = appendPoint(e.buf, s.T, s.F)
			}
			e.buf = append(e.buf, '}')
			e.maybeFlush()
		}
		e.buf = append(e.buf, ']')
	case promql.Scalar:
		// Prometheus marshals scalars with plain 'f' formatting (no exponent), unlike samples.
		e.buf = append(e.buf, '[')
		e.buf = appendFloatTimestamp(e.buf, v.T)
		e.buf = append(e.buf, ',', '"')
		e.buf = strconv.AppendFloat(e.buf, v.V, 'f', -1, 64)
		e.buf = append(e.buf, '"', ']')
	case promql.String:
		e.buf = append(e.buf, '[')
		e.buf = appendFloatTimestamp(e.buf, v.T)
		e.buf = append(e.buf, ',')
		e.buf = appendString(e.buf, v.V)
		e.buf = append(e.buf, ']')
	default:
		return fmt.Errorf("unknown query result type %T", v)
	}
	return nil
}

// stepPoints writes the float points (histograms false) or the histogram points of a
// StepSeries that holds histograms, as `,"values":[…]` or `,"histograms":[…]`, nothing when
// it has none of that kind.
func (e *encoder) stepPoints(m promql.StepMatrix, s *promql.StepSeries, histograms bool) {
	first := true
	for j, f := range s.Values {
		h := s.Histograms[j]
		if !s.Has(j) || (h != nil) != histograms {
			continue
		}
		if first {
			if histograms {
				e.buf = append(e.buf, `,"histograms":[`...)
			} else {
				e.buf = append(e.buf, `,"values":[`...)
			}
			first = false
		} else {
			e.buf = append(e.buf, ',')
		}
		t := m.Start + int64(s.First+j)*m.Step
		if histograms {
			e.buf = appendHPoint(e.buf, t, h)
			e.maybeFlush()
		} else {
			e.buf = appendPoint(e.buf, t, f)
		}
	}
	if !first {
		e.buf = append(e.buf, ']')
	}
}

func (e *encoder) stringList(prefix string, ss []string) {
	if len(ss) == 0 {
		return
	}
	e.buf = append(e.buf, prefix...)
	e.buf = appendStrings(e.buf, ss)
}

func appendStrings(b []byte, ss []string) []byte {
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, s)
	}
	return append(b, ']')
}

// appendPoint writes [<seconds>,"<value>"] as Prometheus does for vector and matrix samples.
func appendPoint(b []byte, t int64, f float64) []byte {
	b = append(b, '[')
	b = appendTimestamp(b, t)
	b = append(b, ',', '"')
	b = appendFloat(b, f)
	return append(b, '"', ']')
}

// appendHPoint writes [<seconds>,{<histogram>}] as Prometheus does for histogram samples.
func appendHPoint(b []byte, t int64, h *histogram.FloatHistogram) []byte {
	b = append(b, '[')
	b = appendTimestamp(b, t)
	b = append(b, ',')
	b = appendHistogram(b, h)
	return append(b, ']')
}

// appendHistogram writes a native histogram as Prometheus's jsonutil.MarshalHistogram does:
// {"count":"…","sum":"…","buckets":[[<boundaries>,"<lower>","<upper>","<count>"],…]}, empty
// buckets left out (and "buckets" with them when all are empty). The boundaries rule is 0 for
// (lower, upper], 1 for [lower, upper), 2 for (lower, upper) and 3 for [lower, upper].
func appendHistogram(b []byte, h *histogram.FloatHistogram) []byte {
	b = append(b, `{"count":"`...)
	b = appendFloat(b, h.Count)
	b = append(b, `","sum":"`...)
	b = appendFloat(b, h.Sum)
	b = append(b, '"')
	found := false
	it := h.AllBucketIterator()
	for it.Next() {
		bucket := it.At()
		if bucket.Count == 0 {
			continue
		}
		if found {
			b = append(b, ',')
		} else {
			b = append(b, `,"buckets":[`...)
			found = true
		}
		rule := byte('2')
		switch {
		case bucket.LowerInclusive && bucket.UpperInclusive:
			rule = '3'
		case bucket.LowerInclusive:
			rule = '1'
		case bucket.UpperInclusive:
			rule = '0'
		}
		b = append(b, '[', rule, ',', '"')
		b = appendFloat(b, bucket.Lower)
		b = append(b, '"', ',', '"')
		b = appendFloat(b, bucket.Upper)
		b = append(b, '"', ',', '"')
		b = appendFloat(b, bucket.Count)
		b = append(b, '"', ']')
	}
	if found {
		b = append(b, ']')
	}
	return append(b, '}')
}

// appendTimestamp writes milliseconds as seconds with up to three decimals, without going
// through a float (which could round).
func appendTimestamp(b []byte, t int64) []byte {
	u := uint64(t)
	if t < 0 {
		b = append(b, '-')
		u = -u
	}
	b = strconv.AppendUint(b, u/1000, 10)
	if frac := u % 1000; frac != 0 {
		b = append(b, '.')
		if frac < 100 {
			b = append(b, '0')
		}
		if frac < 10 {
			b = append(b, '0')
		}
		b = strconv.AppendUint(b, frac, 10)
	}
	return b
}

// appendFloatTimestamp writes milliseconds as Prometheus does for scalars and strings: the
// float64 seconds encoded by encoding/json ("1.5", where samples get "1.500").
func appendFloatTimestamp(b []byte, t int64) []byte {
	s := float64(t) / 1000
	if math.IsInf(s, 0) || math.IsNaN(s) {
		return appendTimestamp(b, t)
	}
	enc, err := json.Marshal(s)
	if err != nil {
		return appendTimestamp(b, t)
	}
	return append(b, enc...)
}

// appendFloat formats a sample value as Prometheus does: shortest representation, exponent
// notation only for magnitudes below 1e-6 or from 1e21 on, and NaN, +Inf, -Inf.
func appendFloat(b []byte, f float64) []byte {
	switch {
	case math.IsNaN(f):
		return append(b, "NaN"...)
	case math.IsInf(f, 1):
		return append(b, "+Inf"...)
	case math.IsInf(f, -1):
		return append(b, "-Inf"...)
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	return strconv.AppendFloat(b, f, format, -1, 64)
}

func appendLabels(b []byte, ls labels.Labels) []byte {
	b = append(b, '{')
	first := true
	ls.Range(func(l labels.Label) {
		if !first {
			b = append(b, ',')
		}
		first = false
		b = appendLabelString(b, l.Name)
		b = append(b, ':')
		b = appendLabelString(b, l.Value)
	})
	return append(b, '}')
}

const hexDigits = "0123456789abcdef"

// appendString writes s as a JSON string escaped as Prometheus's encoder (jsoniter configured
// like encoding/json) does for response strings: control characters (\b and \f as \u0008 and
// \u000c), quote and backslash, the HTML-sensitive <, > and &, U+2028/U+2029, and invalid UTF-8
// as U+FFFD.
func appendString(b []byte, s string) []byte { return appendJSONString(b, s, true) }

// appendLabelString writes a label name or value as Prometheus's label marshalling does: the
// same but without HTML or U+2028/U+2029 escaping. Unlike Prometheus, invalid UTF-8 still
// becomes U+FFFD, so that the document stays valid JSON.
func appendLabelString(b []byte, s string) []byte { return appendJSONString(b, s, false) }

func appendJSONString(b []byte, s string, html bool) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && (!html || (c != '<' && c != '>' && c != '&')) {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			if html {
				b = append(b, `\ufffd`...)
			} else {
				b = append(b, "\uFFFD"...)
			}
			i += size
			start = i
			continue
		}
		if html && (r == '\u2028' || r == '\u2029') {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// compressWriter gzips the response when the client accepts it, as Prometheus's API does. The
// returned function must be called once the body is written.
func compressWriter(w http.ResponseWriter, r *http.Request) (io.Writer, func() error) {
	if !acceptsGzip(r.Header.Get("Accept-Encoding")) {
		return w, func() error { return nil }
	}
	w.Header().Set("Content-Encoding", "gzip")
	w.Header().Add("Vary", "Accept-Encoding")
	// BestSpeed: responses are mostly digits and repeated label sets, which compress well even
	// at the fastest level, and the CPU is better spent on queries.
	gz, err := gzip.NewWriterLevel(w, gzip.BestSpeed)
	if err != nil {
		w.Header().Del("Content-Encoding")
		return w, func() error { return nil }
	}
	return gz, gz.Close
}

func acceptsGzip(h string) bool {
	for part := range strings.SplitSeq(h, ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.TrimSpace(name) != "gzip" {
			continue
		}
		// "gzip;q=0" refuses it.
		return strings.ReplaceAll(strings.TrimSpace(params), " ", "") != "q=0"
	}
	return false
}

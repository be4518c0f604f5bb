package adapter

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/prometheus/common/model"
)

// decodeVector decodes the result of a vector query, [{"metric":{...},"value":[t,"v"]}, ...],
// which encoding/json has already validated as part of the response. A Pods metric for 1,000
// pods is a vector of 1,000 samples; decoding it by reflection (a map and a few interface
// conversions per sample) was a third of the adapter's CPU per request. Samples without a
// value (native histograms) are skipped; label names are shared between samples.
func decodeVector(b []byte) (model.Vector, error) {
	d := vecDecoder{b: b, names: map[string]model.LabelName{}}
	d.ws()
	if !d.eat('[') {
		return nil, d.errorf("want a list of samples")
	}
	vec := model.Vector{}
	d.ws()
	if d.eat(']') {
		return vec, nil
	}
	for {
		s, ok, err := d.sample()
		if err != nil {
			return nil, err
		}
		if ok {
			vec = append(vec, s)
		}
		d.ws()
		if d.eat(']') {
			return vec, nil
		}
		if !d.eat(',') {
			return nil, d.errorf("want , or ] after a sample")
		}
		d.ws()
	}
}

type vecDecoder struct {
	b     []byte
	i     int
	names map[string]model.LabelName
}

func (d *vecDecoder) errorf(format string, args ...any) error {
	return fmt.Errorf("decoding the query result at byte %d: %s", d.i, fmt.Sprintf(format, args...))
}

func (d *vecDecoder) ws() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

func (d *vecDecoder) eat(c byte) bool {
	if d.i < len(d.b) && d.b[d.i] == c {
		d.i++
		return true
	}
	return false
}

// str reads a string; raw is its bytes when it has no escapes (the common case), else nil and
// s is the unescaped value.
func (d *vecDecoder) str() (raw []byte, s string, err error) {
	if !d.eat('"') {
		return nil, "", d.errorf("want a string")
	}
	start := d.i
	escaped := false
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case '\\':
			escaped = true
			d.i += 2
			continue
		case '"':
			d.i++
			if !escaped {
				return d.b[start : d.i-1], "", nil
			}
			err := json.Unmarshal(d.b[start-1:d.i], &s)
			return nil, s, err
		}
		d.i++
	}
	return nil, "", d.errorf("unterminated string")
}

func (d *vecDecoder) strValue() (string, error) {
	raw, s, err := d.str()
	if raw != nil {
		s = string(raw)
	}
	return s, err
}

// skip skips one value (valid JSON).
func (d *vecDecoder) skip() error {
	depth := 0
	for d.i < len(d.b) {
		switch c := d.b[d.i]; c {
		case '"':
			if _, _, err := d.str(); err != nil {
				return err
			}
			if depth == 0 {
				return nil
			}
			continue
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth < 0 {
				return d.errorf("unbalanced %c", c)
			}
			if depth == 0 {
				d.i++
				return nil
			}
		case ',':
			if depth == 0 {
				return nil
			}
		}
		d.i++
	}
	if depth != 0 {
		return d.errorf("unterminated value")
	}
	return nil
}

func (d *vecDecoder) sample() (*model.Sample, bool, error) {
	if !d.eat('{') {
		return nil, false, d.errorf("want a sample object")
	}
	s := &model.Sample{}
	hasValue := false
	d.ws()
	if d.eat('}') {
		return nil, false, nil
	}
	for {
		raw, key, err := d.str()
		if err != nil {
			return nil, false, err
		}
		if raw != nil {
			key = string(raw) // short; only three keys are expected
		}
		d.ws()
		if !d.eat(':') {
			return nil, false, d.errorf("want : after a key")
		}
		d.ws()
		switch key {
		case "metric":
			if s.Metric, err = d.metric(); err != nil {
				return nil, false, err
			}
		case "value":
			if s.Timestamp, s.Value, err = d.pair(); err != nil {
				return nil, false, err
			}
			hasValue = true
		default: // "histogram" and whatever a server adds
			if err := d.skip(); err != nil {
				return nil, false, err
			}
		}
		d.ws()
		if d.eat('}') {
			if s.Metric == nil {
				s.Metric = model.Metric{}
			}
			return s, hasValue, nil
		}
		if !d.eat(',') {
			return nil, false, d.errorf("want , or } in a sample")
		}
		d.ws()
	}
}

func (d *vecDecoder) metric() (model.Metric, error) {
	if d.i+4 <= len(d.b) && string(d.b[d.i:d.i+4]) == "null" {
		d.i += 4
		return model.Metric{}, nil
	}
	if !d.eat('{') {
		return nil, d.errorf("want a label set")
	}
	m := model.Metric{}
	d.ws()
	if d.eat('}') {
		return m, nil
	}
	for {
		raw, name, err := d.str()
		if err != nil {
			return nil, err
		}
		var ln model.LabelName
		if raw != nil {
			var ok bool
			if ln, ok = d.names[string(raw)]; !ok {
				ln = model.LabelName(raw)
				d.names[string(ln)] = ln
			}
		} else {
			ln = model.LabelName(name)
		}
		d.ws()
		if !d.eat(':') {
			return nil, d.errorf("want : after a label name")
		}
		d.ws()
		v, err := d.strValue()
		if err != nil {
			return nil, err
		}
		m[ln] = model.LabelValue(v)
		d.ws()
		if d.eat('}') {
			return m, nil
		}
		if !d.eat(',') {
			return nil, d.errorf("want , or } in a label set")
		}
		d.ws()
	}
}

// pair reads [<unix seconds>, "<value>"].
func (d *vecDecoder) pair() (model.Time, model.SampleValue, error) {
	if !d.eat('[') {
		return 0, 0, d.errorf("want a [time, value] pair")
	}
	d.ws()
	start := d.i
	for d.i < len(d.b) {
		if c := d.b[d.i]; c == ',' || c == ']' || c == ' ' || c == '\t' || c == '\n' || c == '\r' {
			break
		}
		d.i++
	}
	// model.Time's own parsing (seconds with up to millisecond digits, the rest truncated), so
	// that times come out exactly as Prometheus's client libraries read them.
	var ts model.Time
	if err := ts.UnmarshalJSON(d.b[start:d.i]); err != nil {
		return 0, 0, d.errorf("sample time: %v", err)
	}
	d.ws()
	if !d.eat(',') {
		return 0, 0, d.errorf("want , in a [time, value] pair")
	}
	d.ws()
	raw, s, err := d.str()
	if err != nil {
		return 0, 0, errors.New("sample value is not a string")
	}
	if raw != nil {
		s = string(raw)
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, 0, d.errorf("sample value: %v", err)
	}
	d.ws()
	if !d.eat(']') {
		return 0, 0, d.errorf("want ] after a [time, value] pair")
	}
	return ts, model.SampleValue(v), nil
}

package alertmanager

import (
	"encoding/json"

	"github.com/vigil-monitoring/vigil/routing"
)

// rawAlert is one element of a POST /api/v2/alerts body as decodeAlerts reads it: strings as
// encoding/json would decode them, not yet validated. Label pairs are ranges of the request's
// shared pair slice, in body order.
type rawAlert struct {
	labels, annotations  span
	hasLabels, hasAnnots bool
	startsAt, endsAt     string
	hasStarts, hasEnds   bool
	generatorURL         string
	hasGenerator         bool
}

type span struct{ lo, hi int }

// decoder reads the body of POST /api/v2/alerts in one pass without reflection. It accepts only
// the plain shape every client sends — a non-empty JSON array of objects whose keys are exactly
// labels, annotations (objects of strings), startsAt, endsAt, generatorURL (strings), each at
// most once — and reports false for anything else (other keys or spellings, null, numbers,
// duplicate keys, trailing data, malformed JSON), which the caller hands to upstream's decoder
// so that its answer, error or not, stays upstream's. Strings without escapes or non-ASCII
// bytes are substrings of the body; others are decoded by encoding/json itself.
type decoder struct {
	s      string
	i      int
	pairs  []routing.LabelPair
	alerts []rawAlert
}

func (d *decoder) ws() {
	for d.i < len(d.s) {
		switch d.s[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// eat skips whitespace and consumes c.
func (d *decoder) eat(c byte) bool {
	d.ws()
	if d.i < len(d.s) && d.s[d.i] == c {
		d.i++
		return true
	}
	return false
}

func (d *decoder) peek() byte {
	d.ws()
	if d.i < len(d.s) {
		return d.s[d.i]
	}
	return 0
}

// str reads a JSON string.
func (d *decoder) str() (string, bool) {
	d.ws()
	if d.i >= len(d.s) || d.s[d.i] != '"' {
		return "", false
	}
	start := d.i
	plain := true
	for j := d.i + 1; j < len(d.s); j++ {
		c := d.s[j]
		switch {
		case c == '"':
			d.i = j + 1
			if plain {
				return d.s[start+1 : j], true
			}
			var out string
			if err := json.Unmarshal([]byte(d.s[start:j+1]), &out); err != nil {
				return "", false
			}
			return out, true
		case c == '\\':
			plain = false
			j++ // the escaped byte; encoding/json validates the escape
		case c < 0x20:
			return "", false
		case c >= 0x80:
			plain = false
		}
	}
	return "", false
}

// object reads an object of strings into d.pairs.
func (d *decoder) object() (span, bool) {
	sp := span{lo: len(d.pairs)}
	if !d.eat('{') {
		return sp, false
	}
	if d.eat('}') {
		sp.hi = len(d.pairs)
		return sp, true
	}
	for {
		k, ok := d.str()
		if !ok || !d.eat(':') {
			return sp, false
		}
		v, ok := d.str()
		if !ok {
			return sp, false
		}
		d.pairs = append(d.pairs, routing.LabelPair{Name: k, Value: v})
		if d.eat(',') {
			continue
		}
		if !d.eat('}') {
			return sp, false
		}
		sp.hi = len(d.pairs)
		return sp, true
	}
}

func (d *decoder) alert() bool {
	var a rawAlert
	if !d.eat('{') {
		return false
	}
	if !d.eat('}') {
		for {
			k, ok := d.str()
			if !ok || !d.eat(':') {
				return false
			}
			switch k {
			case "labels":
				if a.hasLabels {
					return false
				}
				a.labels, ok = d.object()
				a.hasLabels = true
			case "annotations":
				if a.hasAnnots {
					return false
				}
				a.annotations, ok = d.object()
				a.hasAnnots = true
			case "startsAt":
				if a.hasStarts {
					return false
				}
				a.startsAt, ok = d.str()
				a.hasStarts = true
			case "endsAt":
				if a.hasEnds {
					return false
				}
				a.endsAt, ok = d.str()
				a.hasEnds = true
			case "generatorURL":
				if a.hasGenerator {
					return false
				}
				a.generatorURL, ok = d.str()
				a.hasGenerator = true
			default:
				return false
			}
			if !ok {
				return false
			}
			if d.eat(',') {
				continue
			}
			if !d.eat('}') {
				return false
			}
			break
		}
	}
	d.alerts = append(d.alerts, a)
	return true
}

// decode reads body; false means "not the plain shape", never "invalid alert".
func (d *decoder) decode(body string) bool {
	d.s, d.i = body, 0
	d.pairs, d.alerts = d.pairs[:0], d.alerts[:0]
	if !d.eat('[') || d.peek() == ']' {
		return false
	}
	for {
		if !d.alert() {
			return false
		}
		if d.eat(',') {
			continue
		}
		if !d.eat(']') {
			return false
		}
		d.ws()
		return d.i == len(d.s)
	}
}

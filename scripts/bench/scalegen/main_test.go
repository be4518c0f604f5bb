package main

import (
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/textparse"
)

func newTestTarget(i, series int) *target {
	t := &target{idx: i, rnd: newRand(i), node: "node-a", nodeIP: "10.0.0.1"}
	t.build(series)
	return t
}

// TestBodyParses: a target's body is valid text exposition with unique series, about the size
// asked for, and its label sets survive parseSeries/textOf (the history mode's path).
func TestBodyParses(t *testing.T) {
	tg := newTestTarget(3, 10000)
	tg.render()
	body := *tg.body.Load()
	p, err := textparse.New(body, "text/plain", labels.NewSymbolTable(), textparse.ParserOptions{})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for {
		e, err := p.Next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			t.Fatalf("parse: %v", err)
		}
		if e != textparse.EntrySeries {
			continue
		}
		var ls labels.Labels
		p.Labels(&ls)
		if seen[ls.String()] {
			t.Fatalf("duplicate series %s", ls)
		}
		seen[ls.String()] = true
	}
	if n := len(seen); n < 10000 || n > 10100 {
		t.Fatalf("%d series, want about 10000", n)
	}
	for _, s := range tg.series {
		ls, err := parseSeries(s.prefix)
		if err != nil {
			t.Fatal(err)
		}
		if !seen[ls.String()] {
			t.Fatalf("parseSeries(%q) = %s, not in the body", s.prefix, ls)
		}
		back, err := parseSeries(textOf(ls))
		if err != nil || !labels.Equal(back, ls) {
			t.Fatalf("textOf round trip of %s: %s, %v", ls, back, err)
		}
	}
}

// TestChurn: a churn replaces the asked fraction of pods by new series and keeps the rest.
func TestChurn(t *testing.T) {
	tg := newTestTarget(1, 10000)
	before := map[string]bool{}
	for _, s := range tg.series {
		before[s.prefix] = true
	}
	pods := tg.pods
	tg.churn(0.1)
	if tg.pods != pods {
		t.Fatalf("pods %d -> %d", pods, tg.pods)
	}
	kept, added := 0, 0
	for _, s := range tg.series {
		if before[s.prefix] {
			kept++
		} else {
			added++
			if s.owner < 0 {
				t.Fatalf("node series changed: %s", s.prefix)
			}
		}
	}
	frac := float64(added) / float64(len(tg.series))
	if frac < 0.05 || frac > 0.15 {
		t.Fatalf("churn replaced %.1f%% of the series (%d new, %d kept), want about 10%%", 100*frac, added, kept)
	}
	if !strings.Contains(tg.series[len(tg.series)-1].prefix, "container_network") {
		t.Fatalf("pod series out of order after churn: %s", tg.series[len(tg.series)-1].prefix)
	}
}

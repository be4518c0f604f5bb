package promqltest

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
)

func TestParse(t *testing.T) {
	script := `
# comment
load 1m
	metric{a="1"} 1+1x2 _ 5
	metric{a="2"} {{schema:0 sum:1 count:1}}
	metric{a="1"} 7

eval instant at 1m metric
	expect warn msg: something happened
	expect no_info
	metric{a="1"} 7

eval range from 0 to 2m step 1m sum(metric)
	{} 1 2 3

eval_fail instant at 0 foo(
	expected_fail_regexp parse.*

eval instant at 0 "x"
	expect string "x"

eval_ordered instant at 0 sort(metric)
	5

clear
`
	cmds, err := Parse(script)
	if err != nil {
		t.Fatal(err)
	}
	if len(cmds) != 7 {
		t.Fatalf("got %d commands, want 7", len(cmds))
	}
	load := cmds[0].(*Load)
	if load.Interval != time.Minute || !load.NativeHistograms || len(load.Series) != 2 {
		t.Fatalf("load: %+v", load)
	}
	// The repeated definition of metric{a="1"} replaces the first one.
	if s := load.Series[0]; !labels.Equal(s.Metric, labels.FromStrings("__name__", "metric", "a", "1")) || len(s.Samples) != 1 || s.Samples[0].F != 7 {
		t.Errorf("series 0: %+v", s)
	}
	inst := cmds[1].(*Eval)
	if inst.IsRange || inst.EvalAt != StartTime.Add(time.Minute) || len(inst.Expects[ExpectWarn]) != 1 ||
		!inst.Expects[ExpectWarn][0].Match("something happened") || inst.Expects[ExpectNoInfo] == nil {
		t.Errorf("instant eval: %+v", inst)
	}
	rng := cmds[2].(*Eval)
	if !rng.IsRange || rng.Step != time.Minute || rng.End != StartTime.Add(2*time.Minute) {
		t.Errorf("range eval: %+v", rng)
	}
	if err := rng.CompareResult(Result{Type: parser.ValueTypeMatrix, Series: []ResultSeries{{
		Metric: labels.EmptyLabels(), Points: []Point{{T: 0, F: 1}, {T: 60000, F: 2}, {T: 120000, F: 3}},
	}}}); err != nil {
		t.Errorf("matching matrix rejected: %v", err)
	}
	if err := rng.CompareResult(Result{Type: parser.ValueTypeMatrix, Series: []ResultSeries{{
		Metric: labels.EmptyLabels(), Points: []Point{{T: 0, F: 1}, {T: 60000, F: 2.5}, {T: 120000, F: 3}},
	}}}); err == nil {
		t.Error("wrong matrix accepted")
	}
	fail := cmds[3].(*Eval)
	if !fail.IsFail() || fail.FailRegexp == nil {
		t.Errorf("fail eval: %+v", fail)
	}
	if str := cmds[4].(*Eval); str.ExpectedString == nil || *str.ExpectedString != "x" || !str.ExcludeFromRangeQuery {
		t.Errorf("string eval: %+v", str)
	}
	if _, ok := cmds[6].(*Clear); !ok {
		t.Errorf("last command %T, want *Clear", cmds[6])
	}
	if ord := cmds[5].(*Eval); !ord.IsOrdered() || !ord.ExpectScalar {
		t.Errorf("ordered eval: %+v", ord)
	}
}

func TestParseErrors(t *testing.T) {
	for _, script := range []string{
		"load x\n\tm 1",
		"eval instant at 0\n",
		"frobnicate",
		"eval range from 2m to 1m step 1m m",
		"eval instant at 0 m\n\texpect bogus",
	} {
		if _, err := Parse(script); err == nil {
			t.Errorf("%q: no error", script)
		}
	}
}

func TestAtModifierVariants(t *testing.T) {
	v, err := AtModifierVariants(`sum(rate(m[5m])) + m offset 1m`, time.Unix(100, 0))
	if err != nil {
		t.Fatal(err)
	}
	if len(v) != 5 {
		t.Fatalf("got %d variants, want 5", len(v))
	}
	if want := `sum(rate(m[5m] @ 100.000)) + m @ 100.000 offset 1m`; v[0].Expr != want {
		t.Errorf("got %q, want %q", v[0].Expr, want)
	}
	if v, _ := AtModifierVariants(`time() + m`, time.Unix(100, 0)); v != nil {
		t.Errorf("time() must not get @ variants: %v", v)
	}
	if !strings.Contains(QueryContextFuncs.String(), "start") {
		t.Error("QueryContextFuncs lost start()")
	}
}

package promqltest

import (
	"testing"

	"github.com/prometheus/prometheus/model/labels"
)

func TestParseStartTimestamps(t *testing.T) {
	for _, tc := range []struct {
		name   string
		script string
		want   []Point // of the series c
	}{
		{
			name:   "offsets, omitted, repeat and steps",
			script: "load 1m\n  c@st _ 0 -30s -1mx1 1ms-1msx1 _x1 +1m\n  c    _ 1 2 3 4 5 6 7 8\n",
			want: []Point{
				{ST: 60000, T: 60000, F: 1},           // offset 0: st = t (0 at t=0 would be "none")
				{ST: 120000 - 30000, T: 120000, F: 2}, // -30s
				{ST: 120000, T: 180000, F: 3},         // -1m
				{ST: 180000, T: 240000, F: 4},         // -1m
				{ST: 300000 + 1, T: 300000, F: 5},     // 1ms
				{ST: 360000, T: 360000, F: 6},         // 0 (1ms - 1ms)
				{T: 420000, F: 7},                     // _
				{ST: 540000, T: 480000, F: 8},         // +1m
			},
		},
		{
			name:   "no @st line",
			script: "load 1m\n  c 1 2\n",
			want:   []Point{{T: 0, F: 1}, {T: 60000, F: 2}},
		},
	} {
		cmds, err := Parse(tc.script)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		load := cmds[0].(*Load)
		if len(load.Series) != 1 || !labels.Equal(load.Series[0].Metric, labels.FromStrings("__name__", "c")) {
			t.Fatalf("%s: series %+v", tc.name, load.Series)
		}
		got := load.Series[0].Samples
		if len(got) != len(tc.want) {
			t.Fatalf("%s: %d samples %+v, want %d", tc.name, len(got), got, len(tc.want))
		}
		for i := range got {
			if got[i].ST != tc.want[i].ST || got[i].T != tc.want[i].T || got[i].F != tc.want[i].F {
				t.Errorf("%s: sample %d: %+v, want %+v", tc.name, i, got[i], tc.want[i])
			}
		}
		if load.StartTimestamps != (tc.name != "no @st line") {
			t.Errorf("%s: StartTimestamps = %v", tc.name, load.StartTimestamps)
		}
	}
}

func TestParseStartTimestampErrors(t *testing.T) {
	for name, script := range map[string]string{
		"no following line":   "load 1m\n  c@st 0 0\n",
		"two @st lines":       "load 1m\n  c@st 0\n  c@st 0\n  c 1\n",
		"other metric":        "load 1m\n  c@st 0 0\n  d 1 2\n",
		"length mismatch":     "load 1m\n  c@st 0\n  c 1 2\n",
		"bad duration":        "load 1m\n  c@st 5q\n  c 1\n",
		"bad repeat":          "load 1m\n  c@st 1mxz\n  c 1\n",
		"step without repeat": "load 1m\n  c@st 1m+1m\n  c 1\n",
		"zero omitted repeat": "load 1m\n  c@st _x0\n  c 1\n",
		"bad metric":          "load 1m\n  c{@st 0\n  c 1\n",
		"huge repeat":         "load 1m\n  c@st 0x99999999999\n  c 1\n",
	} {
		if _, err := Parse(script); err == nil {
			t.Errorf("%s: no error for %q", name, script)
		}
	}
}

// FuzzParseSTSequence checks that no @st sequence makes the parser panic.
func FuzzParseSTSequence(f *testing.F) {
	for _, s := range []string{"_ _ -30s-1mx2 -1m-1mx2 -59999ms-1mx2", "_x3 0 +1m 1ms-1msx1", "-0msx15", "1mx", "+"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		vals, err := parseSTSequence(s)
		if err == nil && len(vals) > 0 && len(s) == 0 {
			t.Fatalf("values from an empty sequence")
		}
	})
}

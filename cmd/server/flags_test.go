package main

import (
	"strings"
	"testing"

	"github.com/alecthomas/kingpin/v2"
)

// /api/v1/status/flags lists Vigil's flags without dashes, with their values, and none of
// kingpin's own (as Prometheus).
func TestFlagValues(t *testing.T) {
	f, err := parseFlags([]string{"--web.enable-lifecycle", "--storage.tsdb.path=/data", "--query.max-samples=100"})
	if err != nil {
		t.Fatal(err)
	}
	got := f.api.flagValues()
	for name, want := range map[string]string{
		"web.enable-lifecycle":        "true",
		"storage.tsdb.path":           "/data",
		"query.max-samples":           "100",
		"storage.tsdb.retention.time": "15d",
		"web.listen-address":          ":9090",
		"config.file":                 "",
		"alertmanager.config.file":    "",
	} {
		if v, ok := got[name]; !ok || v != want {
			t.Errorf("%s = %q (listed %v), want %q", name, v, ok, want)
		}
	}
	for _, name := range []string{"help", "help-long", "help-man", "completion-bash", "completion-script-bash", "completion-script-zsh", "version"} {
		if v, ok := got[name]; ok {
			t.Errorf("kingpin's flag %s listed (%q)", name, v)
		}
	}
}

// --help lists every command: the server (default) and those main runs by hand.
func TestHelpListsCommands(t *testing.T) {
	var out strings.Builder
	app := kingpin.New("vigil", appHelp)
	app.Terminate(nil)
	app.UsageWriter(&out)
	app.ErrorWriter(&out)
	if _, err := parseFlagsOf(app, []string{"--help"}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"server*", "check rules [<flags>] <rule-files>...", "check config [<flags>] <config-files>...", "test rules [<flags>] <test-rule-file>...", "explain alert [<flags>] <labels>...", "--storage.tsdb.path"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("--help lacks %q:\n%s", want, out.String())
		}
	}
}

// --runtime.release-startup-pages is on unless turned off.
func TestReleaseStartupPagesFlag(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want bool
	}{
		{nil, true},
		{[]string{"--no-runtime.release-startup-pages"}, false},
	} {
		f, err := parseFlags(tc.args)
		if err != nil {
			t.Fatal(err)
		}
		if f.releaseStartupPages != tc.want {
			t.Errorf("%v: releaseStartupPages = %v, want %v", tc.args, f.releaseStartupPages, tc.want)
		}
	}
}

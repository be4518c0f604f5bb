package ruler

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// promtool returns the path of promtool (Debian package prometheus, installed by
// scripts/deps.sh) and its major version. Without it the parity tests skip, except on CI where
// they fail: a silent skip there would hide a regression.
func promtool(t *testing.T) (string, int) {
	t.Helper()
	p, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("promtool not found (run scripts/deps.sh): %v", err)
		}
		t.Skip("promtool not found; run scripts/deps.sh")
	}
	out, _ := exec.Command(p, "--version").CombinedOutput()
	m := regexp.MustCompile(`version (\d+)\.`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("cannot read promtool version from %q", out)
	}
	major, _ := strconv.Atoi(string(m[1]))
	return p, major
}

func runPromtool(t *testing.T, bin string, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode(), string(out)
		}
		t.Fatalf("running promtool %v: %v", args, err)
	}
	return 0, string(out)
}

func glob(t *testing.T, pattern string) []string {
	t.Helper()
	files, err := filepath.Glob(pattern)
	if err != nil || len(files) == 0 {
		t.Fatalf("no files for %s (%v)", pattern, err)
	}
	return files
}

// TestUnitTestParityWithPromtool runs every test file under testdata/unittest with promtool
// and with Vigil and requires the same exit code, which must also match the file's name
// (pass_* succeed, fail_* fail), so that the comparison cannot pass with both broken.
func TestUnitTestParityWithPromtool(t *testing.T) {
	bin, _ := promtool(t)
	for _, f := range append(glob(t, "testdata/unittest/pass_*.yml"), glob(t, "testdata/unittest/fail_*.yml")...) {
		t.Run(filepath.Base(f), func(t *testing.T) {
			want := SuccessExitCode
			if strings.HasPrefix(filepath.Base(f), "fail_") {
				want = FailureExitCode
			}
			pcode, pout := runPromtool(t, bin, "test", "rules", f)
			var stdout, stderr bytes.Buffer
			vcode := RulesUnitTest(&stdout, &stderr, UnitTestOptions{TempDir: t.TempDir()}, f)
			if pcode != want {
				t.Errorf("promtool exit code %d, the file expects %d:\n%s", pcode, want, pout)
			}
			if vcode != pcode {
				t.Errorf("vigil exit code %d, promtool %d\nvigil:\n%s%s\npromtool:\n%s", vcode, pcode, stdout.String(), stderr.String(), pout)
			}
		})
	}
}

// TestCheckRulesParityWithPromtool compares `check rules` verdicts on good and bad files, with
// and without --lint-fatal. Files under testdata/rules/v3 use features of Prometheus 3 (the
// rulefmt Vigil is built with): Vigil must accept them, and promtool too when it is 3.x.
func TestCheckRulesParityWithPromtool(t *testing.T) {
	bin, major := promtool(t)
	type tc struct {
		file      string
		lintFatal bool
		want      int
	}
	var cases []tc
	for _, f := range glob(t, "testdata/rules/good/*.yml") {
		cases = append(cases, tc{f, false, SuccessExitCode})
	}
	for _, f := range glob(t, "testdata/rules/bad/*.yml") {
		cases = append(cases, tc{f, false, FailureExitCode})
	}
	cases = append(cases, tc{"testdata/rules/good/duplicate_lint.yml", true, LintExitCode})
	for _, c := range cases {
		t.Run(filepath.Base(c.file)+map[bool]string{true: "/lint-fatal"}[c.lintFatal], func(t *testing.T) {
			args := []string{"check", "rules"}
			if c.lintFatal {
				args = append(args, "--lint-fatal")
			}
			pcode, pout := runPromtool(t, bin, append(args, c.file)...)
			var stdout, stderr bytes.Buffer
			vcode := CheckRules(&stdout, &stderr, CheckOptions{LintFatal: c.lintFatal}, c.file)
			if pcode != c.want {
				t.Errorf("promtool exit code %d, want %d:\n%s", pcode, c.want, pout)
			}
			if vcode != pcode {
				t.Errorf("vigil exit code %d, promtool %d\nvigil:\n%s%s\npromtool:\n%s", vcode, pcode, stdout.String(), stderr.String(), pout)
			}
		})
	}
	for _, f := range glob(t, "testdata/rules/v3/*.yml") {
		t.Run("v3/"+filepath.Base(f), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := CheckRules(&stdout, &stderr, CheckOptions{}, f); code != SuccessExitCode {
				t.Errorf("vigil rejects a Prometheus 3 rule file (exit %d):\n%s", code, stderr.String())
			}
			if major >= 3 {
				if pcode, pout := runPromtool(t, bin, "check", "rules", f); pcode != SuccessExitCode {
					t.Errorf("promtool %d.x rejects it (exit %d):\n%s", major, pcode, pout)
				}
			}
		})
	}
}

// TestCheckConfigParityWithPromtool compares `check config` verdicts: the main file, its
// rule_files globs (a plain path must exist) and the rule files themselves.
func TestCheckConfigParityWithPromtool(t *testing.T) {
	bin, _ := promtool(t)
	for _, f := range glob(t, "testdata/config/*.yml") {
		t.Run(filepath.Base(f), func(t *testing.T) {
			want := SuccessExitCode
			if strings.HasPrefix(filepath.Base(f), "bad_") {
				want = FailureExitCode
			}
			pcode, pout := runPromtool(t, bin, "check", "config", f)
			var stdout, stderr bytes.Buffer
			vcode := CheckConfig(&stdout, &stderr, CheckOptions{}, f)
			if pcode != want {
				t.Errorf("promtool exit code %d, the file expects %d:\n%s", pcode, want, pout)
			}
			if vcode != pcode {
				t.Errorf("vigil exit code %d, promtool %d\nvigil:\n%s%s\npromtool:\n%s", vcode, pcode, stdout.String(), stderr.String(), pout)
			}
		})
	}
}

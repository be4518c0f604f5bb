package ruler

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/vigil-monitoring/vigil/config"
)

// Lint settings of `check rules` and `check config`, promtool's --lint values.
const (
	LintAll            = "all"
	LintDuplicateRules = "duplicate-rules"
	LintNone           = "none"
)

// CheckOptions configure CheckRules and CheckConfig.
type CheckOptions struct {
	// Lint is a comma-separated list of LintAll, LintDuplicateRules, LintNone (default
	// duplicate-rules, as promtool).
	Lint string
	// LintFatal makes lint findings fail with LintExitCode.
	LintFatal bool
	// Parser parses expressions; nil uses promql.DefaultParserOptions.
	Parser parser.Parser
	// ValidateConfig checks a loaded configuration file as the server does before applying it
	// (HTTP clients of scrape jobs and Alertmanagers, ...), so that `check config` accepts what
	// the server accepts. Nil checks nothing more.
	ValidateConfig func(*config.Config) error
}

func (o CheckOptions) lintDuplicates() bool {
	lint := o.Lint
	if lint == "" {
		lint = LintDuplicateRules
	}
	for _, s := range strings.Split(lint, ",") {
		if s == LintAll || s == LintDuplicateRules {
			return true
		}
	}
	return false
}

var errLint = errors.New("lint error")

// CheckRules validates rule files as `promtool check rules` does, with its output and exit
// codes: FailureExitCode when a file is invalid, LintExitCode for lint findings with LintFatal.
func CheckRules(stdout, stderr io.Writer, o CheckOptions, files ...string) int {
	failed, hasErrors := checkRuleFiles(stdout, stderr, o, files)
	return exitCode(failed, hasErrors, o.LintFatal)
}

func exitCode(failed, hasErrors, lintFatal bool) int {
	if failed && hasErrors {
		return FailureExitCode
	}
	if failed && lintFatal {
		return LintExitCode
	}
	return SuccessExitCode
}

func checkRuleFiles(stdout, stderr io.Writer, o CheckOptions, files []string) (failed, hasErrors bool) {
	for _, f := range files {
		fmt.Fprintln(stdout, "Checking", f)
		rgs, errs := ParseFile(f, o.Parser, nil)
		if errs != nil {
			failed, hasErrors = true, true
			fmt.Fprintln(stderr, "  FAILED:")
			for _, e := range errs {
				fmt.Fprintln(stderr, e.Error())
			}
			fmt.Fprintln(stdout)
			continue
		}
		n := 0
		for _, rg := range rgs.Groups {
			n += len(rg.Rules)
		}
		if o.lintDuplicates() {
			if dups := duplicateRules(rgs.Groups); len(dups) > 0 {
				failed = true
				fmt.Fprintln(stderr, "  FAILED:")
				fmt.Fprintln(stderr, fmt.Errorf("%w %s", errLint, duplicatesMessage(dups)).Error())
				fmt.Fprintln(stdout)
				continue
			}
		}
		fmt.Fprintf(stdout, "  SUCCESS: %d rules found\n", n)
		fmt.Fprintln(stdout)
	}
	return failed, hasErrors
}

type ruleKey struct {
	metric string
	labels labels.Labels
}

func compareRuleKeys(a, b ruleKey) int {
	if c := strings.Compare(a.metric, b.metric); c != 0 {
		return c
	}
	return labels.Compare(a.labels, b.labels)
}

// duplicateRules finds rules with the same name and labels (promtool's duplicate-rules lint):
// two recording rules writing the same series overwrite each other.
func duplicateRules(groups []rulefmt.RuleGroup) []ruleKey {
	var keys []ruleKey
	for _, g := range groups {
		for _, r := range g.Rules {
			name := r.Record
			if r.Alert != "" {
				name = r.Alert
			}
			keys = append(keys, ruleKey{metric: name, labels: fromMaps(g.Labels, r.Labels)})
		}
	}
	if len(keys) < 2 {
		return nil
	}
	slices.SortFunc(keys, compareRuleKeys)
	var dups []ruleKey
	last := keys[0]
	for _, k := range keys[1:] {
		if compareRuleKeys(last, k) == 0 && (len(dups) == 0 || compareRuleKeys(last, dups[len(dups)-1]) != 0) {
			dups = append(dups, k)
		}
		last = k
	}
	return dups
}

func duplicatesMessage(dups []ruleKey) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d duplicate rule(s) found.\n", len(dups))
	for _, d := range dups {
		fmt.Fprintf(&b, "Metric: %s\nLabel(s):\n", d.metric)
		d.labels.Range(func(l labels.Label) { fmt.Fprintf(&b, "\t%s: %s\n", l.Name, l.Value) })
	}
	b.WriteString("Might cause inconsistency while recording expressions")
	return b.String()
}

// CheckConfig validates main configuration files and their rule files as `promtool check
// config` does. The main file is loaded by Vigil's config package, so a Prometheus feature
// Vigil does not implement is reported as an error.
func CheckConfig(stdout, stderr io.Writer, o CheckOptions, files ...string) int {
	failed, hasErrors := false, false
	for _, f := range files {
		ruleFiles, err := checkConfigFile(stdout, f, o.ValidateConfig)
		if err != nil {
			fmt.Fprintln(stderr, "  FAILED:", err)
			failed, hasErrors = true, true
		} else {
			if len(ruleFiles) > 0 {
				fmt.Fprintf(stdout, "  SUCCESS: %d rule files found\n", len(ruleFiles))
			}
			fmt.Fprintf(stdout, " SUCCESS: %s is valid prometheus config file syntax\n", f)
		}
		fmt.Fprintln(stdout)
		rf, rh := checkRuleFiles(stdout, stderr, o, ruleFiles)
		failed = failed || rf
		hasErrors = hasErrors || rh
	}
	return exitCode(failed, hasErrors, o.LintFatal)
}

func checkConfigFile(stdout io.Writer, filename string, validate func(*config.Config) error) ([]string, error) {
	fmt.Fprintln(stdout, "Checking", filename)
	cfg, err := config.LoadFile(filename)
	if err != nil {
		return nil, err
	}
	if validate != nil {
		if err := validate(cfg); err != nil {
			return nil, err
		}
	}
	// The rule files the server would load.
	return ExpandRuleFiles(cfg.RuleFiles)
}

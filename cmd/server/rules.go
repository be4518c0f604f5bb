package main

// Rules wiring: the rule manager on the TSDB and Vigil's engine, alerts to the router and to
// external Alertmanagers, reloads with the rest of the configuration, and the promtool-compatible
// subcommands `vigil check rules|config` and `vigil test rules`.

import (
	"fmt"
	"io"

	"github.com/alecthomas/kingpin/v2"

	"github.com/vigil-monitoring/vigil/ruler"
)

// runRulesCommand runs `vigil check rules|config` or `vigil test rules` if args name them, and
// reports whether it did. Output and exit codes are promtool's, so CI scripts keep working.
func runRulesCommand(args []string, stdout, stderr io.Writer) (bool, int) {
	if len(args) == 0 || (args[0] != "check" && args[0] != "test") {
		return false, 0
	}
	app := kingpin.New("vigil", "Check and unit-test rule files (promtool compatible).")
	app.Terminate(nil)
	app.ErrorWriter(stderr)
	app.UsageWriter(stderr)

	check := app.Command("check", "Check the resources for validity.")
	lintHelp := "Linting checks to apply. Available options are: all, duplicate-rules, none. Use --lint=none to disable linting"

	checkRules := check.Command("rules", "Check if the rule files are valid or not.")
	rulesFiles := checkRules.Arg("rule-files", "The rule files to check.").Required().ExistingFiles()
	rulesLint := checkRules.Flag("lint", lintHelp).Default(ruler.LintDuplicateRules).String()
	rulesLintFatal := checkRules.Flag("lint-fatal", "Make lint errors exit with exit code 3.").Default("false").Bool()

	checkConfig := check.Command("config", "Check if the config files are valid or not.")
	configFiles := checkConfig.Arg("config-files", "The config files to check.").Required().ExistingFiles()
	configLint := checkConfig.Flag("lint", lintHelp).Default(ruler.LintDuplicateRules).String()
	configLintFatal := checkConfig.Flag("lint-fatal", "Make lint errors exit with exit code 3.").Default("false").Bool()

	test := app.Command("test", "Unit testing.")
	testRules := test.Command("rules", "Unit tests for rules.")
	testRun := testRules.Flag("run", "If set, will only run test groups whose names match the regular expression. Can be specified multiple times.").Strings()
	testFiles := testRules.Arg("test-rule-file", "The unit test file.").Required().ExistingFiles()

	cmd, err := app.Parse(args)
	if err != nil {
		fmt.Fprintf(stderr, "vigil: %v\n", err)
		return true, ruler.FailureExitCode
	}
	switch cmd {
	case checkRules.FullCommand():
		return true, ruler.CheckRules(stdout, stderr, ruler.CheckOptions{Lint: *rulesLint, LintFatal: *rulesLintFatal}, *rulesFiles...)
	case checkConfig.FullCommand():
		return true, ruler.CheckConfig(stdout, stderr, ruler.CheckOptions{Lint: *configLint, LintFatal: *configLintFatal}, *configFiles...)
	case testRules.FullCommand():
		return true, ruler.RulesUnitTest(stdout, stderr, ruler.UnitTestOptions{Run: *testRun}, *testFiles...)
	}
	// `vigil check` or `vigil test` without a subcommand: kingpin printed the usage.
	return true, ruler.FailureExitCode
}

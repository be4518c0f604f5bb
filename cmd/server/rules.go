package main

// Rules wiring: the rule manager on the TSDB and Vigil's engine, alerts to the router and to
// external Alertmanagers, reloads with the rest of the configuration, and the promtool-compatible
// subcommands `vigil check rules|config` and `vigil test rules`.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strconv"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"

	"github.com/vigil-monitoring/vigil/config"
	"github.com/vigil-monitoring/vigil/notifier"
	"github.com/vigil-monitoring/vigil/promql"
	"github.com/vigil-monitoring/vigil/routing"
	"github.com/vigil-monitoring/vigil/ruler"
	"github.com/vigil-monitoring/vigil/tsdb"
	apiv1 "github.com/vigil-monitoring/vigil/web/api/v1"
)

type rulesFlags struct {
	outageTolerance model.Duration
	gracePeriod     model.Duration
	resendDelay     model.Duration
	queueCapacity   int
}

// registerRulesFlags adds the rule and notification flags under Prometheus's names and defaults.
func registerRulesFlags(app *kingpin.Application) *rulesFlags {
	var f rulesFlags
	app.Flag("rules.alert.for-outage-tolerance", "Max time to tolerate outage for restoring \"for\" state of alert.").Default("1h").SetValue(&f.outageTolerance)
	app.Flag("rules.alert.for-grace-period", "Minimum duration between alert and restored \"for\" state. This is maintained only for alerts with configured \"for\" time greater than grace period.").Default("10m").SetValue(&f.gracePeriod)
	app.Flag("rules.alert.resend-delay", "Minimum amount of time to wait before resending an alert to Alertmanager.").Default("1m").SetValue(&f.resendDelay)
	app.Flag("alertmanager.notification-queue-capacity", "The capacity of the queue for pending Alertmanager notifications.").Default("10000").IntVar(&f.queueCapacity)
	return &f
}

// rulerNotifier is the ruler's Notifier in the server: the rule manager's alerts go to the
// notifier (external labels, alert relabeling, external Alertmanagers), which hands them on to
// Vigil's routing in memory. The ruler and the notifier each own their alert type; the fields are
// the same, so converting is a plain type conversion, no copy of labels.
type rulerNotifier struct{ s *notifier.Sender }

func (n rulerNotifier) Send(ctx context.Context, alerts ...ruler.Notification) error {
	out := make([]notifier.Alert, len(alerts))
	for i, a := range alerts {
		out[i] = notifier.Alert(a)
	}
	return n.s.Send(ctx, out...)
}

// routingLocal hands the notifier's alerts to Vigil's routing, in the same process.
type routingLocal struct{ r *routing.Router }

func (l routingLocal) Send(ctx context.Context, alerts ...notifier.Alert) error {
	out := make([]routing.Alert, len(alerts))
	for i, a := range alerts {
		out[i] = routing.Alert(a)
	}
	return l.r.Send(ctx, out...)
}

// rulesRuntime is the rule manager and its alert sender. newRules makes the sender (and the
// API view of the rules) before the PromQL engine exists; start runs the rules on that engine.
type rulesRuntime struct {
	f       *rulesFlags
	reg     prometheus.Registerer
	logger  *slog.Logger
	Manager *ruler.Manager // nil until start
	Sender  *notifier.Sender
}

// newRules makes the sender of alerts to local (Vigil's routing; nil: none) and to the configured
// external Alertmanagers. Rules run once start is called.
func newRules(f *rulesFlags, local *routing.Router, reg prometheus.Registerer, logger *slog.Logger) *rulesRuntime {
	if f == nil {
		f = &rulesFlags{}
	}
	logger = logger.With("component", "rule manager")
	var l notifier.Local
	if local != nil {
		l = routingLocal{local}
	}
	sender := notifier.NewSender(l, notifier.SenderOptions{
		QueueCapacity: f.queueCapacity, Registerer: reg, Logger: logger.With("component", "notifier"),
	})
	return &rulesRuntime{f: f, reg: reg, logger: logger, Sender: sender}
}

// Stop stops rule evaluation, then alert delivery.
func (r *rulesRuntime) Stop() {
	if r.Manager != nil {
		r.Manager.Stop()
	}
	r.Sender.Stop()
}

// start runs the rule manager over db with the configuration rl loaded, and registers with rl
// so that reloads update rules and Alertmanagers (a bad rule file leaves the old rules running
// and fails the reload). Rule files that do not load at startup are an error, as in Prometheus.
//
// engine is the API's engine: as in Prometheus, rules and queries share one engine, so
// --query.lookback-delta, --query.max-samples, --query.timeout and --query.max-concurrency
// apply to rule evaluation too.
func (r *rulesRuntime) start(db *tsdb.DB, engine *promql.Engine, rl *reloader, extURL *url.URL) error {
	f := r.f
	m := ruler.NewManager(&ruler.Options{
		QueryFunc:       ruler.EngineQueryFunc(engine, db),
		Queryable:       db,
		Appendable:      db,
		Notifier:        rulerNotifier{r.Sender},
		Logger:          r.logger,
		Registerer:      r.reg,
		OutageTolerance: time.Duration(f.outageTolerance),
		ForGracePeriod:  time.Duration(f.gracePeriod),
		ResendDelay:     time.Duration(f.resendDelay),
	})
	apply := func(cfg *config.Config) error {
		// Rules first: a bad rule file fails the reload before the Alertmanagers change.
		if err := m.ApplyConfig(cfg, extURL); err != nil {
			return err
		}
		return r.Sender.ApplyConfig(cfg)
	}
	if cfg := rl.Config(); cfg != nil {
		if err := apply(cfg); err != nil {
			m.Stop()
			return fmt.Errorf("rules: %w", err)
		}
	}
	rl.Add("rules", apply)
	// The rule files are checked before any component applies a reloaded prometheus.yml, so
	// that a bad rule file changes nothing, scraping included.
	rl.Check("rules", func(cfg *config.Config) error {
		files, err := ruler.ExpandRuleFiles(cfg.RuleFiles)
		if err != nil {
			return err
		}
		if _, errs := m.LoadGroups(time.Duration(cfg.GlobalConfig.EvaluationInterval), cfg.GlobalConfig.ExternalLabels, extURL, files...); errs != nil {
			return errors.Join(errs...)
		}
		return nil
	})
	r.Sender.Run()
	m.Run()
	r.Manager = m
	return nil
}

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
	cmds := registerRulesCommands(app)
	cmd, err := app.Parse(args)
	if err != nil {
		fmt.Fprintf(stderr, "vigil: %v\n", err)
		return true, ruler.FailureExitCode
	}
	if code, ok := cmds.run(cmd, stdout, stderr); ok {
		return true, code
	}
	// `vigil check` or `vigil test` without a subcommand: kingpin printed the usage.
	return true, ruler.FailureExitCode
}

// rulesCommands are the promtool-compatible commands, registered on an application.
type rulesCommands struct {
	run func(cmd string, stdout, stderr io.Writer) (code int, ok bool)
}

// registerRulesCommands adds `check rules`, `check config` and `test rules` to app, with
// promtool's flags and arguments.
func registerRulesCommands(app *kingpin.Application) rulesCommands {
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

	return rulesCommands{run: func(cmd string, stdout, stderr io.Writer) (int, bool) {
		switch cmd {
		case checkRules.FullCommand():
			return ruler.CheckRules(stdout, stderr, ruler.CheckOptions{Lint: *rulesLint, LintFatal: *rulesLintFatal}, *rulesFiles...), true
		case checkConfig.FullCommand():
			return ruler.CheckConfig(stdout, stderr, ruler.CheckOptions{Lint: *configLint, LintFatal: *configLintFatal, ValidateConfig: validateConfig}, *configFiles...), true
		case testRules.FullCommand():
			return ruler.RulesUnitTest(stdout, stderr, ruler.UnitTestOptions{Run: *testRun}, *testFiles...), true
		}
		return 0, false
	}}
}

// rulesAPI serves the rule manager's state to /api/v1/rules and /api/v1/alerts in the wire
// types of web/api/v1 (which does not depend on the ruler). It is handed to the API before the
// manager starts (the API builds the engine rules run on); until then there are no groups.
type rulesAPI struct{ r *rulesRuntime }

// API returns the rules for the HTTP API.
func (r *rulesRuntime) API() apiv1.RulesRetriever { return rulesAPI{r} }

func (a rulesAPI) RuleGroups() []*apiv1.RuleGroup {
	m := a.r.Manager
	if m == nil {
		return nil
	}
	groups := m.RuleGroups()
	out := make([]*apiv1.RuleGroup, 0, len(groups))
	for _, g := range groups {
		ag := &apiv1.RuleGroup{
			Name: g.Name(), File: g.File(), Interval: g.Interval().Seconds(), Limit: g.Limit(),
			EvaluationTime: g.EvaluationTime().Seconds(), LastEvaluation: g.LastEvaluation(),
			Rules: make([]apiv1.Rule, 0, len(g.Rules())),
		}
		for _, r := range g.Rules() {
			health, lastErr := string(r.Health()), ""
			if err := r.LastError(); err != nil {
				lastErr = err.Error()
			}
			switch rule := r.(type) {
			case *ruler.AlertingRule:
				ar := &apiv1.AlertingRule{
					State: rule.State().String(), Name: rule.Name(), Query: rule.Query().String(),
					Duration: rule.HoldDuration().Seconds(), KeepFiringFor: rule.KeepFiringFor().Seconds(),
					Labels: rule.Labels(), Annotations: rule.Annotations(), Alerts: []*apiv1.Alert{},
					Health: health, LastError: lastErr,
					EvaluationTime: rule.EvaluationDuration().Seconds(), LastEvaluation: rule.EvaluationTimestamp(),
				}
				for _, al := range rule.ActiveAlerts() {
					ar.Alerts = append(ar.Alerts, apiAlert(al))
				}
				ag.Rules = append(ag.Rules, ar)
			case *ruler.RecordingRule:
				ag.Rules = append(ag.Rules, &apiv1.RecordingRule{
					Name: rule.Name(), Query: rule.Query().String(), Labels: rule.Labels(),
					Health: health, LastError: lastErr,
					EvaluationTime: rule.EvaluationDuration().Seconds(), LastEvaluation: rule.EvaluationTimestamp(),
				})
			}
		}
		out = append(out, ag)
	}
	return out
}

func apiAlert(a *ruler.Alert) *apiv1.Alert {
	activeAt := a.ActiveAt
	res := &apiv1.Alert{
		Labels: a.Labels, Annotations: a.Annotations, State: a.State.String(), ActiveAt: &activeAt,
		Value: strconv.FormatFloat(a.Value, 'e', -1, 64),
	}
	if !a.KeepFiringSince.IsZero() {
		k := a.KeepFiringSince
		res.KeepFiringSince = &k
	}
	return res
}

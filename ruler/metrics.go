package ruler

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the rule evaluation metrics. They keep Prometheus's prometheus_rule_* names
// because the usual dashboards and alerts (the prometheus-mixin's PrometheusRuleFailures,
// PrometheusMissingRuleEvaluations, the Grafana "Prometheus" dashboard) query those names.
type Metrics struct {
	EvalDuration             prometheus.Summary
	IterationDuration        prometheus.Summary
	IterationsMissed         *prometheus.CounterVec
	IterationsScheduled      *prometheus.CounterVec
	EvalTotal                *prometheus.CounterVec
	EvalFailures             *prometheus.CounterVec
	GroupInterval            *prometheus.GaugeVec
	GroupLastEvalTime        *prometheus.GaugeVec
	GroupLastDuration        *prometheus.GaugeVec
	GroupLastRuleDurationSum *prometheus.GaugeVec
	GroupLastRestoreDuration *prometheus.GaugeVec
	GroupRules               *prometheus.GaugeVec
	GroupSamples             *prometheus.GaugeVec
}

// NewMetrics creates the metrics and registers them on reg (nil: not registered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	vec := func(name, help string) *prometheus.GaugeVec {
		return prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "prometheus", Name: name, Help: help}, []string{"rule_group"})
	}
	cvec := func(name, help string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "prometheus", Name: name, Help: help}, []string{"rule_group"})
	}
	m := &Metrics{
		EvalDuration: prometheus.NewSummary(prometheus.SummaryOpts{
			Namespace: "prometheus", Name: "rule_evaluation_duration_seconds", Help: "The duration for a rule to execute.",
			Objectives: map[float64]float64{0.5: 0.05, 0.9: 0.01, 0.99: 0.001},
		}),
		IterationDuration: prometheus.NewSummary(prometheus.SummaryOpts{
			Namespace: "prometheus", Name: "rule_group_duration_seconds", Help: "The duration of rule group evaluations.",
			Objectives: map[float64]float64{0.01: 0.001, 0.05: 0.005, 0.5: 0.05, 0.90: 0.01, 0.99: 0.001},
		}),
		IterationsMissed:         cvec("rule_group_iterations_missed_total", "The total number of rule group evaluations missed due to slow rule group evaluation."),
		IterationsScheduled:      cvec("rule_group_iterations_total", "The total number of scheduled rule group evaluations, whether executed or missed."),
		EvalTotal:                cvec("rule_evaluations_total", "The total number of rule evaluations."),
		EvalFailures:             cvec("rule_evaluation_failures_total", "The total number of rule evaluation failures."),
		GroupInterval:            vec("rule_group_interval_seconds", "The interval of a rule group."),
		GroupLastEvalTime:        vec("rule_group_last_evaluation_timestamp_seconds", "The timestamp of the last rule group evaluation in seconds."),
		GroupLastDuration:        vec("rule_group_last_duration_seconds", "The duration of the last rule group evaluation."),
		GroupLastRuleDurationSum: vec("rule_group_last_rule_duration_sum_seconds", "The sum of time in seconds it took to evaluate each rule in the group."),
		GroupLastRestoreDuration: vec("rule_group_last_restore_duration_seconds", "The duration of the last alert rules alerts restoration using the `ALERTS_FOR_STATE` series."),
		GroupRules:               vec("rule_group_rules", "The number of rules."),
		GroupSamples:             vec("rule_group_last_evaluation_samples", "The number of samples returned during the last rule group evaluation."),
	}
	if reg != nil {
		reg.MustRegister(m.EvalDuration, m.IterationDuration, m.IterationsMissed, m.IterationsScheduled, m.EvalTotal,
			m.EvalFailures, m.GroupInterval, m.GroupLastEvalTime, m.GroupLastDuration, m.GroupLastRuleDurationSum,
			m.GroupLastRestoreDuration, m.GroupRules, m.GroupSamples)
	}
	return m
}

func (m *Metrics) deleteGroup(key string) {
	m.IterationsMissed.DeleteLabelValues(key)
	m.IterationsScheduled.DeleteLabelValues(key)
	m.EvalTotal.DeleteLabelValues(key)
	m.EvalFailures.DeleteLabelValues(key)
	m.GroupInterval.DeleteLabelValues(key)
	m.GroupLastEvalTime.DeleteLabelValues(key)
	m.GroupLastDuration.DeleteLabelValues(key)
	m.GroupLastRuleDurationSum.DeleteLabelValues(key)
	m.GroupLastRestoreDuration.DeleteLabelValues(key)
	m.GroupRules.DeleteLabelValues(key)
	m.GroupSamples.DeleteLabelValues(key)
}

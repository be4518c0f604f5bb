// Package ruler evaluates Prometheus rule files: recording rules write their results into the
// TSDB, alerting rules track alert state (inactive → pending → firing, keep_firing_for, resolved
// alerts kept 15 minutes) and hand alerts to a Notifier (Vigil's own routing, and external
// Alertmanagers when configured).
//
// Rule files are parsed and validated by the upstream model/rulefmt package so that Vigil accepts
// exactly what Prometheus accepts. Templates in labels and annotations are expanded by the
// upstream template package (the same functions and data as Prometheus: $labels, $value,
// $externalLabels, $externalURL, humanize*, query, …). Its query function is fed by Vigil's own
// engine; the upstream template package is already linked in through model/rulefmt, which
// imports it to validate templates, so using it adds nothing to the binary.
//
// The evaluation semantics (timestamps, query offset, staleness of recording results, the
// ALERTS and ALERTS_FOR_STATE series, restore of the `for` state after a restart, state carried
// across reloads) follow Prometheus's rules package, from which parts are ported (Apache 2.0).
package ruler

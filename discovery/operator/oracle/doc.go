// Package oracle checks Vigil's ports of the Prometheus Operator against the operator itself.
// It is its own module because the operator's main module pins other versions of
// prometheus/prometheus, Alertmanager and the operator's API types than Vigil; it is run by
// `make oracle` (part of `make test`).
package oracle

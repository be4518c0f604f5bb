//go:build tools

// Package deps pins the upstream modules Vigil builds on (see ../shared/DEPENDENCIES.md) so that
// `go mod tidy` keeps them while the packages that use them are being written.
package deps

import (
	_ "github.com/PagerDuty/go-pagerduty"
	_ "github.com/alecthomas/kingpin/v2"
	_ "github.com/golang/snappy"
	_ "github.com/klauspost/compress/zstd"
	_ "github.com/prometheus/alertmanager/config"
	_ "github.com/prometheus/alertmanager/dispatch"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/prometheus/common/model"
	_ "github.com/prometheus/prometheus/model/labels"
	_ "github.com/prometheus/prometheus/promql/parser"
	_ "github.com/prometheus/prometheus/tsdb"
	_ "github.com/slack-go/slack"
	_ "k8s.io/client-go/kubernetes"
	_ "k8s.io/metrics/pkg/apis/custom_metrics"
	_ "sigs.k8s.io/custom-metrics-apiserver/pkg/apiserver"
)

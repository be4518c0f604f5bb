// Copyright The Prometheus Authors (md5HashAsMetricValue, from alertmanager's config/coordinator.go)
// Licensed under the Apache License, Version 2.0.

package routing

import (
	"crypto/md5"
	"encoding/binary"

	"github.com/prometheus/client_golang/prometheus"
)

// configMetrics are Alertmanager's configuration metrics, under its names: the
// alertmanager-mixin's AlertmanagerFailedReload and AlertmanagerConfigInconsistent watch them.
type configMetrics struct {
	hash        prometheus.Gauge
	success     prometheus.Gauge
	successTime prometheus.Gauge
}

func newConfigMetrics(reg prometheus.Registerer) *configMetrics {
	m := &configMetrics{
		hash: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "alertmanager_config_hash",
			Help: "Hash of the currently loaded alertmanager configuration. Note that this is not a cryptographically strong hash.",
		}),
		success: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "alertmanager_config_last_reload_successful",
			Help: "Whether the last configuration reload attempt was successful.",
		}),
		successTime: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "alertmanager_config_last_reload_success_timestamp_seconds",
			Help: "Timestamp of the last successful configuration reload.",
		}),
	}
	reg.MustRegister(m.hash, m.success, m.successTime)
	return m
}

// loaded records the outcome of loading the configuration text.
func (m *configMetrics) loaded(text string, err error) {
	if err != nil {
		m.success.Set(0)
		return
	}
	m.success.Set(1)
	m.successTime.SetToCurrentTime()
	m.hash.Set(md5HashAsMetricValue([]byte(text)))
}

// md5HashAsMetricValue is Alertmanager's: equal files give equal values across a cluster.
func md5HashAsMetricValue(data []byte) float64 {
	sum := md5.Sum(data)
	// We only want 48 bits as a float64 only has a 53 bit mantissa.
	smallSum := sum[0:6]
	bytes := make([]byte, 8)
	copy(bytes, smallSum)
	return float64(binary.LittleEndian.Uint64(bytes))
}

package operator

import (
	"errors"
	"fmt"
	"regexp"
	"time"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"github.com/prometheus/common/model"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

var invalidLabelCharRE = regexp.MustCompile(`[^a-zA-Z0-9_]`)

// The checks the operator's resource selector makes before generating (the rest is Vigil's
// scrape config validation of the generated entry).

func checkDurations(interval, timeout monitoringv1.Duration) error {
	var iv, to time.Duration
	if interval != "" {
		d, err := model.ParseDuration(string(interval))
		if err != nil {
			return fmt.Errorf("invalid interval %q: %w", interval, err)
		}
		iv = time.Duration(d)
	}
	if timeout != "" {
		d, err := model.ParseDuration(string(timeout))
		if err != nil {
			return fmt.Errorf("invalid scrapeTimeout %q: %w", timeout, err)
		}
		to = time.Duration(d)
	}
	if iv > 0 && to > iv {
		return fmt.Errorf("scrapeTimeout %q greater than interval %q", timeout, interval)
	}
	return nil
}

func checkSelector(sel metav1.LabelSelector) error {
	if _, err := metav1.LabelSelectorAsSelector(&sel); err != nil {
		return fmt.Errorf("invalid selector: %w", err)
	}
	return nil
}

func validateServiceMonitor(m *monitoringv1.ServiceMonitor) error {
	if err := checkSelector(m.Spec.Selector); err != nil {
		return err
	}
	var errs []error
	for i, ep := range m.Spec.Endpoints {
		if err := checkDurations(ep.Interval, ep.ScrapeTimeout); err != nil {
			errs = append(errs, fmt.Errorf("endpoints[%d]: %w", i, err))
		}
		if err := ep.HTTPConfigWithoutTLS.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("endpoints[%d]: %w", i, err))
		}
	}
	return errors.Join(errs...)
}

func validatePodMonitor(m *monitoringv1.PodMonitor) error {
	if err := checkSelector(m.Spec.Selector); err != nil {
		return err
	}
	var errs []error
	for i, ep := range m.Spec.PodMetricsEndpoints {
		if err := checkDurations(ep.Interval, ep.ScrapeTimeout); err != nil {
			errs = append(errs, fmt.Errorf("podMetricsEndpoints[%d]: %w", i, err))
		}
		if err := ep.HTTPConfigWithoutTLS.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("podMetricsEndpoints[%d]: %w", i, err))
		}
	}
	return errors.Join(errs...)
}

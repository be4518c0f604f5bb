package adapter

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	apierr "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/klog/v2"
	"k8s.io/metrics/pkg/apis/custom_metrics"
	"k8s.io/metrics/pkg/apis/external_metrics"
	"sigs.k8s.io/custom-metrics-apiserver/pkg/provider"
	"sigs.k8s.io/custom-metrics-apiserver/pkg/provider/helpers"
)

// ObjectLister lists the names of the objects a wildcard custom-metrics request selects.
type ObjectLister interface {
	ListNames(ctx context.Context, info provider.CustomMetricInfo, namespace string, selector labels.Selector) ([]string, error)
}

// Provider serves custom.metrics.k8s.io and external.metrics.k8s.io from PromQL results.
type Provider struct {
	Discoverer *Discoverer
	Mapper     apimeta.RESTMapper
	Lister     ObjectLister
	// QueryTimeout bounds one PromQL query; HPA requests themselves time out after about 30 s.
	QueryTimeout time.Duration
}

var (
	_ provider.CustomMetricsProvider   = (*Provider)(nil)
	_ provider.ExternalMetricsProvider = (*Provider)(nil)
)

// notFound is a 404 whose message the HPA shows in its conditions and events, so it says what
// was looked for and what was asked of Prometheus.
func notFound(format string, args ...any) *apierr.StatusError {
	return &apierr.StatusError{ErrStatus: metav1.Status{
		Status: metav1.StatusFailure, Code: http.StatusNotFound, Reason: metav1.StatusReasonNotFound,
		Message: fmt.Sprintf(format, args...),
	}}
}

func unavailable(format string, args ...any) *apierr.StatusError {
	return &apierr.StatusError{ErrStatus: metav1.Status{
		Status: metav1.StatusFailure, Code: http.StatusServiceUnavailable, Reason: metav1.StatusReasonServiceUnavailable,
		Message: fmt.Sprintf(format, args...),
	}}
}

func where(namespace string) string {
	if namespace == "" {
		return "at cluster scope"
	}
	return fmt.Sprintf("in namespace %s", namespace)
}

func (p *Provider) discoveredWhat(reg *registry) string {
	rs := p.Discoverer.Rules()
	var qs []string
	if rs != nil {
		seen := map[string]bool{}
		for _, r := range append(append([]*Rule{}, rs.Rules...), rs.ExternalRules...) {
			if !seen[r.SeriesQuery] {
				seen[r.SeriesQuery] = true
				qs = append(qs, r.SeriesQuery)
			}
		}
	}
	s := fmt.Sprintf("no series matched by the adapter rules (/api/v1/series for %s", strings.Join(qs, ", "))
	if reg != nil {
		s += fmt.Sprintf(" at %s", reg.at.UTC().Format(time.RFC3339))
		if reg.err != nil {
			s += fmt.Sprintf(", partly failed: %v", reg.err)
		}
	}
	return s + ")"
}

func (p *Provider) query(ctx context.Context, q string) (model.Value, error) {
	if p.QueryTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, p.QueryTimeout)
		defer cancel()
	}
	v, warnings, err := p.Discoverer.API.Query(ctx, q, p.Discoverer.now())
	if err != nil {
		return nil, unavailable("query %s failed: %v", q, err)
	}
	for _, w := range warnings {
		klog.V(2).InfoS("query warning", "query", q, "warning", w)
	}
	return v, nil
}

// quantity converts a sample to a Quantity in milli-units, which keeps three decimals, the
// precision the HPA works with.
func quantity(v float64) (resource.Quantity, bool) {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return resource.Quantity{}, false
	}
	if math.Abs(v) < 9e15 {
		return *resource.NewMilliQuantity(int64(math.Round(v*1000)), resource.DecimalSI), true
	}
	return *resource.NewQuantity(int64(v), resource.DecimalSI), true
}

func metricIdentifier(name string, sel labels.Selector) (custom_metrics.MetricIdentifier, error) {
	id := custom_metrics.MetricIdentifier{Name: name}
	if sel != nil && !sel.Empty() {
		ls, err := metav1.ParseToLabelSelector(sel.String())
		if err != nil {
			return id, fmt.Errorf("metric selector %q: %w", sel, err)
		}
		id.Selector = ls
	}
	return id, nil
}

// resolve normalizes the request's group-resource and finds the series behind the metric.
func (p *Provider) resolve(ctx context.Context, info provider.CustomMetricInfo, namespace, object string) (provider.CustomMetricInfo, seriesRef, error) {
	norm, _, err := info.Normalized(p.Mapper)
	if err != nil && p.Discoverer.refreshMapperOnMiss() {
		norm, _, err = info.Normalized(p.Mapper)
	}
	if err != nil {
		return info, seriesRef{}, notFound("metric %s not found for %s %s: the API server does not know resource %s (%v)", info.Metric, info.GroupResource, where(namespace), info.GroupResource, err)
	}
	norm.Namespaced = info.Namespaced
	ref, reg, ok := p.Discoverer.lookupCustom(ctx, metricKey{gr: norm.GroupResource, metric: info.Metric})
	if !ok {
		return norm, seriesRef{}, notFound("metric %s not found for %s%s %s: %s", info.Metric, norm.GroupResource, object, where(namespace), p.discoveredWhat(reg))
	}
	return norm, ref, nil
}

// GetMetricByName serves an Object metric (one named object).
func (p *Provider) GetMetricByName(ctx context.Context, name types.NamespacedName, info provider.CustomMetricInfo, metricSelector labels.Selector) (*custom_metrics.MetricValue, error) {
	info, ref, err := p.resolve(ctx, info, name.Namespace, " "+name.Name)
	if err != nil {
		return nil, err
	}
	q, resLbl, err := ref.rule.BuildQuery(p.Mapper, ref.series, info.GroupResource, name.Namespace, metricSelector, []string{name.Name})
	if err != nil {
		return nil, apierr.NewBadRequest(fmt.Sprintf("metric %s for %s %s: %v", info.Metric, info.GroupResource, name.Name, err))
	}
	v, err := p.query(ctx, q)
	if err != nil {
		return nil, err
	}
	values, err := valuesByLabel(v, resLbl)
	if err != nil {
		return nil, unavailable("metric %s for %s %s %s: query %s: %v", info.Metric, info.GroupResource, name.Name, where(name.Namespace), q, err)
	}
	s, ok := values[name.Name]
	if !ok {
		return nil, notFound("metric %s not found for %s %s %s: query %s returned no sample with %s=%q", info.Metric, info.GroupResource, name.Name, where(name.Namespace), q, resLbl, name.Name)
	}
	val, ok := quantity(float64(s.Value))
	if !ok {
		return nil, notFound("metric %s for %s %s %s is %v (query %s)", info.Metric, info.GroupResource, name.Name, where(name.Namespace), s.Value, q)
	}
	objRef, err := helpers.ReferenceFor(p.Mapper, name, info)
	if err != nil {
		return nil, apierr.NewInternalError(fmt.Errorf("object reference for %s %s: %w", info.GroupResource, name.Name, err))
	}
	id, err := metricIdentifier(info.Metric, metricSelector)
	if err != nil {
		return nil, apierr.NewBadRequest(err.Error())
	}
	return &custom_metrics.MetricValue{DescribedObject: objRef, Metric: id, Timestamp: metav1.NewTime(s.Timestamp.Time()), Value: val}, nil
}

// GetMetricBySelector serves a Pods metric or a wildcard request over objects matching selector.
func (p *Provider) GetMetricBySelector(ctx context.Context, namespace string, selector labels.Selector, info provider.CustomMetricInfo, metricSelector labels.Selector) (*custom_metrics.MetricValueList, error) {
	info, ref, err := p.resolve(ctx, info, namespace, "")
	if err != nil {
		return nil, err
	}
	names, err := p.Lister.ListNames(ctx, info, namespace, selector)
	if err != nil {
		return nil, unavailable("listing %s %s with selector %q: %v", info.GroupResource, where(namespace), selector, err)
	}
	if len(names) == 0 {
		return nil, notFound("metric %s not found for %s %s: no %s match selector %q", info.Metric, info.GroupResource, where(namespace), info.GroupResource, selector)
	}
	q, resLbl, err := ref.rule.BuildQuery(p.Mapper, ref.series, info.GroupResource, namespace, metricSelector, names)
	if err != nil {
		return nil, apierr.NewBadRequest(fmt.Sprintf("metric %s for %s: %v", info.Metric, info.GroupResource, err))
	}
	v, err := p.query(ctx, q)
	if err != nil {
		return nil, err
	}
	values, err := valuesByLabel(v, resLbl)
	if err != nil {
		return nil, unavailable("metric %s for %s %s: query %s: %v", info.Metric, info.GroupResource, where(namespace), q, err)
	}
	id, err := metricIdentifier(info.Metric, metricSelector)
	if err != nil {
		return nil, apierr.NewBadRequest(err.Error())
	}
	// One mapper lookup for the kind; every item differs only by name.
	base, err := helpers.ReferenceFor(p.Mapper, types.NamespacedName{Namespace: namespace}, info)
	if err != nil {
		return nil, apierr.NewInternalError(fmt.Errorf("object reference for %s: %w", info.GroupResource, err))
	}
	items := make([]custom_metrics.MetricValue, 0, len(values))
	for _, n := range names {
		s, ok := values[n]
		if !ok {
			continue
		}
		val, ok := quantity(float64(s.Value))
		if !ok {
			continue
		}
		r := base
		r.Name = n
		items = append(items, custom_metrics.MetricValue{DescribedObject: r, Metric: id, Timestamp: metav1.NewTime(s.Timestamp.Time()), Value: val})
	}
	if len(items) == 0 {
		return nil, notFound("metric %s not found for %s %s: query %s returned no sample for the %d selected %s (selector %q)", info.Metric, info.GroupResource, where(namespace), abbreviate(q), len(names), info.GroupResource, selector)
	}
	return &custom_metrics.MetricValueList{Items: items}, nil
}

// abbreviate keeps error messages readable when a query lists hundreds of pod names.
func abbreviate(q string) string {
	const max = 400
	if len(q) <= max {
		return q
	}
	return q[:max/2] + fmt.Sprintf("…(%d bytes)…", len(q)-max) + q[len(q)-max/2:]
}

// ListAllMetrics lists the custom metrics found by the last relist.
func (p *Provider) ListAllMetrics() []provider.CustomMetricInfo { return p.Discoverer.listCustom() }

// GetExternalMetric serves an External metric.
func (p *Provider) GetExternalMetric(ctx context.Context, namespace string, metricSelector labels.Selector, info provider.ExternalMetricInfo) (*external_metrics.ExternalMetricValueList, error) {
	ref, reg, ok := p.Discoverer.lookupExternal(ctx, info.Metric)
	if !ok {
		return nil, notFound("external metric %s not found %s: %s", info.Metric, where(namespace), p.discoveredWhat(reg))
	}
	q, err := ref.rule.BuildExternalQuery(p.Mapper, ref.series, namespace, metricSelector)
	if err != nil {
		return nil, apierr.NewBadRequest(fmt.Sprintf("external metric %s: %v", info.Metric, err))
	}
	v, err := p.query(ctx, q)
	if err != nil {
		return nil, err
	}
	var items []external_metrics.ExternalMetricValue
	add := func(m model.Metric, val model.SampleValue, ts model.Time) {
		qv, ok := quantity(float64(val))
		if !ok {
			return
		}
		lbls := make(map[string]string, len(m))
		for k, v := range m {
			if k != model.MetricNameLabel {
				lbls[string(k)] = string(v)
			}
		}
		items = append(items, external_metrics.ExternalMetricValue{MetricName: info.Metric, MetricLabels: lbls, Timestamp: metav1.NewTime(ts.Time()), Value: qv})
	}
	switch r := v.(type) {
	case model.Vector:
		for _, s := range r {
			add(s.Metric, s.Value, s.Timestamp)
		}
	case *model.Scalar:
		add(nil, r.Value, r.Timestamp)
	default:
		return nil, unavailable("external metric %s: query %s returned a %s, want a vector or scalar", info.Metric, q, v.Type())
	}
	if len(items) == 0 {
		return nil, notFound("external metric %s not found %s: query %s returned no samples", info.Metric, where(namespace), q)
	}
	return &external_metrics.ExternalMetricValueList{Items: items}, nil
}

// ListAllExternalMetrics lists the external metrics found by the last relist.
func (p *Provider) ListAllExternalMetrics() []provider.ExternalMetricInfo {
	return p.Discoverer.listExternal()
}

// valuesByLabel indexes a query result by the value of the object-name label.
func valuesByLabel(v model.Value, lbl string) (map[string]*model.Sample, error) {
	vec, ok := v.(model.Vector)
	if !ok {
		return nil, fmt.Errorf("result is a %s, want a vector", v.Type())
	}
	out := make(map[string]*model.Sample, len(vec))
	for _, s := range vec {
		out[string(s.Metric[model.LabelName(lbl)])] = s
	}
	return out, nil
}

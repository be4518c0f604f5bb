package adapter

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/selection"
)

// queryTemplateArgs are the fields a metricsQuery template can use (same names as
// prometheus-adapter).
type queryTemplateArgs struct {
	Series            string
	LabelMatchers     string
	LabelValuesByName map[string]string
	GroupBy           string
	GroupBySlice      []string
}

func labelEq(l, v string) string         { return fmt.Sprintf("%s=%q", l, v) }
func labelNeq(l, v string) string        { return fmt.Sprintf("%s!=%q", l, v) }
func labelMatches(l, v string) string    { return fmt.Sprintf("%s=~%q", l, v) }
func labelNotMatches(l, v string) string { return fmt.Sprintf("%s!~%q", l, v) }

// selectorMatchers converts a Kubernetes metric label selector into PromQL label matchers with
// prometheus-adapter's rules: several values become a regex alternation, and a single value is
// passed through as is (so a value can itself be a regex for In/NotIn). Selectors that cannot be
// expressed exactly are refused rather than approximated, because a wrong answer scales wrongly.
func selectorMatchers(sel labels.Selector) ([]string, map[string]string, error) {
	byName := map[string]string{}
	if sel == nil {
		return nil, byName, nil
	}
	reqs, _ := sel.Requirements()
	var out []string
	for _, r := range reqs {
		vals := r.Values().List()
		name := r.Key()
		if name == "" {
			return nil, nil, errors.New("metric selector has a requirement without a label name")
		}
		var m func(string, string) string
		val := strings.Join(vals, "|")
		switch op := r.Operator(); {
		case op == selection.GreaterThan || op == selection.LessThan:
			return nil, nil, fmt.Errorf("metric selector operator %q on %s cannot be expressed in PromQL", op, name)
		case len(vals) == 0:
			switch op {
			case selection.Exists:
				m = labelNeq
			case selection.DoesNotExist:
				m = labelEq
			default:
				return nil, nil, fmt.Errorf("metric selector requirement on %s has no value", name)
			}
		case len(vals) == 1:
			switch op {
			case selection.Equals, selection.DoubleEquals:
				m = labelEq
			case selection.NotEquals:
				m = labelNeq
			case selection.In:
				m = labelMatches
			case selection.NotIn:
				m = labelNotMatches
			default:
				return nil, nil, fmt.Errorf("metric selector operator %q on %s takes no value", op, name)
			}
		default:
			switch op {
			case selection.Equals, selection.DoubleEquals, selection.In:
				m = labelMatches
			case selection.NotEquals, selection.NotIn:
				m = labelNotMatches
			default:
				return nil, nil, fmt.Errorf("metric selector operator %q on %s takes no values", op, name)
			}
		}
		out = append(out, m(name, val))
		byName[name] = val
	}
	return out, byName, nil
}

func (r *Rule) render(args queryTemplateArgs) (string, error) {
	var b bytes.Buffer
	if err := r.query.Execute(&b, args); err != nil {
		return "", fmt.Errorf("%s metricsQuery: %w", r.ID, err)
	}
	if b.Len() == 0 {
		return "", fmt.Errorf("%s metricsQuery produced an empty query", r.ID)
	}
	return b.String(), nil
}

// namespaceLabel is the label that holds namespace names for this rule. External rules often
// have no resources section at all; prometheus-adapter then fails every namespaced request
// ("no generic resource label form specified"), whereas the conventional label is meant.
func (r *Rule) namespaceLabel(mapper apimeta.RESTMapper) (string, error) {
	lbl, err := r.resources.LabelForResource(mapper, NamespaceResource)
	if err != nil {
		if r.resources.template == nil && len(r.resources.overrides) == 0 {
			return "namespace", nil
		}
		return "", err
	}
	return lbl, nil
}

// BuildQuery renders the metricsQuery for objects of gr named names (in namespace, or
// root-scoped when namespace is empty). It returns the query and the label that carries the
// object name in the result.
func (r *Rule) BuildQuery(mapper apimeta.RESTMapper, series string, gr schema.GroupResource, namespace string, metricSelector labels.Selector, names []string) (string, string, error) {
	exprs, byName, err := selectorMatchers(metricSelector)
	if err != nil {
		return "", "", err
	}
	if namespace != "" {
		nsLbl, err := r.namespaceLabel(mapper)
		if err != nil {
			return "", "", err
		}
		exprs = append(exprs, labelEq(nsLbl, namespace))
		byName[nsLbl] = namespace
	}
	resLbl, err := r.resources.LabelForResource(mapper, gr)
	if err != nil {
		return "", "", err
	}
	target := strings.Join(names, "|")
	if len(names) > 1 {
		exprs = append(exprs, labelMatches(resLbl, target))
	} else {
		exprs = append(exprs, labelEq(resLbl, target))
	}
	byName[resLbl] = target
	q, err := r.render(queryTemplateArgs{
		Series:            series,
		LabelMatchers:     strings.Join(exprs, ","),
		LabelValuesByName: byName,
		GroupBy:           resLbl,
		GroupBySlice:      []string{resLbl},
	})
	return q, resLbl, err
}

// BuildExternalQuery renders the metricsQuery of an external rule.
func (r *Rule) BuildExternalQuery(mapper apimeta.RESTMapper, series, namespace string, metricSelector labels.Selector) (string, error) {
	exprs, byName, err := selectorMatchers(metricSelector)
	if err != nil {
		return "", err
	}
	if namespace != "" && r.namespaced {
		nsLbl, err := r.namespaceLabel(mapper)
		if err != nil {
			return "", err
		}
		exprs = append(exprs, labelEq(nsLbl, namespace))
		byName[nsLbl] = namespace
	}
	for _, repl := range r.replacements {
		for k, v := range byName {
			byName[k] = strings.ReplaceAll(v, repl.Find, repl.Replace)
		}
	}
	return r.render(queryTemplateArgs{
		Series:            series,
		LabelMatchers:     strings.Join(exprs, ","),
		LabelValuesByName: byName,
		GroupBySlice:      []string{},
	})
}

package adapter

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"text/template"

	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var (
	// groupSanitizer turns an API group into something usable inside a label name, as
	// prometheus-adapter does (apps -> apps, networking.k8s.io -> networking_k8s_io).
	groupSanitizer = strings.NewReplacer(".", "_", "-", "_")
	// NamespaceResource is the group-resource of namespaces.
	NamespaceResource = schema.GroupResource{Resource: "namespaces"}
	nodeResource      = schema.GroupResource{Resource: "nodes"}
)

// resourceConverter maps series labels to Kubernetes group-resources and back for one rule.
// Overrides are kept as written and normalized through the RESTMapper when first needed: a
// custom resource whose CRD is installed after the adapter starts then maps as soon as API
// discovery knows it, instead of failing the whole config at start-up.
type resourceConverter struct {
	template  *template.Template
	extract   *regexp.Regexp
	groupIdx  int // -1 when the template has no .Group
	resIdx    int
	overrides map[string]schema.GroupResource // label -> group-resource as written

	mu         sync.RWMutex
	labelToRes map[string]schema.GroupResource // normalized
	resToLabel map[schema.GroupResource]string
	notRes     map[string]struct{} // labels known not to name a resource (cleared on mapper change)
	mapperGen  uint64
}

func newResourceConverter(m ResourceMapping) (*resourceConverter, error) {
	rc := &resourceConverter{overrides: map[string]schema.GroupResource{}, groupIdx: -1}
	rc.reset(0)
	for lbl, gr := range m.Overrides {
		if lbl == "" || gr.Resource == "" {
			return nil, fmt.Errorf("resources.overrides: label %q needs a resource", lbl)
		}
		rc.overrides[lbl] = schema.GroupResource{Group: gr.Group, Resource: gr.Resource}
	}
	if m.Template == "" {
		return rc, nil
	}
	t, err := template.New("resource-label").Delims("<<", ">>").Parse(m.Template)
	if err != nil {
		return nil, fmt.Errorf("resources.template %q: %w", m.Template, err)
	}
	var b bytes.Buffer
	if err := t.Execute(&b, schema.GroupResource{Group: "(?P<group>.+?)", Resource: "(?P<resource>.+?)"}); err != nil {
		return nil, fmt.Errorf("resources.template %q: %w", m.Template, err)
	}
	if b.Len() == 0 {
		return nil, fmt.Errorf("resources.template %q produces an empty label", m.Template)
	}
	re, err := regexp.Compile("^" + b.String() + "$")
	if err != nil {
		return nil, fmt.Errorf("resources.template %q cannot be turned into a label matcher: %w", m.Template, err)
	}
	rc.resIdx = -1
	for i, n := range re.SubexpNames() {
		switch n {
		case "group":
			rc.groupIdx = i
		case "resource":
			rc.resIdx = i
		}
	}
	if rc.resIdx < 0 {
		return nil, fmt.Errorf("resources.template %q must use <<.Resource>>", m.Template)
	}
	rc.template, rc.extract = t, re
	return rc, nil
}

func (rc *resourceConverter) reset(gen uint64) {
	rc.labelToRes = map[string]schema.GroupResource{}
	rc.resToLabel = map[schema.GroupResource]string{}
	rc.notRes = map[string]struct{}{}
	rc.mapperGen = gen
}

// normalize resolves a possibly singular or short group-resource to the plural one the API uses.
func normalize(mapper apimeta.RESTMapper, gr schema.GroupResource) (schema.GroupResource, error) {
	gvr, err := mapper.ResourceFor(gr.WithVersion(""))
	if err != nil {
		return gr, err
	}
	return gvr.GroupResource(), nil
}

// ResourcesForLabels returns the group-resources named by a series' label names and whether one
// of them is the namespace.
func (rc *resourceConverter) ResourcesForLabels(mapper apimeta.RESTMapper, gen uint64, labelNames []string) ([]schema.GroupResource, bool) {
	var out []schema.GroupResource
	namespaced := false
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if gen != rc.mapperGen {
		rc.reset(gen)
	}
	for _, lbl := range labelNames {
		gr, ok := rc.labelToRes[lbl]
		if !ok {
			if _, no := rc.notRes[lbl]; no {
				continue
			}
			var err error
			gr, err = rc.resolveLabel(mapper, lbl)
			if err != nil {
				rc.notRes[lbl] = struct{}{}
				continue
			}
			rc.labelToRes[lbl] = gr
			if _, taken := rc.resToLabel[gr]; !taken {
				rc.resToLabel[gr] = lbl
			}
		}
		out = append(out, gr)
		if gr == NamespaceResource {
			namespaced = true
		}
	}
	return out, namespaced
}

func (rc *resourceConverter) resolveLabel(mapper apimeta.RESTMapper, lbl string) (schema.GroupResource, error) {
	if gr, ok := rc.overrides[lbl]; ok {
		return normalize(mapper, gr)
	}
	if rc.extract == nil {
		return schema.GroupResource{}, errors.New("no template")
	}
	m := rc.extract.FindStringSubmatch(lbl)
	if m == nil {
		return schema.GroupResource{}, errors.New("label does not match the template")
	}
	gr := schema.GroupResource{Resource: m[rc.resIdx]}
	if rc.groupIdx >= 0 {
		gr.Group = m[rc.groupIdx]
	}
	return normalize(mapper, gr)
}

// LabelForResource returns the series label that holds names of the given (normalized) resource.
func (rc *resourceConverter) LabelForResource(mapper apimeta.RESTMapper, gr schema.GroupResource) (string, error) {
	rc.mu.RLock()
	lbl, ok := rc.resToLabel[gr]
	rc.mu.RUnlock()
	if ok {
		return lbl, nil
	}
	for l, o := range rc.overrides {
		if n, err := normalize(mapper, o); err == nil && n == gr {
			rc.mu.Lock()
			rc.resToLabel[gr], rc.labelToRes[l] = l, gr
			rc.mu.Unlock()
			return l, nil
		}
	}
	if rc.template == nil {
		return "", fmt.Errorf("no label for %s: the rule has no resources.template and no override for it", gr)
	}
	singular, err := mapper.ResourceSingularizer(gr.Resource)
	if err != nil {
		return "", fmt.Errorf("singularizing %s: %w", gr, err)
	}
	var b bytes.Buffer
	if err := rc.template.Execute(&b, schema.GroupResource{Group: groupSanitizer.Replace(gr.Group), Resource: singular}); err != nil {
		return "", fmt.Errorf("resources.template for %s: %w", gr, err)
	}
	if b.Len() == 0 {
		return "", fmt.Errorf("resources.template produced an empty label for %s", gr)
	}
	lbl = b.String()
	rc.mu.Lock()
	rc.resToLabel[gr], rc.labelToRes[lbl] = lbl, gr
	rc.mu.Unlock()
	return lbl, nil
}

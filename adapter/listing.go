package adapter

import (
	"bufio"
	"encoding/json"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"sigs.k8s.io/custom-metrics-apiserver/pkg/provider"
)

// Discovery documents of the metrics APIs list every servable metric: with 10,000 metric names
// under three resources, /apis/custom.metrics.k8s.io/v1beta1 is 30,000 APIResources, about
// 3.5 MB of JSON. The API server library builds it per request as a list of APIResource structs
// (a string and a slice each) and encodes it by reflection into one buffer; kube-apiserver's
// aggregator and the controller-manager's discovery fetch it periodically. ListingHandler writes
// the same JSON straight from the registry, streamed, so a listing costs neither a heap spike
// of tens of MB nor the time to build and encode it.
var listingPaths = map[string]struct {
	groupVersion string
	external     bool
}{
	"/apis/custom.metrics.k8s.io/v1beta1":   {"custom.metrics.k8s.io/v1beta1", false},
	"/apis/custom.metrics.k8s.io/v1beta2":   {"custom.metrics.k8s.io/v1beta2", false},
	"/apis/external.metrics.k8s.io/v1beta1": {"external.metrics.k8s.io/v1beta1", true},
}

// ListingHandler serves the discovery documents of the metrics APIs (GET, JSON) and passes
// everything else to next. It belongs inside the authentication and authorization filters.
func (p *Provider) ListingHandler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		lp, ok := listingPaths[strings.TrimSuffix(r.URL.Path, "/")]
		if !ok || (r.Method != http.MethodGet && r.Method != http.MethodHead) || !acceptsJSON(r.Header.Values("Accept")) {
			next.ServeHTTP(w, r)
			return
		}
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Cache-Control", "no-cache, private")
		if r.Method == http.MethodHead {
			return
		}
		// Not compressed: the reader is kube-apiserver's aggregator (in the cluster network),
		// and a gzip writer would cost a megabyte of heap and more CPU than the transfer.
		bw := bufio.NewWriterSize(w, 32<<10)
		p.writeListing(bw, lp.groupVersion, lp.external)
		_ = bw.Flush()
	})
}

// writeListing writes the APIResourceList as encoding/json would encode it.
func (p *Provider) writeListing(w *bufio.Writer, groupVersion string, external bool) {
	w.WriteString(`{"kind":"APIResourceList","apiVersion":"v1","groupVersion":`)
	writeJSONString(w, groupVersion)
	w.WriteString(`,"resources":[`)
	if external {
		for i, m := range p.Discoverer.listExternal() {
			if i > 0 {
				w.WriteByte(',')
			}
			w.WriteString(`{"name":`)
			writeJSONString(w, m.Metric)
			w.WriteString(`,"singularName":"","namespaced":true,"kind":"ExternalMetricValueList","verbs":["get"]}`)
		}
	} else {
		var name []byte
		first := true
		p.Discoverer.eachCustom(func(m provider.CustomMetricInfo) {
			if !first {
				w.WriteByte(',')
			}
			first = false
			name = append(name[:0], m.GroupResource.Resource...)
			if m.GroupResource.Group != "" {
				name = append(append(name, '.'), m.GroupResource.Group...)
			}
			name = append(append(name, '/'), m.Metric...)
			w.WriteString(`{"name":`)
			writeJSONString(w, string(name))
			if m.Namespaced {
				w.WriteString(`,"singularName":"","namespaced":true,"kind":"MetricValueList","verbs":["get"]}`)
			} else {
				w.WriteString(`,"singularName":"","namespaced":false,"kind":"MetricValueList","verbs":["get"]}`)
			}
		})
	}
	w.WriteString("]}\n")
}

// writeJSONString writes s as a JSON string; names that need escaping (never a valid metric or
// resource name) go through encoding/json so the output matches it byte for byte.
func writeJSONString(w *bufio.Writer, s string) {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			b, _ := json.Marshal(s)
			w.Write(b)
			return
		}
	}
	w.WriteByte('"')
	w.WriteString(s)
	w.WriteByte('"')
}

// acceptsJSON reports whether an Accept header allows plain JSON (not a variant such as the
// aggregated discovery format, which is left to the library).
func acceptsJSON(values []string) bool {
	if len(values) == 0 {
		return true
	}
	for _, v := range values {
		for _, r := range strings.Split(v, ",") {
			mt, params, err := mime.ParseMediaType(strings.TrimSpace(r))
			if err != nil {
				continue
			}
			if _, variant := params["as"]; variant {
				continue
			}
			if q, ok := params["q"]; ok && zeroQ("q="+q) {
				continue // not acceptable
			}
			if mt == "application/json" || mt == "application/*" || mt == "*/*" {
				return true
			}
		}
	}
	return false
}

// zeroQ reports whether parameters of a header element say q=0.
func zeroQ(params string) bool {
	for _, p := range strings.Split(params, ";") {
		k, v, _ := strings.Cut(p, "=")
		if strings.TrimSpace(k) == "q" {
			q, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return err == nil && q == 0
		}
	}
	return false
}

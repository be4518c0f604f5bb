package serve

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/metrics/pkg/apis/custom_metrics"
	"k8s.io/metrics/pkg/apis/external_metrics"
	"sigs.k8s.io/custom-metrics-apiserver/pkg/provider"
)

type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	file string
}

func newCA(t *testing.T, dir, name string) *testCA {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	file := filepath.Join(dir, name+".crt")
	if err := os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return &testCA{cert, key, file}
}

func (ca *testCA) client(t *testing.T, cn string, groups ...string) tls.Certificate {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn, Organization: groups},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

type fakeProvider struct{}

func (fakeProvider) GetMetricByName(_ context.Context, name types.NamespacedName, info provider.CustomMetricInfo, _ labels.Selector) (*custom_metrics.MetricValue, error) {
	return &custom_metrics.MetricValue{DescribedObject: custom_metrics.ObjectReference{Kind: "Pod", Namespace: name.Namespace, Name: name.Name, APIVersion: "/v1"},
		Metric: custom_metrics.MetricIdentifier{Name: info.Metric}, Value: resource.MustParse("42")}, nil
}
func (fakeProvider) GetMetricBySelector(context.Context, string, labels.Selector, provider.CustomMetricInfo, labels.Selector) (*custom_metrics.MetricValueList, error) {
	return &custom_metrics.MetricValueList{}, nil
}
func (fakeProvider) ListAllMetrics() []provider.CustomMetricInfo {
	return []provider.CustomMetricInfo{{GroupResource: schema.GroupResource{Resource: "pods"}, Namespaced: true, Metric: "load"}}
}
func (fakeProvider) GetExternalMetric(context.Context, string, labels.Selector, provider.ExternalMetricInfo) (*external_metrics.ExternalMetricValueList, error) {
	return &external_metrics.ExternalMetricValueList{Items: []external_metrics.ExternalMetricValue{{MetricName: "queue", Value: resource.MustParse("7")}}}, nil
}
func (fakeProvider) ListAllExternalMetrics() []provider.ExternalMetricInfo {
	return []provider.ExternalMetricInfo{{Metric: "queue"}}
}

// The server authenticates client certificates of the client CA, and front-proxy users only
// from the front proxy's certificate; it authorizes privileged groups and the health paths
// (there is no authorization-kubeconfig here, so nothing else); and it serves the metrics API
// through custom-metrics-apiserver's handlers.
func TestServerAuthenticatesAndAuthorizes(t *testing.T) {
	t.Setenv("KUBERNETES_SERVICE_HOST", "") // not in a cluster: no TokenReview or SubjectAccessReview
	dir := t.TempDir()
	clientCA, proxyCA := newCA(t, dir, "client-ca"), newCA(t, dir, "front-proxy-ca")
	o := NewOptions()
	o.CertDir, o.SkipLookup, o.ClientCAFile = dir, true, clientCA.file
	o.RequestHeader.ClientCAFile, o.RequestHeader.AllowedNames = proxyCA.file, []string{"front-proxy-client"}
	api, err := API(fakeProvider{}, fakeProvider{})
	if err != nil {
		t.Fatal(err)
	}
	s, err := o.New(api)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	defer func() { cancel(); <-done }()

	base := "https://" + ln.Addr().String()
	get := func(path string, cert *tls.Certificate, headers ...string) (int, string) {
		t.Helper()
		cfg := &tls.Config{InsecureSkipVerify: true} //nolint:gosec // test server with a self-signed certificate
		if cert != nil {
			cfg.Certificates = []tls.Certificate{*cert}
		}
		c := &http.Client{Transport: &http.Transport{TLSClientConfig: cfg, ForceAttemptHTTP2: true}, Timeout: 10 * time.Second}
		req, _ := http.NewRequest(http.MethodGet, base+path, nil)
		for i := 0; i+1 < len(headers); i += 2 {
			req.Header.Add(headers[i], headers[i+1])
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	admin := clientCA.client(t, "alice", "system:masters")
	bob := clientCA.client(t, "bob", "devs")
	proxy := proxyCA.client(t, "front-proxy-client")
	otherProxy := proxyCA.client(t, "not-allowed")
	rogue := newCA(t, dir, "rogue").client(t, "alice", "system:masters")
	metric := "/apis/custom.metrics.k8s.io/v1beta2/namespaces/shop/pods/web-1/load"
	for _, tc := range []struct {
		name    string
		path    string
		cert    *tls.Certificate
		headers []string
		want    int
	}{
		{"health without credentials", "/healthz", nil, nil, 200},
		{"readyz without credentials", "/readyz", nil, nil, 200},
		{"metric without credentials", metric, nil, nil, 403},
		{"metrics endpoint without credentials", "/metrics", nil, nil, 403},
		{"privileged client certificate", metric, &admin, nil, 200},
		{"unprivileged client certificate", metric, &bob, nil, 403},
		{"certificate of an unknown CA", metric, &rogue, nil, 403}, // anonymous, as in k8s.io/apiserver
		{"front proxy for a privileged user", metric, &proxy, []string{"X-Remote-User", "carol", "X-Remote-Group", "system:masters"}, 200},
		{"front proxy for an unprivileged user", metric, &proxy, []string{"X-Remote-User", "carol", "X-Remote-Group", "devs"}, 403},
		{"proxy headers without the proxy's certificate", metric, nil, []string{"X-Remote-User", "carol", "X-Remote-Group", "system:masters"}, 403},
		{"proxy headers with a client certificate", metric, &bob, []string{"X-Remote-User", "carol", "X-Remote-Group", "system:masters"}, 403},
		{"proxy certificate not in allowed names", metric, &otherProxy, []string{"X-Remote-User", "carol", "X-Remote-Group", "system:masters"}, 401},
		{"discovery root", "/apis", &admin, nil, 200},
		{"external metric", "/apis/external.metrics.k8s.io/v1beta1/namespaces/shop/queue", &admin, nil, 200},
		{"unknown path", "/api/v1/pods", &admin, nil, 404},
	} {
		code, body := get(tc.path, tc.cert, tc.headers...)
		if code != tc.want {
			t.Errorf("%s: GET %s = %d, want %d: %.300s", tc.name, tc.path, code, tc.want, body)
		}
	}

	_, body := get(metric, &admin)
	var list struct {
		Kind  string `json:"kind"`
		Items []struct {
			Metric struct{ Name string } `json:"metric"`
			Value  string                `json:"value"`
		} `json:"items"`
	}
	if err := json.Unmarshal([]byte(body), &list); err != nil || list.Kind != "MetricValueList" || len(list.Items) != 1 || list.Items[0].Metric.Name != "load" || list.Items[0].Value != "42" {
		t.Errorf("metric response %s (%v)", body, err)
	}
	_, body = get("/apis", &admin)
	var groups metav1.APIGroupList
	if err := json.Unmarshal([]byte(body), &groups); err != nil || len(groups.Groups) != 2 ||
		groups.Groups[0].PreferredVersion.GroupVersion != "custom.metrics.k8s.io/v1beta1" || groups.Groups[1].Name != "external.metrics.k8s.io" {
		t.Errorf("/apis: %s (%v)", body, err)
	}
	_, body = get("/apis/custom.metrics.k8s.io/v1beta1", &admin)
	if !strings.Contains(body, `"name":"pods/load"`) {
		t.Errorf("discovery: %s", body)
	}
}

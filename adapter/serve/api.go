package serve

import (
	"net/http"
	"strings"
	"time"

	restful "github.com/emicklei/go-restful/v3"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	apiserverapi "k8s.io/apiserver/pkg/apis/apiserver"
	genericapi "k8s.io/apiserver/pkg/endpoints"
	"k8s.io/apiserver/pkg/endpoints/discovery"
	"k8s.io/apiserver/pkg/endpoints/handlers/responsewriters"
	"k8s.io/metrics/pkg/apis/custom_metrics"
	cminstall "k8s.io/metrics/pkg/apis/custom_metrics/install"
	"k8s.io/metrics/pkg/apis/external_metrics"
	eminstall "k8s.io/metrics/pkg/apis/external_metrics/install"
	"sigs.k8s.io/custom-metrics-apiserver/pkg/apiserver/installer"
	"sigs.k8s.io/custom-metrics-apiserver/pkg/provider"
	cmregistry "sigs.k8s.io/custom-metrics-apiserver/pkg/registry/custom_metrics"
	emregistry "sigs.k8s.io/custom-metrics-apiserver/pkg/registry/external_metrics"
)

// Scheme and Codecs are custom-metrics-apiserver's (its pkg/apiserver, which cannot be imported
// without the generic API server): the metrics API types, their list-option conversions, and
// the unversioned meta types of discovery and errors.
var (
	Scheme = runtime.NewScheme()
	Codecs = serializer.NewCodecFactory(Scheme)
	// codecs for the metrics API as k8s.io/apiserver's NewDefaultAPIGroupInfo makes them:
	// lists are encoded as a stream, item by item, instead of into one buffer.
	apiCodecs = serializer.NewCodecFactory(Scheme, serializer.WithStreamingCollectionEncodingToJSON(), serializer.WithStreamingCollectionEncodingToProtobuf())
)

func init() {
	cminstall.Install(Scheme)
	eminstall.Install(Scheme)
	utilruntime.Must(installer.RegisterConversions(Scheme))
	metav1.AddToGroupVersion(Scheme, schema.GroupVersion{Version: "v1"})
	Scheme.AddUnversionedTypes(schema.GroupVersion{Group: "", Version: "v1"},
		&metav1.Status{}, &metav1.APIVersions{}, &metav1.APIGroupList{}, &metav1.APIGroup{}, &metav1.APIResourceList{})
}

var (
	anonymousConfig = apiserverapi.AnonymousAuthConfig{Enabled: true}
	defaultBackoff  = wait.Backoff{Duration: 500 * time.Millisecond, Factor: 1.5, Jitter: 0.2, Steps: 5}
)

// API returns the handler of custom.metrics.k8s.io (v1beta2 and v1beta1) and
// external.metrics.k8s.io (v1beta1), with their discovery documents and /apis, as
// custom-metrics-apiserver installs them; either provider may be nil.
func API(cm provider.CustomMetricsProvider, em provider.ExternalMetricsProvider) (http.Handler, error) {
	container := restful.NewContainer()
	container.Router(restful.CurlyRouter{})
	container.ServeMux = http.NewServeMux()
	root := discovery.NewRootAPIsHandler(discovery.DefaultAddresses{DefaultAddress: ""}, Codecs)
	install := func(group string, paramCodec runtime.ParameterCodec, versions []schema.GroupVersion, storage func() installer.MetricsAPIGroupVersion) error {
		for i, gv := range versions {
			g := storage()
			g.APIGroupVersion = &genericapi.APIGroupVersion{
				Root:            "/apis",
				GroupVersion:    gv,
				ParameterCodec:  paramCodec,
				Serializer:      apiCodecs,
				Creater:         Scheme,
				Convertor:       Scheme,
				UnsafeConvertor: runtime.UnsafeObjectConvertor(Scheme),
				Typer:           Scheme,
				Namer:           runtime.Namer(meta.NewAccessor()),
			}
			if err := g.InstallREST(container); err != nil {
				return err
			}
			if i == 0 { // as custom-metrics-apiserver: the group lists its preferred version
				v := metav1.GroupVersionForDiscovery{GroupVersion: gv.String(), Version: gv.Version}
				apiGroup := metav1.APIGroup{Name: group, Versions: []metav1.GroupVersionForDiscovery{v}, PreferredVersion: v}
				root.AddGroup(apiGroup)
				container.Add(discovery.NewAPIGroupHandler(Codecs, apiGroup).WebService())
			}
		}
		return nil
	}
	if cm != nil {
		err := install(custom_metrics.GroupName, runtime.NewParameterCodec(Scheme), Scheme.PrioritizedVersionsForGroup(custom_metrics.GroupName), func() installer.MetricsAPIGroupVersion {
			return installer.MetricsAPIGroupVersion{
				DynamicStorage: cmregistry.NewREST(cm),
				ResourceLister: provider.NewCustomMetricResourceLister(cm),
				Handlers:       &installer.CMHandlers{},
			}
		})
		if err != nil {
			return nil, err
		}
	}
	if em != nil {
		versions := Scheme.PrioritizedVersionsForGroup(external_metrics.GroupName)[:1]
		err := install(external_metrics.GroupName, metav1.ParameterCodec, versions, func() installer.MetricsAPIGroupVersion {
			return installer.MetricsAPIGroupVersion{
				DynamicStorage: emregistry.NewREST(em),
				ResourceLister: provider.NewExternalMetricResourceLister(em),
				Handlers:       &installer.EMHandlers{},
			}
		})
		if err != nil {
			return nil, err
		}
	}
	container.ServiceErrorHandler(func(serviceErr restful.ServiceError, req *restful.Request, resp *restful.Response) {
		writeStatus(resp.ResponseWriter, req.Request, serviceErr.Code, serviceErr.Message)
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch p := r.URL.Path; {
		case p == "/apis" || p == "/apis/":
			root.ServeHTTP(w, r)
		case strings.HasPrefix(p, "/apis/"+custom_metrics.GroupName) || strings.HasPrefix(p, "/apis/"+external_metrics.GroupName):
			container.Dispatch(w, r)
		default:
			writeStatus(w, r, http.StatusNotFound, "the server could not find the requested resource")
		}
	}), nil
}

// writeStatus writes an error as a Status object, as the generic API server does.
func writeStatus(w http.ResponseWriter, r *http.Request, code int, msg string) {
	reason := metav1.StatusReasonUnknown
	switch code {
	case http.StatusNotFound:
		reason = metav1.StatusReasonNotFound
	case http.StatusMethodNotAllowed:
		reason = metav1.StatusReasonMethodNotAllowed
	case http.StatusUnsupportedMediaType:
		reason = metav1.StatusReasonUnsupportedMediaType
	case http.StatusNotAcceptable:
		reason = metav1.StatusReasonNotAcceptable
	}
	err := &apierrors.StatusError{ErrStatus: metav1.Status{Status: metav1.StatusFailure, Code: int32(code), Reason: reason, Message: msg}}
	responsewriters.ErrorNegotiated(err, Codecs, schema.GroupVersion{}, w, r)
}

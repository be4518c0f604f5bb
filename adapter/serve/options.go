// Package serve is a small aggregated API server for the custom and external metrics APIs.
//
// sigs.k8s.io/custom-metrics-apiserver runs its metrics API handlers inside k8s.io/apiserver's
// generic API server, which links etcd storage, admission (with CEL policies and a fake
// clientset), OpenAPI builders, priority and fairness, auditing and tracing exporters: 83 MB of
// binary, most of it mapped into every process that runs it, for an API that lists and gets
// metrics. This package serves the same handlers (custom-metrics-apiserver's installer and
// registries) behind the same authentication and authorization (k8s.io/apiserver's delegating
// authenticator and authorizer, fed from the extension-apiserver-authentication ConfigMap) with
// none of the rest.
package serve

import (
	"fmt"
	"net"
	"time"

	"github.com/spf13/pflag"
	cliflag "k8s.io/component-base/cli/flag"
)

// Options are the serving, authentication and authorization flags of an aggregated API server,
// with the names and defaults of k8s.io/apiserver's SecureServingOptions,
// DelegatingAuthenticationOptions and DelegatingAuthorizationOptions.
type Options struct {
	BindAddress     net.IP
	SecurePort      int
	CertDir         string
	CertFile        string
	KeyFile         string
	MinTLSVersion   string
	CipherSuites    []string
	DisableHTTP2    bool
	HTTP2MaxStreams int

	AuthenticationKubeconfig string
	SkipLookup               bool
	TolerateLookupFailure    bool
	TokenCacheTTL            time.Duration
	ClientCAFile             string
	RequestHeader            RequestHeaderOptions

	AuthorizationKubeconfig string
	AllowCacheTTL           time.Duration
	DenyCacheTTL            time.Duration
	AlwaysAllowPaths        []string
	AlwaysAllowGroups       []string

	Profiling      bool
	RequestTimeout time.Duration

	// MaxRequestsInFlight and MaxMutatingRequestsInFlight bound the requests served at once
	// (0: unlimited), as the generic API server does without priority and fairness.
	MaxRequestsInFlight         int
	MaxMutatingRequestsInFlight int
	// ShutdownDelayDuration keeps serving for this long after the stop signal, with /readyz
	// failing, so that endpoints and load balancers stop sending requests before the listener
	// closes; requests in flight then finish within RequestTimeout.
	ShutdownDelayDuration time.Duration
}

// RequestHeaderOptions configure authentication by a front proxy (kube-apiserver's aggregator)
// when they are not read from the extension-apiserver-authentication ConfigMap.
type RequestHeaderOptions struct {
	ClientCAFile        string
	AllowedNames        []string
	UsernameHeaders     []string
	UIDHeaders          []string
	GroupHeaders        []string
	ExtraHeaderPrefixes []string
}

// NewOptions returns the defaults of k8s.io/apiserver's options.
func NewOptions() *Options {
	return &Options{
		BindAddress:       net.ParseIP("0.0.0.0"),
		SecurePort:        443,
		CertDir:           "apiserver.local.config/certificates",
		HTTP2MaxStreams:   1000,
		TokenCacheTTL:     10 * time.Second,
		AllowCacheTTL:     10 * time.Second,
		DenyCacheTTL:      10 * time.Second,
		AlwaysAllowPaths:  []string{"/healthz", "/readyz", "/livez"},
		AlwaysAllowGroups: []string{"system:masters"},
		Profiling:         true,
		RequestTimeout:    60 * time.Second,

		MaxRequestsInFlight:         400,
		MaxMutatingRequestsInFlight: 200,
		RequestHeader: RequestHeaderOptions{
			UsernameHeaders:     []string{"x-remote-user"},
			UIDHeaders:          []string{"x-remote-uid"},
			GroupHeaders:        []string{"x-remote-group"},
			ExtraHeaderPrefixes: []string{"x-remote-extra-"},
		},
	}
}

// AddFlags adds the flags of k8s.io/apiserver's options that apply here.
func (o *Options) AddFlags(fs *pflag.FlagSet) {
	fs.IPVar(&o.BindAddress, "bind-address", o.BindAddress, "The IP address on which to listen for the --secure-port port.")
	fs.IntVar(&o.SecurePort, "secure-port", o.SecurePort, "The port on which to serve HTTPS with authentication and authorization.")
	fs.StringVar(&o.CertDir, "cert-dir", o.CertDir, "The directory where the TLS certs are located. If --tls-cert-file and --tls-private-key-file are provided, this flag will be ignored.")
	fs.StringVar(&o.CertFile, "tls-cert-file", o.CertFile, "File containing the default x509 Certificate for HTTPS (CA cert, if any, concatenated after server cert). If not given, a self-signed certificate and key are generated in --cert-dir. Reloaded when it changes.")
	fs.StringVar(&o.KeyFile, "tls-private-key-file", o.KeyFile, "File containing the default x509 private key matching --tls-cert-file.")
	fs.StringVar(&o.MinTLSVersion, "tls-min-version", o.MinTLSVersion, "Minimum TLS version supported. Possible values: "+fmt.Sprint(cliflag.TLSPossibleVersions()))
	fs.StringSliceVar(&o.CipherSuites, "tls-cipher-suites", o.CipherSuites, "Comma-separated list of cipher suites for the server. If omitted, the default Go cipher suites will be used.")
	fs.BoolVar(&o.DisableHTTP2, "disable-http2-serving", o.DisableHTTP2, "If true, HTTP2 serving will be disabled.")
	fs.IntVar(&o.HTTP2MaxStreams, "http2-max-streams-per-connection", o.HTTP2MaxStreams, "The limit that the server gives to clients for the maximum number of streams in an HTTP/2 connection. Zero means to use golang's default.")

	fs.StringVar(&o.AuthenticationKubeconfig, "authentication-kubeconfig", o.AuthenticationKubeconfig, "kubeconfig file pointing at the 'core' kubernetes server with enough rights to create tokenreviews.authentication.k8s.io and read the extension-apiserver-authentication ConfigMap. In-cluster config if empty.")
	fs.BoolVar(&o.SkipLookup, "authentication-skip-lookup", o.SkipLookup, "If false, the authentication-kubeconfig will be used to lookup missing authentication configuration from the cluster.")
	fs.BoolVar(&o.TolerateLookupFailure, "authentication-tolerate-lookup-failure", o.TolerateLookupFailure, "If true, failures to look up missing authentication configuration from the cluster are not considered fatal. Note that this can result in authentication that treats all requests as anonymous.")
	fs.DurationVar(&o.TokenCacheTTL, "authentication-token-webhook-cache-ttl", o.TokenCacheTTL, "The duration to cache responses from the webhook token authenticator.")
	fs.StringVar(&o.ClientCAFile, "client-ca-file", o.ClientCAFile, "If set, any request presenting a client certificate signed by one of the authorities in the client-ca-file is authenticated with an identity corresponding to the CommonName of the client certificate. Read from the extension-apiserver-authentication ConfigMap if empty.")
	fs.StringVar(&o.RequestHeader.ClientCAFile, "requestheader-client-ca-file", o.RequestHeader.ClientCAFile, "Root certificate bundle to use to verify client certificates on incoming requests before trusting usernames in headers specified by --requestheader-username-headers. Read from the extension-apiserver-authentication ConfigMap if empty.")
	fs.StringSliceVar(&o.RequestHeader.AllowedNames, "requestheader-allowed-names", o.RequestHeader.AllowedNames, "List of client certificate common names to allow to provide usernames in headers specified by --requestheader-username-headers. If empty, any client certificate validated by the authorities in --requestheader-client-ca-file is allowed.")
	fs.StringSliceVar(&o.RequestHeader.UsernameHeaders, "requestheader-username-headers", o.RequestHeader.UsernameHeaders, "List of request headers to inspect for usernames. X-Remote-User is common.")
	fs.StringSliceVar(&o.RequestHeader.UIDHeaders, "requestheader-uid-headers", o.RequestHeader.UIDHeaders, "List of request headers to inspect for UIDs. X-Remote-Uid is suggested.")
	fs.StringSliceVar(&o.RequestHeader.GroupHeaders, "requestheader-group-headers", o.RequestHeader.GroupHeaders, "List of request headers to inspect for groups. X-Remote-Group is suggested.")
	fs.StringSliceVar(&o.RequestHeader.ExtraHeaderPrefixes, "requestheader-extra-headers-prefix", o.RequestHeader.ExtraHeaderPrefixes, "List of request header prefixes to inspect. X-Remote-Extra- is suggested.")

	fs.StringVar(&o.AuthorizationKubeconfig, "authorization-kubeconfig", o.AuthorizationKubeconfig, "kubeconfig file pointing at the 'core' kubernetes server with enough rights to create subjectaccessreviews.authorization.k8s.io. In-cluster config if empty.")
	fs.DurationVar(&o.AllowCacheTTL, "authorization-webhook-cache-authorized-ttl", o.AllowCacheTTL, "The duration to cache 'authorized' responses from the webhook authorizer.")
	fs.DurationVar(&o.DenyCacheTTL, "authorization-webhook-cache-unauthorized-ttl", o.DenyCacheTTL, "The duration to cache 'unauthorized' responses from the webhook authorizer.")
	fs.StringSliceVar(&o.AlwaysAllowPaths, "authorization-always-allow-paths", o.AlwaysAllowPaths, "A list of HTTP paths to skip during authorization, i.e. these are authorized without contacting the 'core' kubernetes server.")

	fs.BoolVar(&o.Profiling, "profiling", o.Profiling, "Enable profiling via web interface host:port/debug/pprof/ (authorized like any other path)")

	fs.IntVar(&o.MaxRequestsInFlight, "max-requests-inflight", o.MaxRequestsInFlight, "The maximum number of non-mutating requests in flight at a given time. When the server exceeds this, it rejects requests (429, Retry-After: 1); members of system:masters are not limited. Zero for no limit.")
	fs.IntVar(&o.MaxMutatingRequestsInFlight, "max-mutating-requests-inflight", o.MaxMutatingRequestsInFlight, "The maximum number of mutating requests in flight at a given time (the metrics APIs have none that succeed). When the server exceeds this, it rejects requests. Zero for no limit.")
	fs.DurationVar(&o.RequestTimeout, "request-timeout", o.RequestTimeout, "An optional field indicating the duration a handler must keep a request open before timing it out; also the time requests in flight get to finish at shutdown.")
	fs.DurationVar(&o.ShutdownDelayDuration, "shutdown-delay-duration", o.ShutdownDelayDuration, "Time to delay the termination. During that time the server keeps serving requests normally. The endpoints /healthz and /livez will return success, but /readyz immediately returns failure. Graceful termination starts after this delay has elapsed. This can be used to allow load balancer to stop sending traffic to this server.")
}

// Validate checks the flag values, with the generic API server's messages.
func (o *Options) Validate() error {
	switch {
	case o.MaxRequestsInFlight < 0:
		return fmt.Errorf("--max-requests-inflight can not be negative value")
	case o.MaxMutatingRequestsInFlight < 0:
		return fmt.Errorf("--max-mutating-requests-inflight can not be negative value")
	case o.RequestTimeout < 0:
		return fmt.Errorf("--request-timeout can not be negative value")
	case o.ShutdownDelayDuration < 0:
		return fmt.Errorf("--shutdown-delay-duration can not be negative value")
	}
	return nil
}

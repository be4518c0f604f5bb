package serve

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/http2"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apiserver/pkg/authentication/authenticator"
	"k8s.io/apiserver/pkg/authentication/authenticatorfactory"
	"k8s.io/apiserver/pkg/authentication/request/headerrequest"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	"k8s.io/apiserver/pkg/authorization/authorizerfactory"
	"k8s.io/apiserver/pkg/authorization/path"
	"k8s.io/apiserver/pkg/authorization/union"
	"k8s.io/apiserver/pkg/endpoints/filters"
	"k8s.io/apiserver/pkg/endpoints/handlers/responsewriters"
	endpointsmetrics "k8s.io/apiserver/pkg/endpoints/metrics"
	"k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/server/dynamiccertificates"
	"k8s.io/apiserver/pkg/server/healthz"
	"k8s.io/client-go/kubernetes"
	authnv1client "k8s.io/client-go/kubernetes/typed/authentication/v1"
	authzv1client "k8s.io/client-go/kubernetes/typed/authorization/v1"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	certutil "k8s.io/client-go/util/cert"
	"k8s.io/client-go/util/keyutil"
	cliflag "k8s.io/component-base/cli/flag"
	"k8s.io/component-base/metrics/legacyregistry"
	"k8s.io/klog/v2"
)

const (
	authConfigMapNamespace = "kube-system"
	authConfigMapName      = "extension-apiserver-authentication"
)

// Server serves an API handler over TLS behind delegated authentication and authorization.
type Server struct {
	opts        *Options
	mux         *http.ServeMux
	handler     http.Handler
	tlsConfig   *tls.Config
	controllers []func(ctx context.Context)

	// readyz holds the readiness checks until Serve installs /readyz; shuttingDown is closed
	// when shutdown begins, which fails the "shutdown" check.
	readyMtx     sync.Mutex
	readyz       []healthz.HealthChecker
	serving      bool
	shuttingDown chan struct{}
	// after is time.After, replaced by tests to end the shutdown delay when they choose.
	after func(time.Duration) <-chan time.Time
}

// AddReadyzChecks adds checks that /readyz requires to pass, as the generic API server's
// method of that name; /readyz/<name> serves each alone. Call it before Serve.
func (s *Server) AddReadyzChecks(checks ...healthz.HealthChecker) error {
	s.readyMtx.Lock()
	defer s.readyMtx.Unlock()
	if s.serving {
		return errors.New("readyz checks must be added before the server serves")
	}
	for _, c := range checks {
		for _, have := range s.readyz {
			if have.Name() == c.Name() {
				return fmt.Errorf("a readyz check named %q exists already", c.Name())
			}
		}
	}
	s.readyz = append(s.readyz, checks...)
	return nil
}

// controller is a dynamic certificate or configuration source that must be run.
type controller interface {
	Run(ctx context.Context, workers int)
}

// clients is the kubernetes.Interface the delegated authenticator and authorizer are given:
// they use the core (ConfigMaps), authentication (TokenReview) and authorization
// (SubjectAccessReview) groups only. kubernetes.NewForConfig would build a typed client for
// every built-in API group, and with them link all their code into the binary.
type clients struct {
	kubernetes.Interface // nil: the other groups are not used
	core                 corev1client.CoreV1Interface
	authn                authnv1client.AuthenticationV1Interface
	authz                authzv1client.AuthorizationV1Interface
}

func (c *clients) CoreV1() corev1client.CoreV1Interface                      { return c.core }
func (c *clients) AuthenticationV1() authnv1client.AuthenticationV1Interface { return c.authn }
func (c *clients) AuthorizationV1() authzv1client.AuthorizationV1Interface   { return c.authz }

func clientFor(kubeconfig string) (*clients, error) {
	var cfg *rest.Config
	var err error
	if kubeconfig != "" {
		cfg, err = clientcmd.NewNonInteractiveDeferredLoadingClientConfig(&clientcmd.ClientConfigLoadingRules{ExplicitPath: kubeconfig}, &clientcmd.ConfigOverrides{}).ClientConfig()
	} else {
		cfg, err = rest.InClusterConfig()
	}
	if err != nil {
		return nil, err
	}
	// These requests gate every API request; as k8s.io/apiserver does, do not throttle them.
	cfg.QPS, cfg.Burst = 200, 400
	c := &clients{}
	if c.core, err = corev1client.NewForConfig(cfg); err != nil {
		return nil, err
	}
	if c.authn, err = authnv1client.NewForConfig(cfg); err != nil {
		return nil, err
	}
	if c.authz, err = authzv1client.NewForConfig(cfg); err != nil {
		return nil, err
	}
	return c, nil
}

// New builds the server for api (the metrics API and its discovery; see API). Paths it serves
// itself: /healthz, /livez, /readyz, /metrics and, with --profiling, /debug/pprof/.
func (o *Options) New(api http.Handler) (*Server, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	s := &Server{opts: o, shuttingDown: make(chan struct{}), after: time.After}
	s.readyz = []healthz.HealthChecker{healthz.PingHealthz, healthz.NewShutdownHealthz(s.shuttingDown)}
	// The request metrics of the generic API server (apiserver_request_total, …,
	// apiserver_dropped_requests_total), which custom-metrics-apiserver's handlers record.
	endpointsmetrics.Register()
	if o.CertFile == "" || o.KeyFile == "" {
		if err := o.selfSignedCert(); err != nil {
			return nil, err
		}
	}
	serving, err := dynamiccertificates.NewDynamicServingContentFromFiles("serving-cert", o.CertFile, o.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("loading the serving certificate: %w", err)
	}
	s.controllers = append(s.controllers, func(ctx context.Context) { serving.Run(ctx, 1) })

	authn, requestHeader, clientCA, err := o.authenticator(s)
	if err != nil {
		return nil, err
	}
	authz, err := o.authorizer()
	if err != nil {
		return nil, err
	}

	mux := http.NewServeMux()
	s.mux = mux
	// /healthz and /livez stay healthy through shutdown; /readyz is installed by Serve with
	// the checks added by then.
	healthz.InstallHandler(mux, healthz.PingHealthz)
	healthz.InstallLivezHandler(mux, healthz.PingHealthz)
	mux.Handle("/metrics", legacyregistry.Handler())
	if o.Profiling {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	mux.Handle("/", api)

	// The order of k8s.io/apiserver's DefaultBuildHandlerChain, without what an API that only
	// gets and lists does not need (audit, priority and fairness, impersonation, CORS).
	failed := filters.Unauthorized(Codecs)
	var h http.Handler = mux
	h = filters.WithAuthorization(h, authz, Codecs)
	h = withMaxInFlightLimit(h, o.MaxRequestsInFlight, o.MaxMutatingRequestsInFlight)
	h = filters.WithAuthentication(h, authn, failed, nil, requestHeader)
	h = withTimeout(h, o.RequestTimeout)
	h = filters.WithCacheControl(h)
	h = filters.WithRequestInfo(h, &request.RequestInfoFactory{APIPrefixes: sets.NewString("api", "apis"), GrouplessAPIPrefixes: sets.NewString("api")})
	h = withPanicRecovery(h)
	s.handler = h

	s.tlsConfig = &tls.Config{MinVersion: tls.VersionTLS12, NextProtos: []string{"h2", "http/1.1"}}
	if o.DisableHTTP2 {
		s.tlsConfig.NextProtos = []string{"http/1.1"}
	}
	if o.MinTLSVersion != "" {
		if s.tlsConfig.MinVersion, err = cliflag.TLSVersion(o.MinTLSVersion); err != nil {
			return nil, fmt.Errorf("--tls-min-version: %w", err)
		}
	}
	if len(o.CipherSuites) > 0 {
		if s.tlsConfig.CipherSuites, err = cliflag.TLSCipherSuites(o.CipherSuites); err != nil {
			return nil, fmt.Errorf("--tls-cipher-suites: %w", err)
		}
	}
	if clientCA != nil {
		// Ask for client certificates without requiring them: the authenticators verify them
		// against the client CA or the front proxy's CA, whichever applies.
		s.tlsConfig.ClientAuth = tls.RequestClientCert
	}
	certs := dynamiccertificates.NewDynamicServingCertificateController(s.tlsConfig, clientCA, serving, nil, nil)
	if clientCA != nil {
		clientCA.AddListener(certs)
	}
	serving.AddListener(certs)
	if err := certs.RunOnce(); err != nil {
		return nil, fmt.Errorf("serving certificates: %w", err)
	}
	s.tlsConfig.GetConfigForClient = certs.GetConfigForClient
	s.controllers = append(s.controllers, func(ctx context.Context) { certs.Run(1, ctx.Done()) })
	return s, nil
}

// selfSignedCert sets CertFile/KeyFile to a certificate for localhost in CertDir, generating it
// if it does not exist, as k8s.io/apiserver's SecureServingOptions do.
func (o *Options) selfSignedCert() error {
	o.CertFile, o.KeyFile = filepath.Join(o.CertDir, "apiserver.crt"), filepath.Join(o.CertDir, "apiserver.key")
	if ok, err := certutil.CanReadCertAndKey(o.CertFile, o.KeyFile); err != nil || ok {
		return err
	}
	cert, key, err := certutil.GenerateSelfSignedCertKeyWithFixtures("localhost", []net.IP{net.ParseIP("127.0.0.1")}, nil, "")
	if err != nil {
		return fmt.Errorf("generating a self-signed certificate: %w", err)
	}
	if err := certutil.WriteCert(o.CertFile, cert); err != nil {
		return err
	}
	if err := keyutil.WriteKey(o.KeyFile, key); err != nil {
		return err
	}
	klog.InfoS("generated a self-signed certificate", "cert", o.CertFile, "key", o.KeyFile)
	return nil
}

// authenticator is k8s.io/apiserver's delegating authenticator configured as
// DelegatingAuthenticationOptions.ApplyTo configures it: client certificates, front-proxy
// request headers and TokenReview, with the CAs and header names read from the
// extension-apiserver-authentication ConfigMap unless given by flags. It returns the CAs of
// client certificates to ask for in the TLS handshake.
func (o *Options) authenticator(s *Server) (authenticator.Request, *authenticatorfactory.RequestHeaderConfig, dynamiccertificates.CAContentProvider, error) {
	var client *clients
	if c, err := clientFor(o.AuthenticationKubeconfig); err == nil {
		client = c
	} else if o.AuthenticationKubeconfig != "" || !errors.Is(err, rest.ErrNotInCluster) {
		return nil, nil, nil, fmt.Errorf("delegated authentication kubeconfig: %w", err)
	} else {
		klog.Warning("no --authentication-kubeconfig and not in a cluster: token and configmap-based authentication are off")
	}
	authCheck := &authConfigMapCheck{cas: map[string]dynamiccertificates.CAContentProvider{}}
	if client != nil {
		authCheck.get = func(ctx context.Context) (*corev1.ConfigMap, error) {
			return client.CoreV1().ConfigMaps(authConfigMapNamespace).Get(ctx, authConfigMapName, metav1.GetOptions{})
		}
	}
	defer func() {
		if len(authCheck.cas) > 0 {
			s.readyz = append(s.readyz, authCheck)
		}
	}()
	cfg := authenticatorfactory.DelegatingAuthenticatorConfig{
		Anonymous:                &anonymousConfig,
		CacheTTL:                 o.TokenCacheTTL,
		WebhookRetryBackoff:      &defaultBackoff,
		TokenAccessReviewTimeout: 10 * time.Second,
	}
	if client != nil {
		cfg.TokenAccessReviewClient = client.AuthenticationV1()
	}
	var cas []dynamiccertificates.CAContentProvider
	var err error
	switch {
	case o.ClientCAFile != "":
		if cfg.ClientCertificateCAContentProvider, err = dynamiccertificates.NewDynamicCAContentFromFile("client-ca-bundle", o.ClientCAFile); err != nil {
			return nil, nil, nil, fmt.Errorf("--client-ca-file: %w", err)
		}
	case !o.SkipLookup && client != nil:
		ca, err := dynamiccertificates.NewDynamicCAFromConfigMapController("client-ca", authConfigMapNamespace, authConfigMapName, "client-ca-file", client)
		if err != nil {
			return nil, nil, nil, err
		}
		if err := ca.RunOnce(context.Background()); err != nil {
			klog.ErrorS(err, "reading client-ca-file from the ConfigMap (will retry)", "configmap", authConfigMapNamespace+"/"+authConfigMapName)
		}
		s.run(ca)
		cfg.ClientCertificateCAContentProvider = ca
		authCheck.cas["client-ca-file"] = ca
	}
	if cfg.ClientCertificateCAContentProvider != nil {
		if r, ok := cfg.ClientCertificateCAContentProvider.(controller); ok && o.ClientCAFile != "" {
			s.run(r)
		}
		cas = append(cas, cfg.ClientCertificateCAContentProvider)
	}

	rh := o.RequestHeader
	switch {
	case rh.ClientCAFile != "":
		ca, err := dynamiccertificates.NewDynamicCAContentFromFile("request-header", rh.ClientCAFile)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("--requestheader-client-ca-file: %w", err)
		}
		s.run(ca)
		cfg.RequestHeaderConfig = &authenticatorfactory.RequestHeaderConfig{
			CAContentProvider:   ca,
			UsernameHeaders:     headerrequest.StaticStringSlice(rh.UsernameHeaders),
			UIDHeaders:          headerrequest.StaticStringSlice(rh.UIDHeaders),
			GroupHeaders:        headerrequest.StaticStringSlice(rh.GroupHeaders),
			ExtraHeaderPrefixes: headerrequest.StaticStringSlice(rh.ExtraHeaderPrefixes),
			AllowedClientNames:  headerrequest.StaticStringSlice(rh.AllowedNames),
		}
	case !o.SkipLookup && client != nil:
		ca, err := dynamiccertificates.NewDynamicCAFromConfigMapController("client-ca", authConfigMapNamespace, authConfigMapName, "requestheader-client-ca-file", client)
		if err != nil {
			return nil, nil, nil, err
		}
		names := headerrequest.NewRequestHeaderAuthRequestController(authConfigMapName, authConfigMapNamespace, client,
			"requestheader-username-headers", "requestheader-uid-headers", "requestheader-group-headers",
			"requestheader-extra-headers-prefix", "requestheader-allowed-names")
		err = errors.Join(ca.RunOnce(context.Background()), names.RunOnce(context.Background()))
		if err != nil && !o.TolerateLookupFailure {
			return nil, nil, nil, fmt.Errorf("reading the front proxy configuration from configmap %s/%s: %w", authConfigMapNamespace, authConfigMapName, err)
		}
		if err != nil {
			klog.ErrorS(err, "reading the front proxy configuration failed; requests through kube-apiserver may be treated as anonymous")
		} else {
			s.run(ca)
			s.run(names)
			authCheck.cas["requestheader-client-ca-file"] = ca
			cfg.RequestHeaderConfig = &authenticatorfactory.RequestHeaderConfig{
				CAContentProvider:   ca,
				UsernameHeaders:     headerrequest.StringSliceProviderFunc(names.UsernameHeaders),
				UIDHeaders:          headerrequest.StringSliceProviderFunc(names.UIDHeaders),
				GroupHeaders:        headerrequest.StringSliceProviderFunc(names.GroupHeaders),
				ExtraHeaderPrefixes: headerrequest.StringSliceProviderFunc(names.ExtraHeaderPrefixes),
				AllowedClientNames:  headerrequest.StringSliceProviderFunc(names.AllowedClientNames),
			}
		}
	}
	if cfg.RequestHeaderConfig != nil {
		cas = append(cas, cfg.RequestHeaderConfig.CAContentProvider)
	}
	authn, _, err := cfg.New()
	if err != nil {
		return nil, nil, nil, err
	}
	var clientCA dynamiccertificates.CAContentProvider
	if len(cas) > 0 {
		clientCA = dynamiccertificates.NewUnionCAContentProvider(cas...)
	}
	return authn, cfg.RequestHeaderConfig, clientCA, nil
}

// authorizer is DelegatingAuthorizationOptions' authorizer: privileged groups, always-allowed
// paths, then SubjectAccessReview.
func (o *Options) authorizer() (authorizer.Authorizer, error) {
	var authorizers []union.NamedAuthorizer
	add := func(name string, a authorizer.Authorizer) {
		authorizers = append(authorizers, union.NamedAuthorizer{AuthorizerName: name, Authorizer: a})
	}
	if len(o.AlwaysAllowGroups) > 0 {
		add("kubernetes.io/always-allow-groups", authorizerfactory.NewPrivilegedGroups(o.AlwaysAllowGroups...))
	}
	if len(o.AlwaysAllowPaths) > 0 {
		a, err := path.NewAuthorizer(o.AlwaysAllowPaths)
		if err != nil {
			return nil, err
		}
		add("kubernetes.io/always-allow-paths", a)
	}
	client, err := clientFor(o.AuthorizationKubeconfig)
	switch {
	case err == nil:
		sar, err := authorizerfactory.DelegatingAuthorizerConfig{
			SubjectAccessReviewClient: client.AuthorizationV1(),
			AllowCacheTTL:             o.AllowCacheTTL,
			DenyCacheTTL:              o.DenyCacheTTL,
			WebhookRetryBackoff:       &defaultBackoff,
		}.New()
		if err != nil {
			return nil, err
		}
		add("kubernetes.io/webhook", sar)
	case o.AuthorizationKubeconfig != "" || !errors.Is(err, rest.ErrNotInCluster):
		return nil, fmt.Errorf("delegated authorization kubeconfig: %w", err)
	default:
		klog.Warning("no --authorization-kubeconfig and not in a cluster: only privileged groups and always-allowed paths are authorized")
	}
	return union.New(authorizers...)
}

func (s *Server) run(c controller) {
	s.controllers = append(s.controllers, func(ctx context.Context) { c.Run(ctx, 1) })
}

// Run listens on --bind-address:--secure-port and serves until ctx is done, then shuts down
// gracefully.
func (s *Server) Run(ctx context.Context) error {
	ln, err := net.Listen("tcp", net.JoinHostPort(s.opts.BindAddress.String(), strconv.Itoa(s.opts.SecurePort)))
	if err != nil {
		return err
	}
	return s.Serve(ctx, ln)
}

// Serve serves on ln until ctx is done. Then /readyz fails at once while everything else is
// served as before for --shutdown-delay-duration, so that the endpoints and load balancers in
// front stop sending requests; then the listener closes and requests in flight get up to
// --request-timeout to finish, as in the generic API server.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	s.readyMtx.Lock()
	if s.serving {
		s.readyMtx.Unlock()
		return errors.New("the server is already serving")
	}
	s.serving = true
	healthz.InstallReadyzHandler(s.mux, s.readyz...)
	s.readyMtx.Unlock()
	for _, c := range s.controllers {
		go c(ctx)
	}
	srv := &http.Server{
		Handler:           s.handler,
		TLSConfig:         s.tlsConfig,
		ReadHeaderTimeout: 32 * time.Second,
		IdleTimeout:       90 * time.Second,
		MaxHeaderBytes:    1 << 20,
		ErrorLog:          nil,
	}
	if !s.opts.DisableHTTP2 {
		h2 := &http2.Server{MaxUploadBufferPerStream: 256 << 10, MaxReadFrameSize: 256 << 10}
		if s.opts.HTTP2MaxStreams > 0 {
			h2.MaxConcurrentStreams = uint32(s.opts.HTTP2MaxStreams)
		}
		if err := http2.ConfigureServer(srv, h2); err != nil {
			return err
		}
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(tls.NewListener(ln, s.tlsConfig)) }()
	klog.InfoS("serving securely", "address", ln.Addr().String())
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	close(s.shuttingDown)
	if d := s.opts.ShutdownDelayDuration; d > 0 {
		klog.InfoS("shutting down: /readyz fails, serving on for --shutdown-delay-duration", "delay", d)
		select {
		case <-s.after(d):
		case err := <-errc:
			return err
		}
	}
	timeout := s.opts.RequestTimeout
	if timeout <= 0 {
		timeout = 60 * time.Second // the generic API server's default
	}
	shutdown, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		return fmt.Errorf("draining requests in flight: %w", err)
	}
	return nil
}

// authConfigMapCheck is ready once the extension-apiserver-authentication ConfigMap has been
// read and the client CAs it holds are in use by the authenticators, so that requests proxied
// by kube-apiserver are not refused (or taken as anonymous) in the first seconds. A cluster
// without the ConfigMap has nothing to wait for. Once ready it stays ready: later changes are
// followed by the CA controllers.
type authConfigMapCheck struct {
	get   func(ctx context.Context) (*corev1.ConfigMap, error)
	cas   map[string]dynamiccertificates.CAContentProvider // ConfigMap key → CA loaded from it
	ready atomic.Bool
}

func (c *authConfigMapCheck) Name() string { return authConfigMapName }

func (c *authConfigMapCheck) Check(r *http.Request) error {
	if c.ready.Load() {
		return nil
	}
	cm, err := c.get(r.Context())
	switch {
	case apierrors.IsNotFound(err):
		c.ready.Store(true)
		return nil
	case err != nil:
		return fmt.Errorf("reading configmap %s/%s: %w", authConfigMapNamespace, authConfigMapName, err)
	}
	for key, ca := range c.cas {
		if cm.Data[key] != "" && len(ca.CurrentCABundleContent()) == 0 {
			return fmt.Errorf("%s of configmap %s/%s not loaded yet", key, authConfigMapNamespace, authConfigMapName)
		}
	}
	c.ready.Store(true)
	return nil
}

// withTimeout bounds the time a request may take, as the generic API server's request deadline
// does for non-long-running requests (this API has none).
func withTimeout(h http.Handler, d time.Duration) http.Handler {
	if d <= 0 {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), d)
		defer cancel()
		h.ServeHTTP(w, r.WithContext(ctx))
	})
}

// withPanicRecovery turns a panic in a handler into a 500 and a log line instead of a dropped
// connection.
func withPanicRecovery(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				klog.ErrorS(fmt.Errorf("%v", p), "panic serving request", "method", r.Method, "path", r.URL.Path)
				responsewriters.InternalError(w, r, fmt.Errorf("panic: %v", p))
			}
		}()
		h.ServeHTTP(w, r)
	})
}

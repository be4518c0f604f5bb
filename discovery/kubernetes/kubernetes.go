// Copyright The Prometheus Authors
// Licensed under the Apache License, Version 2.0 (the "License");
// you may not use this file except in compliance with the License.
// You may obtain a copy of the License at
//
// http://www.apache.org/licenses/LICENSE-2.0
//
// Unless required by applicable law or agreed to in writing, software
// distributed under the License is distributed on an "AS IS" BASIS,
// WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
// See the License for the specific language governing permissions and
// limitations under the License.

// Ported to Vigil from github.com/prometheus/prometheus/discovery/kubernetes (v0.315.0) so that
// targets carry exactly Prometheus's __meta_kubernetes_* labels; changes: Vigil's config and
// target group types, no dependency on Prometheus's discovery framework.

package kubernetes

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/common/config"
	"github.com/prometheus/common/model"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	apiv1 "k8s.io/api/core/v1"
	disv1 "k8s.io/api/discovery/v1"
	networkv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	_ "k8s.io/client-go/plugin/pkg/client/auth/gcp" // Required to get the GCP auth provider working.
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"

	vconfig "github.com/vigil-monitoring/vigil/config"
)

const (
	// metaLabelPrefix is the meta prefix used for all meta labels.
	// in this discovery.
	metaLabelPrefix = model.MetaLabelPrefix + "kubernetes_"
	namespaceLabel  = metaLabelPrefix + "namespace"
	presentValue    = model.LabelValue("true")
)

// Role is the kind of object discovered; the values are the config's.
type Role = vconfig.KubernetesRole

// The roles.
const (
	RoleNode          = vconfig.KubernetesRoleNode
	RolePod           = vconfig.KubernetesRolePod
	RoleService       = vconfig.KubernetesRoleService
	RoleEndpoint      = vconfig.KubernetesRoleEndpoint
	RoleEndpointSlice = vconfig.KubernetesRoleEndpointSlice
	RoleIngress       = vconfig.KubernetesRoleIngress
)

// Event kinds counted per role.
const (
	MetricLabelRoleAdd    = "add"
	MetricLabelRoleDelete = "delete"
	MetricLabelRoleUpdate = "update"
)

// discoverer is one role's discoverer inside a Discovery.
type discoverer interface {
	Run(ctx context.Context, ch chan<- []*vconfig.TargetGroup)
}

var invalidLabelCharRE = regexp.MustCompile(`[^a-zA-Z0-9_]`)

// sanitizeLabelName replaces characters that are not valid in legacy label names with "_", as
// Prometheus does for Kubernetes label and annotation keys.
func sanitizeLabelName(name string) string {
	return invalidLabelCharRE.ReplaceAllString(name, "_")
}

type roleSelector struct {
	node          resourceSelector
	pod           resourceSelector
	service       resourceSelector
	endpoints     resourceSelector
	endpointslice resourceSelector
	ingress       resourceSelector
}

type SelectorConfig = vconfig.KubernetesSelector

type resourceSelector struct {
	label string
	field string
}

type AttachMetadataConfig = vconfig.KubernetesAttachMetadata

type NamespaceDiscovery = vconfig.KubernetesNamespaces

// Discovery implements the discoverer interface for discovering
// targets from Kubernetes.
type Discovery struct {
	sync.RWMutex
	client             k8sClient
	role               Role
	logger             *slog.Logger
	namespaceDiscovery *NamespaceDiscovery
	discoverers        []discoverer
	selectors          roleSelector
	ownNamespace       string
	attachMetadata     AttachMetadataConfig
	metrics            *kubernetesMetrics
	*health            // Vigil: failures logged (rate-limited) and reported by LastError
}

func (d *Discovery) getNamespaces() []string {
	namespaces := d.namespaceDiscovery.Names
	includeOwnNamespace := d.namespaceDiscovery.IncludeOwnNamespace

	if len(namespaces) == 0 && !includeOwnNamespace {
		return []string{apiv1.NamespaceAll}
	}

	if includeOwnNamespace && d.ownNamespace != "" {
		return append(namespaces, d.ownNamespace)
	}

	return namespaces
}

// New creates a new Kubernetes discovery for the given role.
// It connects with the kubeconfig file, the api_server and HTTP client settings, or the pod's
// service account (in-cluster), in that order, as Prometheus does. Nothing is contacted until Run.
func New(conf *vconfig.KubernetesSDConfig, l *slog.Logger) (*Discovery, error) {
	if l == nil {
		l = slog.New(slog.DiscardHandler)
	}
	var (
		kcfg         *rest.Config
		err          error
		ownNamespace string
	)
	switch {
	case conf.KubeConfig != "":
		kcfg, err = clientcmd.BuildConfigFromFlags("", conf.KubeConfig)
		if err != nil {
			return nil, err
		}
	case conf.APIServer.URL == nil:
		// Use the Kubernetes provided pod service account
		// as described in https://kubernetes.io/docs/tasks/run-application/access-api-from-pod/#using-official-client-libraries
		kcfg, err = rest.InClusterConfig()
		if err != nil {
			return nil, err
		}

		if conf.NamespaceDiscovery.IncludeOwnNamespace {
			ownNamespaceContents, err := os.ReadFile("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
			if err != nil {
				return nil, fmt.Errorf("could not determine the pod's namespace: %w", err)
			}
			if len(ownNamespaceContents) == 0 {
				return nil, errors.New("could not read own namespace name (empty file)")
			}
			ownNamespace = string(ownNamespaceContents)
		}

		l.Info("Using pod service account via in-cluster config")
	default:
		rt, err := config.NewRoundTripperFromConfig(conf.HTTPClientConfig, "kubernetes_sd")
		if err != nil {
			return nil, err
		}
		kcfg = &rest.Config{
			Host:      conf.APIServer.String(),
			Transport: rt,
		}
	}

	kcfg.UserAgent = UserAgent
	kcfg.ContentType = "application/vnd.kubernetes.protobuf"

	c, err := kubernetes.NewForConfig(kcfg)
	if err != nil {
		return nil, err
	}
	d := newDiscovery(newClientAdapter(c), conf, l)
	d.ownNamespace = ownNamespace
	return d, nil
}

// UserAgent is sent to the API server.
var UserAgent = "Vigil"

// NewForClient returns a discovery that uses the given clientset (client-go's fake clientset in
// tests, or a clientset the caller built).
func NewForClient(client kubernetes.Interface, conf *vconfig.KubernetesSDConfig, l *slog.Logger) *Discovery {
	if l == nil {
		l = slog.New(slog.DiscardHandler)
	}
	return newDiscovery(client, conf, l)
}

func newDiscovery(client k8sClient, conf *vconfig.KubernetesSDConfig, l *slog.Logger) *Discovery {
	return &Discovery{
		client:             client,
		logger:             l,
		role:               conf.Role,
		namespaceDiscovery: &conf.NamespaceDiscovery,
		discoverers:        make([]discoverer, 0),
		selectors:          mapSelector(conf.Selectors),
		attachMetadata:     conf.AttachMetadata,
		metrics:            defaultMetrics,
		health:             newHealth(l, defaultMetrics.failuresCount),
	}
}

func mapSelector(rawSelector []SelectorConfig) roleSelector {
	rs := roleSelector{}
	for _, resourceSelectorRaw := range rawSelector {
		switch resourceSelectorRaw.Role {
		case RoleEndpointSlice:
			rs.endpointslice.field = resourceSelectorRaw.Field
			rs.endpointslice.label = resourceSelectorRaw.Label
		case RoleEndpoint:
			rs.endpoints.field = resourceSelectorRaw.Field
			rs.endpoints.label = resourceSelectorRaw.Label
		case RoleIngress:
			rs.ingress.field = resourceSelectorRaw.Field
			rs.ingress.label = resourceSelectorRaw.Label
		case RoleNode:
			rs.node.field = resourceSelectorRaw.Field
			rs.node.label = resourceSelectorRaw.Label
		case RolePod:
			rs.pod.field = resourceSelectorRaw.Field
			rs.pod.label = resourceSelectorRaw.Label
		case RoleService:
			rs.service.field = resourceSelectorRaw.Field
			rs.service.label = resourceSelectorRaw.Label
		}
	}
	return rs
}

// Disable the informer's resync, which just periodically resends already processed updates and distort SD metrics.
const resyncDisabled = 0

// Run implements the discoverer interface.
func (d *Discovery) Run(ctx context.Context, ch chan<- []*vconfig.TargetGroup) {
	d.Lock()
	if d.health == nil { // Vigil: a Discovery made without newDiscovery (upstream's tests)
		d.health = newHealth(d.logger, d.metrics.failuresCount)
	}

	namespaces := d.getNamespaces()

	switch d.role {
	case RoleEndpointSlice:
		for _, namespace := range namespaces {
			var informer cache.SharedIndexInformer
			e := d.client.DiscoveryV1().EndpointSlices(namespace)
			elw := listWatch(d.health, &d.selectors.endpointslice, e.List, e.Watch)
			informer = d.newIndexedEndpointSlicesInformer(elw, &disv1.EndpointSlice{})

			s := d.client.CoreV1().Services(namespace)
			slw := listWatch(d.health, &d.selectors.service, s.List, s.Watch)
			p := d.client.CoreV1().Pods(namespace)
			plw := listWatch(d.health, &d.selectors.pod, p.List, p.Watch)
			var nodeInf cache.SharedInformer
			if d.attachMetadata.Node {
				nodeInf = d.newNodeInformer(context.Background())
				go nodeInf.Run(ctx.Done())
			}
			var namespaceInf cache.SharedInformer
			if d.attachMetadata.Namespace {
				namespaceInf = d.newNamespaceInformer(context.Background())
				go namespaceInf.Run(ctx.Done())
			}
			var replicaSetInf, jobInformer cache.SharedInformer
			if d.attachMetadata.Deployment {
				replicaSetInf = d.newReplicaSetInformer(ctx, namespace)
				go replicaSetInf.Run(ctx.Done())
			}
			if d.attachMetadata.Job || d.attachMetadata.CronJob {
				jobInformer = d.newJobInformer(ctx, namespace)
				go jobInformer.Run(ctx.Done())
			}
			eps := NewEndpointSlice(
				d.logger.With("role", "endpointslice"),
				informer,
				d.mustNewSharedInformer(slw, &apiv1.Service{}, resyncDisabled),
				d.mustNewSharedInformer(plw, &apiv1.Pod{}, resyncDisabled),
				nodeInf,
				namespaceInf,
				replicaSetInf,
				jobInformer,
				d.attachMetadata.Deployment,
				d.attachMetadata.Job,
				d.attachMetadata.CronJob,
				d.metrics.eventCount,
			)
			d.discoverers = append(d.discoverers, eps)
			go eps.endpointSliceInf.Run(ctx.Done())
			go eps.serviceInf.Run(ctx.Done())
			go eps.podInf.Run(ctx.Done())
		}
	case RoleEndpoint:
		for _, namespace := range namespaces {
			e := d.client.CoreV1().Endpoints(namespace)
			elw := listWatch(d.health, &d.selectors.endpoints, e.List, e.Watch)
			s := d.client.CoreV1().Services(namespace)
			slw := listWatch(d.health, &d.selectors.service, s.List, s.Watch)
			p := d.client.CoreV1().Pods(namespace)
			plw := listWatch(d.health, &d.selectors.pod, p.List, p.Watch)
			var nodeInf cache.SharedInformer
			if d.attachMetadata.Node {
				nodeInf = d.newNodeInformer(ctx)
				go nodeInf.Run(ctx.Done())
			}
			var namespaceInf cache.SharedInformer
			if d.attachMetadata.Namespace {
				namespaceInf = d.newNamespaceInformer(ctx)
				go namespaceInf.Run(ctx.Done())
			}

			var replicaSetInf, jobInformer cache.SharedInformer
			if d.attachMetadata.Deployment {
				replicaSetInf = d.newReplicaSetInformer(ctx, namespace)
				go replicaSetInf.Run(ctx.Done())
			}
			if d.attachMetadata.Job || d.attachMetadata.CronJob {
				jobInformer = d.newJobInformer(ctx, namespace)
				go jobInformer.Run(ctx.Done())
			}

			eps := NewEndpoints(
				d.logger.With("role", "endpoint"),
				d.newIndexedEndpointsInformer(elw),
				d.mustNewSharedInformer(slw, &apiv1.Service{}, resyncDisabled),
				d.mustNewSharedInformer(plw, &apiv1.Pod{}, resyncDisabled),
				nodeInf,
				namespaceInf,
				replicaSetInf,
				jobInformer,
				d.attachMetadata.Deployment,
				d.attachMetadata.Job,
				d.attachMetadata.CronJob,
				d.metrics.eventCount,
			)
			d.discoverers = append(d.discoverers, eps)
			go eps.endpointsInf.Run(ctx.Done())
			go eps.serviceInf.Run(ctx.Done())
			go eps.podInf.Run(ctx.Done())
		}
	case RolePod:
		var nodeInformer cache.SharedInformer
		if d.attachMetadata.Node {
			nodeInformer = d.newNodeInformer(ctx)
			go nodeInformer.Run(ctx.Done())
		}
		var namespaceInformer cache.SharedInformer
		if d.attachMetadata.Namespace {
			namespaceInformer = d.newNamespaceInformer(ctx)
			go namespaceInformer.Run(ctx.Done())
		}
		var replicaSetInformer, jobInformer cache.SharedInformer

		for _, namespace := range namespaces {
			p := d.client.CoreV1().Pods(namespace)
			plw := listWatch(d.health, &d.selectors.pod, p.List, p.Watch)
			if d.attachMetadata.Deployment {
				replicaSetInformer = d.newReplicaSetInformer(ctx, namespace)
				go replicaSetInformer.Run(ctx.Done())
			}
			if d.attachMetadata.Job || d.attachMetadata.CronJob {
				jobInformer = d.newJobInformer(ctx, namespace)
				go jobInformer.Run(ctx.Done())
			}
			pod := NewPod(
				d.logger.With("role", "pod"),
				d.newIndexedPodsInformer(plw),
				nodeInformer,
				namespaceInformer,
				replicaSetInformer,
				jobInformer,
				d.attachMetadata.Deployment,
				d.attachMetadata.Job,
				d.attachMetadata.CronJob,
				d.metrics.eventCount,
			)
			d.discoverers = append(d.discoverers, pod)
			go pod.podInf.Run(ctx.Done())
		}
	case RoleService:
		var namespaceInformer cache.SharedInformer
		if d.attachMetadata.Namespace {
			namespaceInformer = d.newNamespaceInformer(ctx)
			go namespaceInformer.Run(ctx.Done())
		}

		for _, namespace := range namespaces {
			s := d.client.CoreV1().Services(namespace)
			slw := listWatch(d.health, &d.selectors.service, s.List, s.Watch)
			svc := NewService(
				d.logger.With("role", "service"),
				d.newIndexedServicesInformer(slw),
				namespaceInformer,
				d.metrics.eventCount,
			)
			d.discoverers = append(d.discoverers, svc)
			go svc.informer.Run(ctx.Done())
		}
	case RoleIngress:
		var namespaceInformer cache.SharedInformer
		if d.attachMetadata.Namespace {
			namespaceInformer = d.newNamespaceInformer(ctx)
			go namespaceInformer.Run(ctx.Done())
		}

		for _, namespace := range namespaces {
			i := d.client.NetworkingV1().Ingresses(namespace)
			ilw := listWatch(d.health, &d.selectors.ingress, i.List, i.Watch)
			ingress := NewIngress(
				d.logger.With("role", "ingress"),
				d.newIndexedIngressesInformer(ilw),
				namespaceInformer,
				d.metrics.eventCount,
			)
			d.discoverers = append(d.discoverers, ingress)
			go ingress.informer.Run(ctx.Done())
		}
	case RoleNode:
		nodeInformer := d.newNodeInformer(ctx)
		node := NewNode(d.logger.With("role", "node"), nodeInformer, d.metrics.eventCount)
		d.discoverers = append(d.discoverers, node)
		go node.informer.Run(ctx.Done())
	default:
		d.logger.Error("unknown Kubernetes discovery kind", "role", d.role)
	}

	var wg sync.WaitGroup
	for _, dd := range d.discoverers {
		wg.Add(1)
		go func(d discoverer) {
			defer wg.Done()
			d.Run(ctx, ch)
		}(dd)
	}

	d.Unlock()

	wg.Wait()
	<-ctx.Done()
}

func lv(s string) model.LabelValue {
	return model.LabelValue(s)
}

func send(ctx context.Context, ch chan<- []*vconfig.TargetGroup, tg *vconfig.TargetGroup) {
	if tg == nil {
		return
	}
	select {
	case <-ctx.Done():
	case ch <- []*vconfig.TargetGroup{tg}:
	}
}

func retryOnError(ctx context.Context, interval time.Duration, f func() error) (canceled bool) {
	var err error
	err = f()
	for {
		if err == nil {
			return false
		}
		select {
		case <-ctx.Done():
			return true
		case <-time.After(interval):
			err = f()
		}
	}
}

func (d *Discovery) newReplicaSetInformer(_ context.Context, namespace string) cache.SharedInformer {
	rs := d.client.AppsV1().ReplicaSets(namespace)
	rslw := listWatch(d.health, nil, rs.List, rs.Watch)
	return d.mustNewSharedInformer(rslw, &appsv1.ReplicaSet{}, resyncDisabled)
}

func (d *Discovery) newJobInformer(_ context.Context, namespace string) cache.SharedInformer {
	j := d.client.BatchV1().Jobs(namespace)
	jlw := listWatch(d.health, nil, j.List, j.Watch)
	return d.mustNewSharedInformer(jlw, &batchv1.Job{}, resyncDisabled)
}

func (d *Discovery) newNodeInformer(_ context.Context) cache.SharedInformer {
	nlw := listWatch(d.health, &d.selectors.node, d.client.CoreV1().Nodes().List, d.client.CoreV1().Nodes().Watch)
	return d.mustNewSharedInformer(nlw, &apiv1.Node{}, resyncDisabled)
}

func (d *Discovery) newNamespaceInformer(_ context.Context) cache.SharedInformer {
	// We don't filter on NamespaceDiscovery.
	nlw := listWatch(d.health, nil, d.client.CoreV1().Namespaces().List, d.client.CoreV1().Namespaces().Watch)
	return d.mustNewSharedInformer(nlw, &apiv1.Namespace{}, resyncDisabled)
}

func (d *Discovery) newIndexedPodsInformer(plw *cache.ListWatch) cache.SharedIndexInformer {
	indexers := make(map[string]cache.IndexFunc)
	if d.attachMetadata.Node {
		indexers[nodeIndex] = func(obj any) ([]string, error) {
			pod, ok := obj.(*apiv1.Pod)
			if !ok {
				return nil, errors.New("object is not a pod")
			}
			return []string{pod.Spec.NodeName}, nil
		}
	}

	if d.attachMetadata.Namespace {
		indexers[cache.NamespaceIndex] = cache.MetaNamespaceIndexFunc
	}

	if d.attachMetadata.Deployment {
		indexers[replicaSetIndex] = func(obj any) ([]string, error) {
			pod, ok := obj.(*apiv1.Pod)
			if !ok {
				return nil, errors.New("object is not a pod")
			}
			owner := GetControllerOf(pod)
			if owner == nil || owner.Kind != "ReplicaSet" {
				return nil, nil
			}
			return []string{namespacedName(pod.Namespace, owner.Name)}, nil
		}
	}

	if d.attachMetadata.Job || d.attachMetadata.CronJob {
		indexers[jobIndex] = func(obj any) ([]string, error) {
			pod, ok := obj.(*apiv1.Pod)
			if !ok {
				return nil, errors.New("object is not a pod")
			}
			owner := GetControllerOf(pod)
			if owner == nil || owner.Kind != "Job" {
				return nil, nil
			}
			return []string{namespacedName(pod.Namespace, owner.Name)}, nil
		}
	}

	return d.mustNewSharedIndexInformer(plw, &apiv1.Pod{}, resyncDisabled, indexers)
}

func (d *Discovery) newIndexedEndpointsInformer(plw *cache.ListWatch) cache.SharedIndexInformer {
	indexers := make(map[string]cache.IndexFunc)
	indexers[podIndex] = func(obj any) ([]string, error) {
		e, ok := obj.(*apiv1.Endpoints)
		if !ok {
			return nil, errors.New("object is not endpoints")
		}
		var pods []string
		for _, target := range e.Subsets {
			for _, addr := range target.Addresses {
				if addr.TargetRef != nil && addr.TargetRef.Kind == "Pod" {
					pods = append(pods, namespacedName(addr.TargetRef.Namespace, addr.TargetRef.Name))
				}
			}
		}
		return pods, nil
	}

	if d.attachMetadata.Node {
		indexers[nodeIndex] = func(obj any) ([]string, error) {
			e, ok := obj.(*apiv1.Endpoints)
			if !ok {
				return nil, errors.New("object is not endpoints")
			}
			var nodes []string
			for _, target := range e.Subsets {
				for _, addr := range target.Addresses {
					if addr.TargetRef != nil {
						switch addr.TargetRef.Kind {
						case "Pod":
							if addr.NodeName != nil {
								nodes = append(nodes, *addr.NodeName)
							}
						case "Node":
							nodes = append(nodes, addr.TargetRef.Name)
						}
					}
				}
			}
			return nodes, nil
		}
	}

	if d.attachMetadata.Namespace {
		indexers[cache.NamespaceIndex] = cache.MetaNamespaceIndexFunc
	}

	return d.mustNewSharedIndexInformer(plw, &apiv1.Endpoints{}, resyncDisabled, indexers)
}

func (d *Discovery) newIndexedEndpointSlicesInformer(plw *cache.ListWatch, object runtime.Object) cache.SharedIndexInformer {
	indexers := make(map[string]cache.IndexFunc)
	indexers[serviceIndex] = func(obj any) ([]string, error) {
		e, ok := obj.(*disv1.EndpointSlice)
		if !ok {
			return nil, errors.New("object is not an endpointslice")
		}

		svcName, exists := e.Labels[disv1.LabelServiceName]
		if !exists {
			return nil, nil
		}

		return []string{namespacedName(e.Namespace, svcName)}, nil
	}

	if d.attachMetadata.Node {
		indexers[nodeIndex] = func(obj any) ([]string, error) {
			e, ok := obj.(*disv1.EndpointSlice)
			if !ok {
				return nil, errors.New("object is not an endpointslice")
			}

			var nodes []string
			for _, target := range e.Endpoints {
				if target.TargetRef != nil {
					switch target.TargetRef.Kind {
					case "Pod":
						if target.NodeName != nil {
							nodes = append(nodes, *target.NodeName)
						}
					case "Node":
						nodes = append(nodes, target.TargetRef.Name)
					}
				}
			}

			return nodes, nil
		}
	}

	if d.attachMetadata.Namespace {
		indexers[cache.NamespaceIndex] = cache.MetaNamespaceIndexFunc
	}

	return d.mustNewSharedIndexInformer(plw, object, resyncDisabled, indexers)
}

func (d *Discovery) newIndexedServicesInformer(slw *cache.ListWatch) cache.SharedIndexInformer {
	indexers := make(map[string]cache.IndexFunc)

	if d.attachMetadata.Namespace {
		indexers[cache.NamespaceIndex] = cache.MetaNamespaceIndexFunc
	}

	return d.mustNewSharedIndexInformer(slw, &apiv1.Service{}, resyncDisabled, indexers)
}

func (d *Discovery) newIndexedIngressesInformer(ilw *cache.ListWatch) cache.SharedIndexInformer {
	indexers := make(map[string]cache.IndexFunc)

	if d.attachMetadata.Namespace {
		indexers[cache.NamespaceIndex] = cache.MetaNamespaceIndexFunc
	}

	return d.mustNewSharedIndexInformer(ilw, &networkv1.Ingress{}, resyncDisabled, indexers)
}

func (d *Discovery) informerWatchErrorHandler(ctx context.Context, r *cache.Reflector, err error) {
	// Vigil: failed list and watch calls are counted, logged (rate-limited) and kept for the
	// targets API by listWatch (health.go), instead of a count here and klog's line per failure
	// (cache.DefaultWatchErrorHandler): client-go retries a refused watch without calling this.
}

func (d *Discovery) mustNewSharedInformer(lw cache.ListerWatcher, exampleObject runtime.Object, defaultEventHandlerResyncPeriod time.Duration) cache.SharedInformer {
	informer := cache.NewSharedInformer(lw, exampleObject, defaultEventHandlerResyncPeriod)
	// Invoking SetWatchErrorHandler should fail only if the informer has been started beforehand.
	// Such a scenario would suggest an incorrect use of the API, thus the panic.
	if err := informer.SetWatchErrorHandlerWithContext(d.informerWatchErrorHandler); err != nil {
		panic(err)
	}
	return informer
}

func (d *Discovery) mustNewSharedIndexInformer(lw cache.ListerWatcher, exampleObject runtime.Object, defaultEventHandlerResyncPeriod time.Duration, indexers cache.Indexers) cache.SharedIndexInformer {
	informer := cache.NewSharedIndexInformer(lw, exampleObject, defaultEventHandlerResyncPeriod, indexers)
	// Invoking SetWatchErrorHandler should fail only if the informer has been started beforehand.
	// Such a scenario would suggest an incorrect use of the API, thus the panic.
	if err := informer.SetWatchErrorHandlerWithContext(d.informerWatchErrorHandler); err != nil {
		panic(err)
	}
	return informer
}

func addObjectAnnotationsAndLabels(labelSet model.LabelSet, objectMeta metav1.ObjectMeta, resource string) {
	for k, v := range objectMeta.Labels {
		ln := sanitizeLabelName(k)
		labelSet[model.LabelName(metaLabelPrefix+resource+"_label_"+ln)] = lv(v)
		labelSet[model.LabelName(metaLabelPrefix+resource+"_labelpresent_"+ln)] = presentValue
	}
	for k, v := range objectMeta.Annotations {
		ln := sanitizeLabelName(k)
		labelSet[model.LabelName(metaLabelPrefix+resource+"_annotation_"+ln)] = lv(v)
		labelSet[model.LabelName(metaLabelPrefix+resource+"_annotationpresent_"+ln)] = presentValue
	}
}

func addObjectMetaLabels(labelSet model.LabelSet, objectMeta metav1.ObjectMeta, role Role) {
	labelSet[model.LabelName(metaLabelPrefix+string(role)+"_name")] = lv(objectMeta.Name)
	addObjectAnnotationsAndLabels(labelSet, objectMeta, string(role))
}

func addNamespaceMetaLabels(labelSet model.LabelSet, objectMeta metav1.ObjectMeta) {
	// Omitting the namespace name because should be already injected elsewhere.
	addObjectAnnotationsAndLabels(labelSet, objectMeta, "namespace")
}

func namespacedName(namespace, name string) string {
	return namespace + "/" + name
}

// nodeName knows how to handle the cache.DeletedFinalStateUnknown tombstone.
// It assumes the MetaNamespaceKeyFunc keyFunc is used, which uses the node name as the tombstone key.
func nodeName(o any) (string, error) {
	key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(o)
	if err != nil {
		return "", err
	}
	return key, nil
}

// listWatch builds the ListWatch of one typed client (Pods(ns), Services(ns), Nodes(), …),
// applying the role's selectors to every list and watch; a nil selector leaves the options as
// the informer passes them.
func listWatch[L runtime.Object](h *health, sel *resourceSelector,
	list func(context.Context, metav1.ListOptions) (L, error),
	watchFn func(context.Context, metav1.ListOptions) (watch.Interface, error),
) *cache.ListWatch {
	apply := func(o *metav1.ListOptions) {
		if sel != nil {
			o.FieldSelector, o.LabelSelector = sel.field, sel.label
		}
	}
	var zero L
	resource := strings.TrimSuffix(strings.TrimPrefix(fmt.Sprintf("%T", zero), "*"), "List")
	return &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, options metav1.ListOptions) (runtime.Object, error) {
			apply(&options)
			l, err := list(ctx, options)
			// Vigil: failures reported (health.go); a successful list ends them.
			switch {
			case err == nil:
				h.listed(resource)
			case ctx.Err() == nil:
				h.failed(resource, err)
			}
			return l, err
		},
		WatchFuncWithContext: func(ctx context.Context, options metav1.ListOptions) (watch.Interface, error) {
			apply(&options)
			w, err := watchFn(ctx, options)
			if err != nil && ctx.Err() == nil {
				h.failed(resource, err)
			}
			return w, err
		},
	}
}

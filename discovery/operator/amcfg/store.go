// Copyright 2020 The prometheus-operator Authors
//
// Licensed under the Apache License, Version 2.0 (the "License");
// you may not use this file except in compliance with the License.
// You may obtain a copy of the License at
//
//     http://www.apache.org/licenses/LICENSE-2.0
//
// Unless required by applicable law or agreed to in writing, software
// distributed under the License is distributed on an "AS IS" BASIS,
// WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
// See the License for the specific language governing permissions and
// limitations under the License.
//
// Ported to Vigil from pkg/assets (store.go, tls.go): the checks the operator runs on the
// Secrets and ConfigMaps an AlertmanagerConfig refers to. The values come from Vigil's
// Secrets reader instead of the operator's informer cache, and TLS material is kept for
// inlining instead of being written to files.

package amcfg

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	v1 "k8s.io/api/core/v1"
)

// Secrets reads the keys of Secrets and ConfigMaps of a namespace.
type Secrets interface {
	SecretKey(namespace string, sel v1.SecretKeySelector) (string, error)
	ConfigMapKey(namespace string, sel v1.ConfigMapKeySelector) (string, error)
}

// StoreBuilder is the operator's assets.StoreBuilder on a Secrets reader.
type StoreBuilder struct {
	s Secrets
}

// NewStoreBuilder reads Secrets and ConfigMaps with s.
func NewStoreBuilder(s Secrets) *StoreBuilder { return &StoreBuilder{s: s} }

// GetSecretKey returns the value of a Secret's key.
func (s *StoreBuilder) GetSecretKey(_ context.Context, namespace string, sel v1.SecretKeySelector) (string, error) {
	if s == nil || s.s == nil {
		return "", fmt.Errorf("secret %s/%s: no Kubernetes client", namespace, sel.Name)
	}
	return s.s.SecretKey(namespace, sel)
}

// GetConfigMapKey returns the value of a ConfigMap's key.
func (s *StoreBuilder) GetConfigMapKey(_ context.Context, namespace string, sel v1.ConfigMapKeySelector) (string, error) {
	if s == nil || s.s == nil {
		return "", fmt.Errorf("configmap %s/%s: no Kubernetes client", namespace, sel.Name)
	}
	return s.s.ConfigMapKey(namespace, sel)
}

// GetKey returns the value of a Secret's or ConfigMap's key.
func (s *StoreBuilder) GetKey(ctx context.Context, namespace string, sel monitoringv1.SecretOrConfigMap) (string, error) {
	switch {
	case sel.Secret != nil:
		return s.GetSecretKey(ctx, namespace, *sel.Secret)
	case sel.ConfigMap != nil:
		return s.GetConfigMapKey(ctx, namespace, *sel.ConfigMap)
	default:
		return "", nil
	}
}

// AddBasicAuth checks that the basic auth credentials can be read.
func (s *StoreBuilder) AddBasicAuth(ctx context.Context, ns string, ba *monitoringv1.BasicAuth) error {
	if ba == nil {
		return nil
	}

	_, err := s.GetSecretKey(ctx, ns, ba.Username)
	if err != nil {
		return fmt.Errorf("failed to get basic auth username: %w", err)
	}

	_, err = s.GetSecretKey(ctx, ns, ba.Password)
	if err != nil {
		return fmt.Errorf("failed to get basic auth password: %w", err)
	}

	return nil
}

// AddProxyConfig checks that the proxy connect headers can be read.
func (s *StoreBuilder) AddProxyConfig(ctx context.Context, namespace string, pc monitoringv1.ProxyConfig) error {
	for k, v := range pc.ProxyConnectHeader {
		for index, sel := range v {
			if _, err := s.GetSecretKey(ctx, namespace, sel); err != nil {
				return fmt.Errorf("header[%s][%d]: %w", k, index, err)
			}
		}
	}

	return nil
}

// AddOAuth2 validates an OAuth2 config and checks that its credentials can be read.
func (s *StoreBuilder) AddOAuth2(ctx context.Context, ns string, oauth2 *monitoringv1.OAuth2) error {
	if oauth2 == nil {
		return nil
	}

	if err := oauth2.Validate(); err != nil {
		return err
	}

	_, err := s.GetKey(ctx, ns, oauth2.ClientID)
	if err != nil {
		return fmt.Errorf("failed to get oauth2 client id: %w", err)
	}

	_, err = s.GetSecretKey(ctx, ns, oauth2.ClientSecret)
	if err != nil {
		return fmt.Errorf("failed to get oauth2 client secret: %w", err)
	}

	err = s.AddProxyConfig(ctx, ns, oauth2.ProxyConfig)
	if err != nil {
		return fmt.Errorf("failed to get oauth2 proxyConfig: %w", err)
	}

	err = s.AddSafeTLSConfig(ctx, ns, oauth2.TLSConfig)
	if err != nil {
		return fmt.Errorf("failed to get oauth2 tlsConfig: %w", err)
	}

	return nil
}

// AddSafeAuthorizationCredentials validates an authorization and checks its credentials.
func (s *StoreBuilder) AddSafeAuthorizationCredentials(ctx context.Context, namespace string, auth *monitoringv1.SafeAuthorization) error {
	if auth == nil || auth.Credentials == nil {
		return nil
	}

	if err := auth.Validate(); err != nil {
		return err
	}

	if auth.Credentials.Name != "" {
		if _, err := s.GetSecretKey(ctx, namespace, *auth.Credentials); err != nil {
			return fmt.Errorf("failed to get authorization token of type %q: %w", auth.Type, err)
		}
	}

	return nil
}

// AddSigV4 checks that SigV4 keys can be read.
func (s *StoreBuilder) AddSigV4(ctx context.Context, ns string, sigv4 *monitoringv1.Sigv4) error {
	if sigv4 == nil || (sigv4.AccessKey == nil && sigv4.SecretKey == nil) {
		return nil
	}

	if sigv4.AccessKey == nil || sigv4.SecretKey == nil {
		return errors.New("both accessKey and secretKey should be provided")
	}

	_, err := s.GetSecretKey(ctx, ns, *sigv4.AccessKey)
	if err != nil {
		return fmt.Errorf("failed to read SigV4 access-key: %w", err)
	}

	_, err = s.GetSecretKey(ctx, ns, *sigv4.SecretKey)
	if err != nil {
		return fmt.Errorf("failed to read SigV4 secret-key: %w", err)
	}

	return nil
}

// AddSafeTLSConfig validates a TLS config and checks its CA, certificate and key.
func (s *StoreBuilder) AddSafeTLSConfig(ctx context.Context, ns string, tlsConfig *monitoringv1.SafeTLSConfig) error {
	if tlsConfig == nil {
		return nil
	}

	err := tlsConfig.Validate()
	if err != nil {
		return fmt.Errorf("failed to validate TLS configuration: %w", err)
	}

	_, _, _, err = s.tlsAssets(ctx, ns, *tlsConfig)
	return err
}

// tlsAssets reads and checks the CA, certificate and key of a TLS config.
func (s *StoreBuilder) tlsAssets(ctx context.Context, ns string, tlsConfig monitoringv1.SafeTLSConfig) (ca, cert, key string, err error) {
	ca, err = s.GetKey(ctx, ns, tlsConfig.CA)
	if err != nil {
		return "", "", "", fmt.Errorf("failed to get ca %q: %w", tlsConfig.CA.String(), err)
	}

	cert, err = s.GetKey(ctx, ns, tlsConfig.Cert)
	if err != nil {
		return "", "", "", fmt.Errorf("failed to get cert %q: %w", tlsConfig.Cert.String(), err)
	}

	if tlsConfig.KeySecret != nil {
		key, err = s.GetSecretKey(ctx, ns, *tlsConfig.KeySecret)
		if err != nil {
			return "", "", "", fmt.Errorf("failed to get key %s/%s: %w", tlsConfig.KeySecret.Name, tlsConfig.KeySecret.Key, err)
		}
	}

	if ca != "" {
		block, _ := pem.Decode([]byte(ca))
		if block == nil {
			return "", "", "", fmt.Errorf("ca %s: failed to decode PEM block", tlsConfig.CA.String())
		}

		_, err = x509.ParseCertificate(block.Bytes)
		if err != nil {
			return "", "", "", fmt.Errorf("ca %s: failed to parse certificate: %w", tlsConfig.CA.String(), err)
		}
	}

	if cert != "" && key != "" {
		_, err = tls.X509KeyPair([]byte(cert), []byte(key))
		if err != nil {
			return "", "", "", fmt.Errorf(
				"cert %s, key <%s/%s>: %w",
				tlsConfig.Cert.String(),
				tlsConfig.KeySecret.Name, tlsConfig.KeySecret.Key,
				err)
		}
	}

	return ca, cert, key, nil
}

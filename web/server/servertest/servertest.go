// Package servertest writes web configuration files (--web.config.file) for tests: a CA, a
// server certificate for 127.0.0.1 and localhost, a client certificate, and bcrypt-hashed basic
// auth users.
package servertest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// Files are the paths of what WriteConfig wrote.
type Files struct {
	WebConfig  string // --web.config.file
	CA         string // the CA's certificate, PEM
	ClientCert string // a client certificate signed by the CA, PEM
	ClientKey  string
	Dir        string
}

// Options say what the web configuration turns on.
type Options struct {
	TLS bool
	// RequireClientCert asks for client certificates signed by the CA (client_auth_type
	// RequireAndVerifyClientCert).
	RequireClientCert bool
	// Users maps user names to plain passwords; the file holds their bcrypt hashes.
	Users map[string]string
	// Extra is appended to the file as is (e.g. http_server_config).
	Extra string
}

// WriteConfig writes a web configuration file and its certificates into a temporary directory.
func WriteConfig(t testing.TB, o Options) Files {
	t.Helper()
	dir := t.TempDir()
	f := Files{Dir: dir, WebConfig: filepath.Join(dir, "web.yml"), CA: filepath.Join(dir, "ca.pem"),
		ClientCert: filepath.Join(dir, "client.pem"), ClientKey: filepath.Join(dir, "client-key.pem")}
	caKey, caCert, caDER := newCA(t)
	writePEM(t, f.CA, "CERTIFICATE", caDER)
	serverDER, serverKey := newLeaf(t, caCert, caKey, "vigil", x509.ExtKeyUsageServerAuth)
	writePEM(t, filepath.Join(dir, "server.pem"), "CERTIFICATE", serverDER)
	writeKey(t, filepath.Join(dir, "server-key.pem"), serverKey)
	clientDER, clientKey := newLeaf(t, caCert, caKey, "client", x509.ExtKeyUsageClientAuth)
	writePEM(t, f.ClientCert, "CERTIFICATE", clientDER)
	writeKey(t, f.ClientKey, clientKey)

	var b strings.Builder
	if o.TLS {
		b.WriteString("tls_server_config:\n  cert_file: server.pem\n  key_file: server-key.pem\n")
		if o.RequireClientCert {
			b.WriteString("  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.pem\n")
		}
	}
	if len(o.Users) > 0 {
		b.WriteString("basic_auth_users:\n")
		for u, p := range o.Users {
			h, err := bcrypt.GenerateFromPassword([]byte(p), bcrypt.MinCost)
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&b, "  %s: %s\n", u, h)
		}
	}
	b.WriteString(o.Extra)
	if err := os.WriteFile(f.WebConfig, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// Client returns an HTTP client that trusts the CA and, with clientCert, presents the client
// certificate.
func (f Files) Client(t testing.TB, clientCert bool) *http.Client {
	t.Helper()
	pool := x509.NewCertPool()
	ca, err := os.ReadFile(f.CA)
	if err != nil {
		t.Fatal(err)
	}
	pool.AppendCertsFromPEM(ca)
	cfg := &tls.Config{RootCAs: pool}
	if clientCert {
		c, err := tls.LoadX509KeyPair(f.ClientCert, f.ClientKey)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Certificates = []tls.Certificate{c}
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}, Timeout: 30 * time.Second}
}

func newCA(t testing.TB) (*ecdsa.PrivateKey, *x509.Certificate, []byte) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Vigil test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return key, cert, der
}

func newLeaf(t testing.TB, ca *x509.Certificate, caKey *ecdsa.PrivateKey, cn string, usage x509.ExtKeyUsage) ([]byte, *ecdsa.PrivateKey) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1"), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return der, key
}

func writePEM(t testing.TB, path, typ string, der []byte) {
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

func writeKey(t testing.TB, path string, key *ecdsa.PrivateKey) {
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	writePEM(t, path, "EC PRIVATE KEY", der)
}

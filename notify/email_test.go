package notify

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// smtpPython returns a Python interpreter that has aiosmtpd. Debian's python3-aiosmtpd lives
// in the system interpreter, which a pyenv python3 earlier in PATH does not see.
func smtpPython(t *testing.T) string {
	t.Helper()
	for _, py := range []string{"/usr/bin/python3", "python3"} {
		if exec.Command(py, "-c", "import aiosmtpd").Run() == nil {
			return py
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("aiosmtpd is not installed (Debian python3-aiosmtpd; scripts/deps.sh installs it)")
	}
	t.Skip("aiosmtpd is not installed (Debian python3-aiosmtpd; run scripts/deps.sh)")
	return ""
}

func selfSignedCert(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

type receivedMail struct {
	From  string   `json:"from"`
	To    []string `json:"to"`
	Login *string  `json:"login"`
	TLS   bool     `json:"tls"`
	Data  string   `json:"data"`
}

// startSMTP runs testdata/smtpd.py and returns its port and a channel of received messages.
func startSMTP(t *testing.T, py, mode, mechs string) (int, <-chan receivedMail) {
	t.Helper()
	dir := t.TempDir()
	cert, key := selfSignedCert(t, dir)
	port := freePort(t)
	cmd := exec.Command(py, "testdata/smtpd.py", fmt.Sprint(port), mode, mechs, cert, key)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
		}
	})
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	if !sc.Scan() || sc.Text() != "READY" {
		t.Fatalf("smtp server did not start: %q %v", sc.Text(), sc.Err())
	}
	ch := make(chan receivedMail, 4)
	go func() {
		for sc.Scan() {
			var m receivedMail
			if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
				t.Errorf("bad line from smtp server: %q", sc.Text())
				continue
			}
			ch <- m
		}
	}()
	return port, ch
}

// TestEmailRealSMTP delivers through a real SMTP server process on loopback with each
// transport security and authentication mechanism, and checks the message received.
func TestEmailRealSMTP(t *testing.T) {
	py := smtpPython(t)
	tests := []struct {
		name, mode, mechs string
		extra             string // email_configs settings for this case
		wantLogin         string
		wantTLS           bool
	}{
		{"starttls+plain", "starttls", "PLAIN", "auth_username: vigil\n    auth_password: s3cret\n    tls_config: {insecure_skip_verify: true}", "vigil", true},
		{"implicit-tls+login", "tls", "LOGIN", "auth_username: vigil\n    auth_password: s3cret\n    force_implicit_tls: true\n    tls_config: {insecure_skip_verify: true}", "vigil", true},
		{"starttls+cram-md5", "starttls", "CRAM-MD5", "auth_username: vigil\n    auth_secret: s3cret\n    tls_config: {insecure_skip_verify: true}", "vigil", true},
		{"plain-no-auth", "plain", "none", "require_tls: false", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			port, mails := startSMTP(t, py, tc.mode, tc.mechs)
			ints := loadIntegrations(t, fmt.Sprintf(`
route: {receiver: test}
receivers:
- name: test
  email_configs:
  - to: oncall@example.org
    from: vigil@example.org
    smarthost: 127.0.0.1:%d
    hello: vigil.test
    headers: {X-Vigil-Team: backend}
    text: '{{ template "__text_alert_list" .Alerts.Firing }}'
    %s
`, port, tc.extra))
			retry, err := ints[0].Notify(groupCtx(t), testAlert(false))
			if err != nil {
				t.Fatalf("Notify: retry=%v err=%v", retry, err)
			}
			var m receivedMail
			select {
			case m = <-mails:
			case <-time.After(10 * time.Second):
				t.Fatal("no message received")
			}
			if m.From != "vigil@example.org" || len(m.To) != 1 || m.To[0] != "oncall@example.org" {
				t.Errorf("envelope from=%q to=%v", m.From, m.To)
			}
			login := ""
			if m.Login != nil {
				login = *m.Login
			}
			if login != tc.wantLogin || m.TLS != tc.wantTLS {
				t.Errorf("login=%q tls=%v, want %q %v", login, m.TLS, tc.wantLogin, tc.wantTLS)
			}
			for _, want := range []string{
				"Subject: [FIRING:1] HighLatency (api page)",
				"X-Vigil-Team: backend",
				"Content-Type: multipart/alternative",
				"Content-Type: text/html",
				"Content-Type: text/plain",
				"summary =3D p99 latency above 1s", // quoted-printable text part
			} {
				if !strings.Contains(m.Data, want) {
					t.Errorf("message lacks %q:\n%s", want, m.Data[:min(len(m.Data), 3000)])
				}
			}
		})
	}
}

package main

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tickstream/tickstream/netcode/client"
)

func noEnv(string) string { return "" }

func TestTLSFlagsGoTogether(t *testing.T) {
	for _, args := range [][]string{{"-tls-cert", "c.pem"}, {"-tls-key", "k.pem"}} {
		if _, err := parseConfig(args, noEnv); err == nil || !strings.Contains(err.Error(), "both or neither") {
			t.Errorf("%v: %v, want a both-or-neither error", args, err)
		}
	}
	if err := run(context.Background(), []string{"-tls-cert", "/nonexistent.pem", "-tls-key", "/nonexistent.pem"}, noEnv, os.Stderr); err == nil {
		t.Error("a missing certificate was accepted")
	}
}

// The join admission flags: defaults 200/s and 100, the environment sets
// them, a flag wins over it, and bad values are refused.
func TestJoinRateFlags(t *testing.T) {
	c, err := parseConfig(nil, noEnv)
	if err != nil || c.joinRate != 200 || c.joinBurst != 100 {
		t.Fatalf("defaults: %v %v %v, want 200 and 100", err, c.joinRate, c.joinBurst)
	}
	env := map[string]string{"TICKSTREAM_JOIN_RATE": "50", "TICKSTREAM_JOIN_BURST": "7"}
	c, err = parseConfig([]string{"-join-burst", "9"}, func(k string) string { return env[k] })
	if err != nil || c.joinRate != 50 || c.joinBurst != 9 {
		t.Fatalf("env and flag: %v %v %v, want 50 and 9", err, c.joinRate, c.joinBurst)
	}
	for _, args := range [][]string{{"-join-rate", "-1"}, {"-join-burst", "0"}} {
		if _, err := parseConfig(args, noEnv); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
	if joinRate(0) >= 0 || joinRate(5) != 5 {
		t.Error("-join-rate 0 must turn the limit off")
	}
}

// selfSigned writes a certificate for 127.0.0.1 and its key; it returns
// their paths and a pool that trusts the certificate.
func selfSigned(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "tickstream test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// With -tls-cert and -tls-key the server speaks HTTPS and wss (TLS 1.2 at
// least), and stops cleanly when its context ends.
func TestTLS(t *testing.T) {
	certFile, keyFile, pool := selfSigned(t)
	logR, logW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer logR.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	runErr := make(chan error, 1)
	go func() {
		runErr <- run(ctx, []string{"-addr", "127.0.0.1:0", "-min-players", "1", "-tls-cert", certFile, "-tls-key", keyFile, "-replay-dir", t.TempDir()}, noEnv, logW)
		logW.Close()
	}()
	var addr string
	lines := bufio.NewScanner(logR)
	for addr == "" && lines.Scan() {
		var m struct{ Addr, Message string }
		if json.Unmarshal(lines.Bytes(), &m) == nil && m.Message == "tickstream listening" {
			addr = m.Addr
		}
	}
	if addr == "" {
		t.Fatalf("no listening line: %v", <-runErr)
	}
	go func() { // keep the pipe drained
		for lines.Scan() {
		}
	}()

	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := hc.Get("https://" + addr + "/healthz")
	if err != nil {
		t.Fatalf("GET /healthz over https: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.TLS == nil {
		t.Fatalf("healthz: %d, TLS %v", resp.StatusCode, resp.TLS != nil)
	}

	old := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, MaxVersion: tls.VersionTLS11}}}
	if resp, err := old.Get("https://" + addr + "/healthz"); err == nil {
		resp.Body.Close()
		t.Fatal("a TLS 1.1 client was served")
	}

	dctx, dcancel := context.WithTimeout(ctx, 10*time.Second)
	defer dcancel()
	c, err := client.Dial(dctx, "wss://"+addr+"/play", &client.Options{HTTPClient: hc})
	if err != nil {
		t.Fatalf("dial wss: %v", err)
	}
	if _, err := c.Join(dctx, "secure", ""); err != nil {
		t.Fatalf("join over wss: %v", err)
	}
	c.Close()

	cancel()
	select {
	case err := <-runErr:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("run did not return after its context ended")
	}
}

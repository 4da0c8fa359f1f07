package ingest

import (
	"bytes"
	"context"
	"crypto"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/draylink/dray/internal/pki"
	"github.com/draylink/dray/internal/wire"
)

// The independent client: Eclipse Mosquitto's command-line publisher and
// the Debian package that ships it.
const (
	pubCommand = "mosquitto_pub"     //nolint:misspell // a program's name
	pubPackage = "mosquitto-clients" //nolint:misspell // a package's name
)

// mosquittoPub finds the publisher, installing its Debian package when
// running as root (CI); otherwise the test is skipped.
func mosquittoPub(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath(pubCommand); err == nil {
		return p
	}
	if os.Geteuid() != 0 {
		t.Skipf("%s is not installed and this is not root: apt-get install %s to run the interoperability test", pubCommand, pubPackage)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	install := func() error {
		cmd := exec.CommandContext(ctx, "apt-get", "install", "-y", "-qq", pubPackage)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		return cmd.Run()
	}
	if install() != nil {
		_ = exec.CommandContext(ctx, "apt-get", "update", "-qq").Run()
		if err := install(); err != nil {
			t.Skipf("%s could not be installed (%v): interoperability test skipped", pubPackage, err)
		}
	}
	p, err := exec.LookPath(pubCommand)
	if err != nil {
		t.Skipf("%s not found after installing %s: %v", pubCommand, pubPackage, err)
	}
	return p
}

// An independent MQTT v5 client (Eclipse Mosquitto's) publishes a batch over TLS
// with a site certificate, and it is stored.
func TestIntegrationMosquittoPub(t *testing.T) {
	skipShort(t)
	bin := mosquittoPub(t)
	ts := startServer(t, nil, nil)
	dir := t.TempDir()
	cert, err := testPKI().SiteCertificate("MEM1")
	if err != nil {
		t.Fatal(err)
	}
	keyPEM, err := pki.KeyPEM(cert.PrivateKey.(crypto.Signer))
	if err != nil {
		t.Fatal(err)
	}
	events := testEvents(t, "MEM1", 1, 8, 1000)
	b := makeBatch(ts.codec, "interop-epoch", 1, events)
	files := map[string][]byte{
		"ca.pem": pki.CertPEM(testPKI().CA.Cert), "cert.pem": pki.CertPEM(cert.Leaf), "key.pem": keyPEM, "batch.bin": b.payload,
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	port := strconv.Itoa(ts.TCPAddr().(*net.TCPAddr).Port)
	args := []string{"-V", "mqttv5", "-h", "127.0.0.1", "-p", port,
		"--cafile", filepath.Join(dir, "ca.pem"), "--cert", filepath.Join(dir, "cert.pem"), "--key", filepath.Join(dir, "key.pem"),
		"-i", "MEM1", "-q", "1", "-t", wire.EventsTopic("MEM1"), "-f", filepath.Join(dir, "batch.bin"),
		"-D", "publish", "content-type", wire.ContentType}
	for _, p := range b.props {
		args = append(args, "-D", "publish", "user-property", p.Key, p.Value)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s\nserver log:\n%s", pubCommand, err, out, ts.logs)
	}
	got := stored(t, ts.log)
	if len(got) != len(events) {
		t.Fatalf("%d events stored; want %d\n%s: %s", len(got), len(events), pubCommand, out)
	}
	for i := range got {
		if !bytes.Equal(got[i].Event, events[i]) {
			t.Fatalf("event %d differs", i)
		}
	}
	for _, r := range ts.logs.records() {
		if r["audit"] == true {
			t.Errorf("audit line: %v", r)
		}
	}
}

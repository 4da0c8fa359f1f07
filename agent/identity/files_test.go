//go:build unix

package identity

import (
	"crypto/x509"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/draylink/dray/internal/pki"
)

// TestStoreAsRootForServiceAccount: `dray-agent enroll` run by root into
// the data directory the installer gave the service account leaves an
// identity the account owns (so the service can read its key and renew),
// with the key 0600; Load reads it back.
func TestStoreAsRootForServiceAccount(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to chown")
	}
	data := filepath.Join(t.TempDir(), "dray-agent")
	if err := os.Mkdir(data, 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(data, 4242, 4242); err != nil {
		t.Fatal(err)
	}
	ca, err := pki.NewCA("site CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	key, err := pki.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	cert, err := ca.IssueSite("MEM1", key.Public(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	id := filepath.Join(data, "identity")
	f := Files{CAFile: filepath.Join(id, "relay-ca.pem"), CertFile: filepath.Join(id, "site.pem"), KeyFile: filepath.Join(id, "site-key.pem")}
	if err := f.store(cert, key, ca.Cert); err != nil {
		t.Fatal(err)
	}
	for p, mode := range map[string]os.FileMode{id: 0o700, f.CAFile: 0o644, f.CertFile: 0o644, f.KeyFile: 0o600} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		st := fi.Sys().(*syscall.Stat_t)
		if st.Uid != 4242 || st.Gid != 4242 || fi.Mode().Perm() != mode {
			t.Errorf("%s: %d:%d %v; want 4242:4242 %v", p, st.Uid, st.Gid, fi.Mode().Perm(), mode)
		}
	}
	got, err := Load(f)
	if err != nil {
		t.Fatal(err)
	}
	if leaf, err := x509.ParseCertificate(got.Certificate[0]); err != nil || leaf.SerialNumber.Cmp(cert.SerialNumber) != 0 {
		t.Errorf("loaded certificate %v %v; want serial %v", leaf, err, cert.SerialNumber)
	}
}

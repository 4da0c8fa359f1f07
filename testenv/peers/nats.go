package peers

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/draylink/dray/testenv"
)

// NATSServerEnv names the nats-server binary to run; without it the
// Makefile's pinned build in .tools/bin of the module is used, then PATH.
const NATSServerEnv = "DRAY_NATS_SERVER"

// NATS is a running nats-server with JetStream on file storage.
type NATS struct {
	// URL is the client URL (nats://127.0.0.1:port).
	URL string
	cmd *exec.Cmd
}

// NATSServerPath finds the nats-server binary (see NATSServerEnv).
func NATSServerPath() (string, error) {
	if p := os.Getenv(NATSServerEnv); p != "" {
		return p, nil
	}
	if root, err := testenv.ModuleRoot(); err == nil {
		p := filepath.Join(root, ".tools", "bin", "nats-server")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	if p, err := exec.LookPath("nats-server"); err == nil {
		return p, nil
	}
	return "", ErrNotInstalled
}

// StartNATS runs nats-server on a loopback port with JetStream storing in
// dir. syncAlways sets `sync_interval: always` (an fsync on every write);
// otherwise the server's default applies (a background sync every 2 minutes).
func StartNATS(dir string, syncAlways bool) (*NATS, error) {
	bin, err := NATSServerPath()
	if err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	sync := ""
	if syncAlways {
		sync = "\n  sync_interval: always"
	}
	conf := filepath.Join(dir, "nats.conf")
	body := fmt.Sprintf(`listen: 127.0.0.1:%d
max_payload: 8MB
jetstream {
  store_dir: %q
  max_file_store: 20GB
  max_memory_store: 256MB%s
}
`, port, filepath.Join(dir, "jetstream"), sync)
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "-c", conf) //nolint:gosec // a benchmark starts the peer it found
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	logf, err := os.Create(filepath.Join(dir, "nats.log"))
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	n := &NATS{URL: "nats://127.0.0.1:" + strconv.Itoa(port), cmd: cmd}
	if waitListening("127.0.0.1:" + strconv.Itoa(port)) {
		return n, nil
	}
	n.Stop()
	log, _ := os.ReadFile(filepath.Join(dir, "nats.log"))
	return nil, fmt.Errorf("nats-server did not start listening: %s", log)
}

// Pid is the server's process id.
func (n *NATS) Pid() int { return n.cmd.Process.Pid }

// Stop terminates the server and waits for it.
func (n *NATS) Stop() {
	_ = n.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = n.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = n.cmd.Process.Kill()
		<-done
	}
}

// freePort is a loopback TCP port free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	return port, l.Close()
}

// waitListening waits up to 5 s for addr to accept a TCP connection.
func waitListening(addr string) bool {
	for range 100 {
		if c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond); err == nil {
			_ = c.Close()
			return true
		}
		time.Sleep(50 * time.Millisecond)
	}
	return false
}

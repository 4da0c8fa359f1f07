package peers

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Mosquitto is a running mosquitto broker.
type Mosquitto struct {
	Addr string
	cmd  *exec.Cmd
	dir  string
}

// ErrNotInstalled means the peer's binary is not on this machine.
var ErrNotInstalled = errors.New("peer not installed")

// StartMosquitto runs mosquitto on a loopback port with persistence in dir
// (QoS 1 messages queued for a persistent session are saved to disk).
func StartMosquitto(dir string) (*Mosquitto, error) {
	bin, err := mosquittoPath()
	if err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	conf := filepath.Join(dir, "mosquitto.conf")
	body := fmt.Sprintf(`listener %d 127.0.0.1
allow_anonymous true
persistence true
persistence_location %s/
autosave_interval 1
max_inflight_messages 0
max_queued_messages 0
max_queued_bytes 0
log_dest none
`, port, dir)
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "-c", conf) //nolint:gosec // a benchmark starts the peer it found
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	m := &Mosquitto{Addr: "127.0.0.1:" + strconv.Itoa(port), cmd: cmd, dir: dir}
	if !waitListening(m.Addr) {
		m.Stop()
		return nil, errors.New("mosquitto did not start listening")
	}
	return m, nil
}

// mosquittoPath finds the broker: on PATH, else Debian's /usr/sbin.
func mosquittoPath() (string, error) {
	if bin, err := exec.LookPath("mosquitto"); err == nil {
		return bin, nil
	}
	if _, err := os.Stat("/usr/sbin/mosquitto"); err != nil {
		return "", ErrNotInstalled
	}
	return "/usr/sbin/mosquitto", nil
}

// MosquittoVersion is the installed broker's version line ("mosquitto
// version 2.0.11").
func MosquittoVersion() (string, error) {
	bin, err := mosquittoPath()
	if err != nil {
		return "", err
	}
	// mosquitto -h prints its usage, version first, and exits non-zero.
	out, _ := exec.Command(bin, "-h").CombinedOutput() //nolint:gosec // the broker found above
	line, _, _ := strings.Cut(string(out), "\n")
	if !strings.HasPrefix(line, "mosquitto version ") {
		return "", fmt.Errorf("%s -h: unexpected output %q", bin, line)
	}
	return strings.TrimSpace(line), nil
}

// Pid is the broker's process id.
func (m *Mosquitto) Pid() int { return m.cmd.Process.Pid }

// Stop terminates the broker and waits for it.
func (m *Mosquitto) Stop() {
	_ = m.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = m.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = m.cmd.Process.Kill()
		<-done
	}
}

package peers

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
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
	bin, err := exec.LookPath("mosquitto")
	if err != nil {
		if _, serr := os.Stat("/usr/sbin/mosquitto"); serr != nil {
			return nil, ErrNotInstalled
		}
		bin = "/usr/sbin/mosquitto"
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
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
	for i := 0; i < 100; i++ {
		if c, err := net.DialTimeout("tcp", m.Addr, 100*time.Millisecond); err == nil {
			_ = c.Close()
			return m, nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	m.Stop()
	return nil, errors.New("mosquitto did not start listening")
}

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

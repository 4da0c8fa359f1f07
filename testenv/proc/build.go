package proc

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// ModuleRoot is the directory of the dray go.mod (from the working
// directory, as the go command finds it).
func ModuleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", fmt.Errorf("not inside the dray module (run from the repository)")
	}
	return filepath.Dir(mod), nil
}

// Build compiles the main packages pkgs ("./agent/cmd/dray-agent", …) of
// the module at root (ModuleRoot when empty) into dir with one `go build`,
// and returns dir as an absolute path. The build's output goes to progress
// too when it is not nil. Go's build cache makes a rebuild of unchanged
// sources take a second or two.
func Build(ctx context.Context, root, dir string, progress io.Writer, pkgs ...string) (string, error) {
	if root == "" {
		r, err := ModuleRoot()
		if err != nil {
			return "", err
		}
		root = r
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("build: %w", err)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("build: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", append([]string{"build", "-o", abs + string(filepath.Separator)}, pkgs...)...)
	cmd.Dir = root
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if progress != nil {
		cmd.Stdout, cmd.Stderr = io.MultiWriter(&out, progress), io.MultiWriter(&out, progress)
	}
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go build %s: %w\n%s", strings.Join(pkgs, " "), err, out.String())
	}
	return abs, nil
}

// SHA256File is the hex SHA-256 of a file, as a connector entry pins it.
func SHA256File(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer func() { _ = f.Close() }()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("hash %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// FreePort returns a loopback port free for both TCP and UDP at the time of
// the call (QUIC and TLS/TCP listeners share a port number).
func FreePort() (int, error) {
	for range 50 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, fmt.Errorf("free port: %w", err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		_ = l.Close()
		u, err := net.ListenPacket("udp", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			continue
		}
		_ = u.Close()
		return port, nil
	}
	return 0, fmt.Errorf("free port: none found for both TCP and UDP")
}

// Addr is 127.0.0.1:port.
func Addr(port int) string { return "127.0.0.1:" + strconv.Itoa(port) }

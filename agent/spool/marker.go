package spool

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// The marker file guards against Badger's habit of starting empty: given a
// directory without a MANIFEST, Badger creates a fresh database and deletes
// the table files it does not know, so a lost MANIFEST would silently empty
// the spool. The marker records the epoch and whether the database was
// fully created:
//
//	dray-spool 1
//	epoch 0123456789abcdef
//	state ready
//
// Open refuses a directory with Badger files but no marker, a "ready" marker
// without a MANIFEST, and a database whose epoch differs from the marker's.
const markerName = "DRAY-SPOOL"

type markerState string

const (
	markerNone     markerState = ""         // no marker, no data: a new spool
	markerCreating markerState = "creating" // the database may be partly created
	markerReady    markerState = "ready"
)

type marker struct {
	state markerState
	epoch string
}

// badgerFile reports whether name is a file Badger writes.
func badgerFile(name string) bool {
	switch name {
	case "MANIFEST", "KEYREGISTRY", "DISCARD":
		return true
	}
	for _, ext := range []string{".sst", ".vlog", ".mem"} {
		if strings.HasSuffix(name, ext) {
			return true
		}
	}
	return false
}

// readMarker inspects dir and returns its marker, or markerNone for a
// directory holding no spool at all.
func readMarker(dir string) (marker, error) {
	b, err := os.ReadFile(filepath.Join(dir, markerName)) //nolint:gosec // the spool directory is configuration
	if errors.Is(err, fs.ErrNotExist) {
		entries, err := os.ReadDir(dir)
		if err != nil {
			return marker{}, err
		}
		for _, e := range entries {
			if badgerFile(e.Name()) {
				return marker{}, fmt.Errorf("%w: %s holds Badger files (%s) but no %s marker", ErrCorrupt, dir, e.Name(), markerName)
			}
		}
		return marker{state: markerNone}, nil
	}
	if err != nil {
		return marker{}, err
	}
	m, err := parseMarker(b)
	if err != nil {
		return marker{}, fmt.Errorf("%w: %s: %w", ErrCorrupt, markerName, err)
	}
	if m.state == markerReady {
		if _, err := os.Stat(filepath.Join(dir, "MANIFEST")); err != nil {
			return marker{}, fmt.Errorf("%w: %s is missing its MANIFEST (the marker says the spool holds data): %w", ErrCorrupt, dir, err)
		}
	}
	return m, nil
}

func parseMarker(b []byte) (marker, error) {
	var m marker
	var version string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), " ")
		switch k {
		case "dray-spool":
			version = v
		case "epoch":
			m.epoch = v
		case "state":
			m.state = markerState(v)
		default:
			return marker{}, fmt.Errorf("unknown line %q", sc.Text())
		}
	}
	if version != "1" {
		return marker{}, fmt.Errorf("unknown version %q", version)
	}
	if raw, err := hex.DecodeString(m.epoch); err != nil || len(raw) != 8 {
		return marker{}, fmt.Errorf("bad epoch %q", m.epoch)
	}
	if m.state != markerCreating && m.state != markerReady {
		return marker{}, fmt.Errorf("bad state %q", m.state)
	}
	return m, nil
}

// writeMarker replaces the marker atomically and durably.
func writeMarker(dir string, m marker) error {
	content := fmt.Sprintf("dray-spool 1\nepoch %s\nstate %s\n", m.epoch, m.state)
	tmp := filepath.Join(dir, markerName+".tmp")
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600) //nolint:gosec // the spool directory is configuration
	if err != nil {
		return err
	}
	if _, err := f.WriteString(content); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(dir, markerName)); err != nil {
		return err
	}
	return syncDir(dir)
}

// newEpoch returns 8 random bytes in hex.
func newEpoch() string {
	var b [8]byte
	rand.Read(b[:]) // never fails (crypto/rand, Go 1.24+)
	return hex.EncodeToString(b[:])
}

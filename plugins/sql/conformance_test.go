package sql_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/draylink/dray/plugins/sdk/conformance"
	"github.com/draylink/dray/testenv/dbserver"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// buildBinary builds bin/dray-connector-sql once per test process.
func buildBinary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := osMkdirTemp()
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "dray-connector-sql")
		out, err := exec.Command("go", "build", "-o", binPath, "./cmd/dray-connector-sql").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %w\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// conformanceSource is a fresh movements table: each round adds 60 good
// rows and 3 bad ones.
func conformanceSource(t *testing.T, d *testDB) conformance.Source {
	d.schema(t)
	cfg := connectorConfig(d, 25)
	base := time.Now().UTC().Add(-10 * time.Minute)
	return conformance.Source{
		Config: cfg,
		Produce: func(t *testing.T, round int) conformance.Produced {
			at := base.Add(time.Duration(round) * time.Minute)
			for i := range 60 {
				d.insertMovement(t, nil, at.Add(time.Duration(i)*time.Millisecond), goodMove(fmt.Sprintf("R%d-%03d", round, i)))
			}
			bad := goodMove(fmt.Sprintf("R%d-BAD1", round))
			bad.typ = "TELEPORT"
			d.insertMovement(t, nil, at.Add(time.Second), bad)
			bad = goodMove(fmt.Sprintf("R%d-BAD2", round))
			bad.qty = "-1"
			d.insertMovement(t, nil, at.Add(time.Second), bad)
			d.insertMovement(t, nil, at.Add(time.Second), goodMove(""))
			return conformance.Produced{Events: 60, Rejects: 3}
		},
	}
}

func TestConformanceSQLiteIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the plugin; skipped with -short")
	}
	conformance.Run(t, conformance.Harness{
		Binary:    buildBinary(t),
		NewSource: func(t *testing.T) conformance.Source { return conformanceSource(t, sqliteTestDB(t)) },
		Quiet:     time.Second,
	})
}

func TestConformancePostgresIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the plugin; skipped with -short")
	}
	s := dbserver.Postgres(t)
	n := 0
	conformance.Run(t, conformance.Harness{
		Binary: buildBinary(t),
		NewSource: func(t *testing.T) conformance.Source {
			// One database per part of the suite.
			n++
			name := fmt.Sprintf("conf%d", n)
			pgTestDB(t, s).exec(t, "CREATE DATABASE "+name)
			dsn := s.DSN[:len(s.DSN)-len("/dray?sslmode=disable")] + "/" + name + "?sslmode=disable"
			return conformanceSource(t, pgTestDB(t, &dbserver.Server{DSN: dsn}))
		},
		Quiet: time.Second,
	})
}

func osMkdirTemp() (string, error) { return os.MkdirTemp("", "dray-connector-sql-") }

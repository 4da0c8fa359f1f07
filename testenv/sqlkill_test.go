package testenv_test

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/draylink/dray/agent"
	"github.com/draylink/dray/agent/quarantine"
	"github.com/draylink/dray/testenv"

	_ "modernc.org/sqlite" // the WMS database of the test
)

// sqlKillRows is the size of the table the kill tests scan: large enough
// that 50-row pages take many seconds to read, so every kill lands in the
// middle of the scan.
const sqlKillRows = 60000

// sqlKillBad are the rows the sql connector must quarantine, by key
// ("" is the row whose key is NULL), with their reject codes.
var sqlKillBad = map[string]string{"": "sql_null_key", "MV-BAD-TYPE": "sql_unknown_code", "MV-BAD-QTY": "sql_bad_value"}

// sqlKillDB writes a WMS movements table in SQLite: sqlKillRows good rows
// (MV-0000000 …) and the sqlKillBad rows among them.
func sqlKillDB(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "wms.db")
	db, err := sql.Open("sqlite", path+"?_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = db.Close() }()
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	exec := func(q string, args ...any) {
		if _, err := tx.Exec(q, args...); err != nil {
			t.Fatal(err)
		}
	}
	exec(`CREATE TABLE movements (move_no TEXT, updated_at TEXT NOT NULL, moved_at TEXT, move_type TEXT, sku TEXT, from_loc TEXT, to_loc TEXT, qty TEXT)`)
	base := time.Now().UTC().Add(-2 * time.Hour)
	stamp := func(i int) string {
		return base.Add(time.Duration(i) * 10 * time.Millisecond).Format("2006-01-02 15:04:05.000")
	}
	ins, err := tx.Prepare(`INSERT INTO movements VALUES (?, ?, '2025-03-14 10:05:00', ?, ?, ?, ?, ?)`)
	if err != nil {
		t.Fatal(err)
	}
	for i := range sqlKillRows {
		if _, err := ins.Exec(fmt.Sprintf("MV-%07d", i), stamp(i), "PICK", fmt.Sprintf("AF-%d", 1000+i%500), "R-01", "STAGE-1", "2"); err != nil {
			t.Fatal(err)
		}
		switch i {
		case sqlKillRows / 5:
			exec(`INSERT INTO movements VALUES (NULL, ?, '2025-03-14 10:05:00', 'PICK', 'AF-1', 'R-01', 'STAGE-1', '1')`, stamp(i))
		case sqlKillRows / 2:
			exec(`INSERT INTO movements VALUES ('MV-BAD-TYPE', ?, '2025-03-14 10:05:00', 'TELEPORT', 'AF-1', 'R-01', 'STAGE-1', '1')`, stamp(i))
		case 4 * sqlKillRows / 5:
			exec(`INSERT INTO movements VALUES ('MV-BAD-QTY', ?, '2025-03-14 10:05:00', 'PICK', 'AF-1', 'R-01', 'STAGE-1', '-3')`, stamp(i))
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	return path
}

// sqlKillConnector declares the sql connector reading the movements
// table by watermark, 50 rows a page.
func sqlKillConnector(t *testing.T, dbPath string) (string, agent.ConnectorEntry) {
	t.Helper()
	bin := supConnectorBin(t, supSQLPkg)
	cfg := map[string]any{
		"site_id": "MEM1", "time_zone": "America/Chicago", "driver": "sqlite",
		"dsn": dbPath + "?_pragma=busy_timeout(5000)", "poll_interval": "100ms", "batch_size": 50,
		"tables": []any{map[string]any{
			"name": "movements", "mode": "watermark", "table": "movements", "key": []string{"move_no"},
			"timestamp": "updated_at", "lag": "1s", "overlap": "10m", "rescan_interval": "1s",
			"event_type": "logistics.inventory.moved",
			"occurred":   map[string]any{"column": "moved_at", "time": "local"},
			"fields": map[string]any{
				"movement.sourceKey":    map[string]any{"column": "move_no"},
				"movement.movementType": map[string]any{"column": "move_type", "map": map[string]string{"PICK": "pick"}},
				"movement.item.ownerId": map[string]any{"value": "ACME"},
				"movement.item.sku":     map[string]any{"column": "sku"},
				"movement.from.code":    map[string]any{"column": "from_loc"},
				"movement.to.code":      map[string]any{"column": "to_loc"},
				"movement.quantity":     map[string]any{"column": "qty", "uom": map[string]any{"value": "EA"}},
			},
		}},
	}
	return bin, supConnectorEntry(t, "wms", bin, cfg)
}

// sqlScanned reports how many rows the sql connector's cursor has passed
// (its watermark key, MV-nnnnnnn), and whether it is at the last row.
func sqlScanned(cursor string) int {
	var c struct {
		Tables map[string]struct {
			At *struct {
				Key []any `json:"key"`
			} `json:"at"`
		} `json:"tables"`
	}
	if json.Unmarshal([]byte(cursor), &c) != nil {
		return 0
	}
	at := c.Tables["movements"].At
	if at == nil || len(at.Key) != 1 {
		return 0
	}
	var n int
	if k, ok := at.Key[0].(string); ok {
		if _, err := fmt.Sscanf(k, "MV-%d", &n); err != nil {
			return 0
		}
	}
	return n + 1
}

// sqlKillVerify checks the relay log holds every good row's event exactly
// once and the agent quarantined each bad row exactly once.
func sqlKillVerify(t *testing.T, env *testenv.Env, a *testenv.Agent, r *testenv.Relay) {
	t.Helper()
	out, _, _ := supCLI(t, env, a, "quarantine", "ls", "--json")
	var l quarantine.List
	if err := json.Unmarshal([]byte(out), &l); err != nil {
		t.Fatalf("quarantine ls: %s (%v)", out, err)
	}
	var codes []string
	for _, rec := range l.Records {
		codes = append(codes, rec.Code)
	}
	slices.Sort(codes)
	if want := []string{"sql_bad_value", "sql_null_key", "sql_unknown_code"}; !slices.Equal(codes, want) {
		t.Errorf("quarantined %v; want each bad row once: %v", codes, want)
	}
	a.Proc.Stop(30 * time.Second)
	r.Proc.Stop(30 * time.Second)
	seen := map[string]int{}
	ids := map[string]bool{}
	for _, line := range r.Dump() {
		if line.Event.GetSource() != "urn:dray:MEM1:wms-db" {
			continue
		}
		if ids[line.Event.GetId()] {
			t.Errorf("event id %s twice in the relay log", line.Event.GetId())
		}
		ids[line.Event.GetId()] = true
		seen[line.Event.GetInventoryMoved().GetMovement().GetSourceKey()]++
	}
	missing, dups := 0, 0
	for i := range sqlKillRows {
		switch n := seen[fmt.Sprintf("MV-%07d", i)]; {
		case n == 0:
			missing++
		case n > 1:
			dups++
		}
	}
	for k := range sqlKillBad {
		if seen[k] > 0 {
			t.Errorf("bad row %q reached the relay as an event", k)
		}
	}
	if missing > 0 || dups > 0 || len(ids) != sqlKillRows {
		t.Errorf("relay log: %d events from the database, %d rows missing, %d duplicated; want %d, each once", len(ids), missing, dups, sqlKillRows)
	}
}

// TestSupervisorSQLKill9Integration kills the sql connector with SIGKILL ten
// times in the middle of a table scan, then the agent ten times: each
// restart resumes from the cursor committed with the last batch; every row
// reaches the relay exactly once, every bad row is quarantined exactly once,
// and no connector process outlives the agent.
func TestSupervisorSQLKill9Integration(t *testing.T) {
	skipShort(t)
	env := testenv.New(t)
	r := env.NewRelay("relay")
	r.Start()
	bin, entry := sqlKillConnector(t, sqlKillDB(t))
	a := supAgent(t, env, r, entry)
	a.Start()
	rng := rand.New(rand.NewPCG(7, 29))

	// The plugin, ten times.
	lastPID, last := 0, 0
	for kill := range 10 {
		var c supConnStatus
		testenv.Eventually(t, time.Minute, 20*time.Millisecond, "a new plugin to read on", func() bool {
			st := supStatus(a)
			if st == nil {
				return false
			}
			c = st.connector("wms")
			return c.State == "running" && c.PID != 0 && c.PID != lastPID && sqlScanned(c.Cursor) > last
		})
		time.Sleep(time.Duration(100+rng.IntN(300)) * time.Millisecond)
		c = supStatus(a).connector("wms")
		n := sqlScanned(c.Cursor)
		if n >= sqlKillRows {
			t.Fatalf("plugin kill %d: the scan already ended (cursor %s)", kill, c.Cursor)
		}
		if procs := supProcsOf(bin); len(procs) != 1 || procs[0] != c.PID {
			t.Fatalf("plugin kill %d: connector processes %v; want only the running plugin %d", kill, procs, c.PID)
		}
		if err := syscall.Kill(c.PID, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		lastPID, last = c.PID, n
	}
	// The agent, ten times.
	for kill := range 10 {
		testenv.Eventually(t, time.Minute, 20*time.Millisecond, "the plugin to read on", func() bool {
			if !a.Proc.Running() {
				t.Fatalf("agent exited:\n%s", a.Proc.Log())
			}
			st := supStatus(a)
			return st != nil && st.connector("wms").State == "running" && sqlScanned(st.connector("wms").Cursor) > last
		})
		time.Sleep(time.Duration(150+rng.IntN(400)) * time.Millisecond)
		n := sqlScanned(supStatus(a).connector("wms").Cursor)
		if n >= sqlKillRows {
			t.Fatalf("agent kill %d: the scan already ended", kill)
		}
		last = n
		a.Proc.Kill()
		supWaitNoProcs(t, bin, 3*time.Second, fmt.Sprintf("agent kill %d", kill))
		a.Start()
	}
	testenv.Eventually(t, 5*time.Minute, 200*time.Millisecond, "the scan to end and the spool to drain", func() bool {
		if !a.Proc.Running() {
			t.Fatalf("agent exited:\n%s", a.Proc.Log())
		}
		st := supStatus(a)
		return st != nil && sqlScanned(st.connector("wms").Cursor) >= sqlKillRows && st.pending() == 0
	})
	sqlKillVerify(t, env, a, r)
	supWaitNoProcs(t, bin, 3*time.Second, "after the agent stopped")
}

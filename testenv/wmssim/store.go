package wmssim

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	_ "modernc.org/sqlite" // the default store
)

// stmt is one SQL statement with ? placeholders.
type stmt struct {
	sql  string
	args []any
}

// techTime is a technical-clock value (last_modified, created_at): UTC,
// whole seconds. SQLite stores it as 'YYYY-MM-DD HH:MM:SS' (comparable with
// datetime('now')), PostgreSQL as timestamptz.
type techTime time.Time

// store is the WMS database the simulator writes.
type store interface {
	dialect() string
	// commit runs the statements in one transaction.
	commit(ctx context.Context, stmts []stmt) error
	close() error
}

// openStore opens the configured database and creates the schema (after
// dropping the simulator's tables when reset is set).
func openStore(ctx context.Context, cfg StoreConfig) (store, error) {
	switch {
	case cfg.SQLite != "":
		return openSQLite(ctx, cfg.SQLite, cfg.Reset)
	case cfg.Postgres != "":
		return openPostgres(ctx, cfg.Postgres, cfg.Reset)
	}
	return nil, nil
}

// sqliteStore writes through database/sql and modernc.org/sqlite on one
// connection, in WAL mode so connectors can read while it writes.
type sqliteStore struct {
	db    *sql.DB
	mu    sync.Mutex
	stmts map[string]*sql.Stmt
}

func openSQLite(ctx context.Context, path string, reset bool) (*sqliteStore, error) {
	dsn := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=busy_timeout(10000)&_pragma=foreign_keys(ON)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open sqlite: %w", err)
	}
	db.SetMaxOpenConns(1)
	s := &sqliteStore{db: db, stmts: map[string]*sql.Stmt{}}
	if err := s.setup(ctx, reset); err != nil {
		_ = db.Close()
		return nil, err
	}
	return s, nil
}

func (s *sqliteStore) dialect() string { return SQLite }

func (s *sqliteStore) setup(ctx context.Context, reset bool) error {
	if reset {
		if _, err := s.db.ExecContext(ctx, dropSQL(SQLite)); err != nil {
			return fmt.Errorf("reset sqlite: %w", err)
		}
	} else {
		var n int
		if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE name = 'outbox'`).Scan(&n); err != nil {
			return fmt.Errorf("inspect sqlite: %w", err)
		}
		if n > 0 {
			return errors.New("sqlite: the WMS schema already exists (set store.reset to drop it)")
		}
	}
	ddl, _ := Schema(SQLite)
	if _, err := s.db.ExecContext(ctx, ddl); err != nil {
		return fmt.Errorf("create sqlite schema: %w", err)
	}
	return nil
}

func (s *sqliteStore) prepared(ctx context.Context, q string) (*sql.Stmt, error) {
	if st, ok := s.stmts[q]; ok {
		return st, nil
	}
	st, err := s.db.PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	s.stmts[q] = st
	return st, nil
}

func (s *sqliteStore) commit(ctx context.Context, stmts []stmt) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	// Prepare before the transaction: it holds the only connection.
	prep := make([]*sql.Stmt, len(stmts))
	for i, st := range stmts {
		p, err := s.prepared(ctx, st.sql)
		if err != nil {
			return fmt.Errorf("sqlite prepare %q: %w", st.sql, err)
		}
		prep[i] = p
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite begin: %w", err)
	}
	for i, st := range stmts {
		args := make([]any, len(st.args))
		for j, a := range st.args {
			args[j] = sqliteArg(a)
		}
		if _, err := tx.StmtContext(ctx, prep[i]).ExecContext(ctx, args...); err != nil {
			_ = tx.Rollback()
			return fmt.Errorf("sqlite %q: %w", st.sql, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite commit: %w", err)
	}
	return nil
}

func sqliteArg(a any) any {
	if t, ok := a.(techTime); ok {
		return time.Time(t).UTC().Format("2006-01-02 15:04:05")
	}
	return a
}

func (s *sqliteStore) close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, st := range s.stmts {
		_ = st.Close()
	}
	return s.db.Close()
}

// pgStore writes through one pgx connection, each transaction as one
// pipelined batch.
type pgStore struct {
	mu   sync.Mutex
	conn *pgx.Conn
	sqls map[string]string // ? form → $n form
}

func openPostgres(ctx context.Context, dsn string, reset bool) (*pgStore, error) {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return nil, fmt.Errorf("connect postgres: %w", err)
	}
	s := &pgStore{conn: conn, sqls: map[string]string{}}
	if err := s.setup(ctx, reset); err != nil {
		_ = conn.Close(ctx)
		return nil, err
	}
	return s, nil
}

func (s *pgStore) dialect() string { return Postgres }

func (s *pgStore) setup(ctx context.Context, reset bool) error {
	if reset {
		if _, err := s.conn.Exec(ctx, dropSQL(Postgres)); err != nil {
			return fmt.Errorf("reset postgres: %w", err)
		}
	} else {
		var exists bool
		if err := s.conn.QueryRow(ctx, `SELECT to_regclass('outbox') IS NOT NULL`).Scan(&exists); err != nil {
			return fmt.Errorf("inspect postgres: %w", err)
		}
		if exists {
			return errors.New("postgres: the WMS schema already exists (set store.reset to drop it)")
		}
	}
	ddl, _ := Schema(Postgres)
	if _, err := s.conn.Exec(ctx, ddl); err != nil {
		return fmt.Errorf("create postgres schema: %w", err)
	}
	return nil
}

// dollar rewrites ? placeholders as $1, $2 … (the simulator's SQL has no
// ? in literals).
func dollar(q string) string {
	var b strings.Builder
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(q[i])
	}
	return b.String()
}

func (s *pgStore) commit(ctx context.Context, stmts []stmt) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var b pgx.Batch
	b.Queue("BEGIN")
	for _, st := range stmts {
		q, ok := s.sqls[st.sql]
		if !ok {
			q = dollar(st.sql)
			s.sqls[st.sql] = q
		}
		args := make([]any, len(st.args))
		for i, a := range st.args {
			args[i] = pgArg(a)
		}
		b.Queue(q, args...)
	}
	b.Queue("COMMIT")
	br := s.conn.SendBatch(ctx, &b)
	for i := 0; i < b.Len(); i++ {
		if _, err := br.Exec(); err != nil {
			_ = br.Close()
			_, _ = s.conn.Exec(ctx, "ROLLBACK")
			what := "BEGIN"
			if i > 0 && i <= len(stmts) {
				what = stmts[i-1].sql
			} else if i > len(stmts) {
				what = "COMMIT"
			}
			return fmt.Errorf("postgres %q: %w", what, err)
		}
	}
	if err := br.Close(); err != nil {
		return fmt.Errorf("postgres commit: %w", err)
	}
	return nil
}

func pgArg(a any) any {
	if t, ok := a.(techTime); ok {
		return time.Time(t).UTC().Format("2006-01-02 15:04:05+00")
	}
	return a
}

func (s *pgStore) close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return s.conn.Close(ctx)
}

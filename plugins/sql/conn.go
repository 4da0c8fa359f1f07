package sql

import (
	"context"
	stdsql "database/sql"
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	mysqldrv "github.com/go-sql-driver/mysql"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	_ "github.com/microsoft/go-mssqldb" // registers "sqlserver"
	_ "modernc.org/sqlite"              // registers "sqlite"
)

// dbConn is one connection to the WMS database: the connector runs one
// query at a time on it.
type dbConn interface {
	query(ctx context.Context, sql string, args []any) ([]*row, error)
	close()
}

// openConn connects: read-only where the database can enforce it, with a
// server-side statement timeout.
func openConn(ctx context.Context, p *plan) (dbConn, error) {
	timeout := p.cfg.StatementTimeout
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if p.d.name() == "postgres" {
		cfg, err := pgx.ParseConfig(p.dsn)
		if err != nil {
			return nil, fmt.Errorf("postgres dsn: %w", err)
		}
		cfg.RuntimeParams["default_transaction_read_only"] = "on"
		cfg.RuntimeParams["statement_timeout"] = strconv.FormatInt(timeout.Milliseconds(), 10)
		if cfg.RuntimeParams["application_name"] == "" {
			cfg.RuntimeParams["application_name"] = "dray-connector-sql"
		}
		c, err := pgx.ConnectConfig(ctx, cfg)
		if err != nil {
			return nil, fmt.Errorf("connect: %w", err)
		}
		return &pgConn{c: c}, nil
	}
	db, err := openDB(p)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(time.Hour)
	c, err := db.Conn(ctx)
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("connect: %w", err)
	}
	for _, s := range sessionSetup(p) {
		if _, err := c.ExecContext(ctx, s.sql); err != nil && !s.optional {
			_ = c.Close()
			_ = db.Close()
			return nil, fmt.Errorf("session setup %q: %w", s.sql, err)
		}
	}
	return &sqlConn{db: db, c: c}, nil
}

func openDB(p *plan) (*stdsql.DB, error) {
	timeout := p.cfg.StatementTimeout
	switch p.d.name() {
	case "mysql":
		cfg, err := mysqldrv.ParseDSN(p.dsn)
		if err != nil {
			return nil, fmt.Errorf("mysql dsn: %w", err)
		}
		cfg.ParseTime = true
		if cfg.Loc == nil {
			cfg.Loc = time.UTC
		}
		conn, err := mysqldrv.NewConnector(cfg)
		if err != nil {
			return nil, fmt.Errorf("mysql dsn: %w", err)
		}
		return stdsql.OpenDB(conn), nil
	case "sqlite":
		dsn := p.dsn
		sep := "?"
		if strings.Contains(dsn, "?") {
			sep = "&"
		}
		dsn += sep + "_pragma=query_only(1)&_pragma=busy_timeout(" + strconv.FormatInt(timeout.Milliseconds(), 10) + ")"
		return stdsql.Open("sqlite", dsn)
	default:
		return stdsql.Open("sqlserver", p.dsn)
	}
}

type setupStmt struct {
	sql      string
	optional bool // MySQL and MariaDB name the timeout differently
}

func sessionSetup(p *plan) []setupStmt {
	timeout := p.cfg.StatementTimeout
	switch p.d.name() {
	case "mysql":
		return []setupStmt{
			{sql: "SET SESSION TRANSACTION READ ONLY"},
			{sql: "SET SESSION max_statement_time = " + strconv.FormatFloat(timeout.Seconds(), 'f', 3, 64), optional: true}, // MariaDB
			{sql: "SET SESSION max_execution_time = " + strconv.FormatInt(timeout.Milliseconds(), 10), optional: true},      // MySQL
		}
	case "sqlserver":
		return []setupStmt{
			{sql: "SET LOCK_TIMEOUT " + strconv.FormatInt(timeout.Milliseconds(), 10)},
			{sql: "SET TRANSACTION ISOLATION LEVEL READ COMMITTED"},
		}
	}
	return nil
}

// sqlConn is a database/sql connection (MySQL, SQLite, SQL Server).
type sqlConn struct {
	db *stdsql.DB
	c  *stdsql.Conn
}

func (s *sqlConn) close() {
	_ = s.c.Close()
	_ = s.db.Close()
}

func (s *sqlConn) query(ctx context.Context, sqlText string, args []any) ([]*row, error) {
	rows, err := s.c.QueryContext(ctx, sqlText, args...)
	if err != nil {
		return nil, err
	}
	defer func() { _ = rows.Close() }()
	ct, err := rows.ColumnTypes()
	if err != nil {
		return nil, err
	}
	binary := make([]bool, len(ct))
	for i, c := range ct {
		binary[i] = isBinaryType(c.DatabaseTypeName())
	}
	n := len(ct)
	var out []*row
	for rows.Next() {
		vals := make([]any, n)
		ptrs := make([]any, n)
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		for i := range vals {
			vals[i] = normalize(vals[i], binary[i])
		}
		out = append(out, &row{vals: vals})
	}
	return out, rows.Err()
}

// pgConn is a pgx connection (PostgreSQL). pgx decodes every type itself;
// the values are brought to the connector's few types.
type pgConn struct{ c *pgx.Conn }

func (p *pgConn) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = p.c.Close(ctx)
}

func (p *pgConn) query(ctx context.Context, sqlText string, args []any) ([]*row, error) {
	rows, err := p.c.Query(ctx, sqlText, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*row
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			return nil, err
		}
		for i, v := range vals {
			vals[i] = normalizePG(v)
		}
		out = append(out, &row{vals: vals})
	}
	return out, rows.Err()
}

// normalizePG maps pgx's decoded values: numeric (a driver.Valuer) to its
// text, uuid to its text, json to its text, bytea stays bytes.
func normalizePG(v any) any {
	switch x := v.(type) {
	case nil, string, int64, bool, time.Time, float64:
		return v
	case []byte:
		return x
	case [16]byte:
		return uuid.UUID(x).String()
	case map[string]any, []any:
		b, err := json.Marshal(x)
		if err != nil {
			return fmt.Sprint(x)
		}
		return string(b)
	case driver.Valuer:
		dv, err := x.Value()
		if err != nil {
			return fmt.Sprint(x)
		}
		return normalize(dv, true)
	}
	return normalize(v, true)
}

package dbserver_test

import (
	"context"
	"database/sql"
	"testing"

	"github.com/draylink/dray/testenv/dbserver"
	_ "github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
)

func TestPostgresIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a PostgreSQL server; skipped with -short")
	}
	s := dbserver.Postgres(t)
	ctx := context.Background()
	c, err := pgx.Connect(ctx, s.DSN)
	if err != nil {
		t.Fatalf("connect: %v\n%s", err, s.Log())
	}
	defer c.Close(ctx)
	var db string
	if err := c.QueryRow(ctx, "SELECT current_database()").Scan(&db); err != nil || db != "dray" {
		t.Fatalf("current_database() = %q, %v; want dray", db, err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := pgx.Connect(ctx, s.DSN); err == nil {
		t.Fatal("the server still accepts connections after Close")
	}
}

func TestMariaDBIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a MariaDB server; skipped with -short")
	}
	s := dbserver.MariaDB(t)
	db, err := sql.Open("mysql", s.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var v string
	if err := db.QueryRow("SELECT VERSION()").Scan(&v); err != nil {
		t.Fatalf("query: %v\n%s", err, s.Log())
	}
	t.Logf("MariaDB %s at %s", v, s.Addr)
	if _, err := db.Exec("CREATE TABLE t (id INT PRIMARY KEY)"); err != nil {
		t.Fatalf("create table as dray: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

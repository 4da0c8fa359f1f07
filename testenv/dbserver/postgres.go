package dbserver

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// pgBinDirs are where Debian installs the server binaries (one directory
// per major version; only the client wrappers are on PATH).
var pgBinDirs = []string{"/usr/lib/postgresql/*/bin"}

// StartPostgres initialises a PostgreSQL cluster in a fresh temporary
// directory and starts it on a free loopback port, with a database "dray"
// owned by the superuser "postgres" (trust authentication, loopback only).
// Durability is relaxed (fsync off): it is a test server.
func StartPostgres() (*Server, error) {
	initdb, err := lookBin("initdb", pgBinDirs...)
	if err != nil {
		return nil, err
	}
	postgres, err := lookBin("postgres", filepath.Dir(initdb))
	if err != nil {
		return nil, err
	}
	acct, err := accountFor("postgres")
	if err != nil {
		return nil, err
	}
	dir, err := makeDir("dray-pg-", acct)
	if err != nil {
		return nil, err
	}
	s := &Server{Driver: "postgres", Dir: dir}
	ok := false
	defer func() {
		if !ok {
			_ = s.Close()
		}
	}()
	data := filepath.Join(dir, "data")
	if err := run(command(acct, initdb, "-D", data, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C", "--no-sync")); err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	s.Addr = "127.0.0.1:" + strconv.Itoa(port)
	admin := fmt.Sprintf("postgres://postgres@%s/postgres?sslmode=disable", s.Addr)
	s.DSN = fmt.Sprintf("postgres://postgres@%s/dray?sslmode=disable", s.Addr)
	cmd := command(acct, postgres, "-D", data, "-p", strconv.Itoa(port), "-k", dir,
		"-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "synchronous_commit=off",
		"-c", "full_page_writes=off", "-c", "max_connections=50", "-c", "timezone=UTC")
	err = s.start(cmd, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, admin)
		if err != nil {
			return err
		}
		defer func() { _ = c.Close(ctx) }()
		return c.Ping(ctx)
	}, 60*time.Second)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, admin)
	if err != nil {
		return nil, err
	}
	defer func() { _ = c.Close(ctx) }()
	if _, err := c.Exec(ctx, "CREATE DATABASE dray"); err != nil {
		return nil, fmt.Errorf("create database: %w", err)
	}
	ok = true
	return s, nil
}

// Postgres starts a PostgreSQL server for t and stops it when t ends.
func Postgres(t testing.TB) *Server {
	t.Helper()
	return forTest(t, "PostgreSQL", StartPostgres)
}

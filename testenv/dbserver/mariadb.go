package dbserver

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
)

var mariadbDirs = []string{"/usr/sbin", "/usr/bin"}

// StartMariaDB initialises a MariaDB data directory in a fresh temporary
// directory and starts mariadbd on a free loopback port (and a socket in
// that directory), with a database "dray" and a user dray/dray holding
// every right on it.
func StartMariaDB() (*Server, error) {
	mariadbd, err := lookBin("mariadbd", mariadbDirs...)
	if err != nil {
		return nil, err
	}
	installDB, err := lookBin("mariadb-install-db", mariadbDirs...)
	if err != nil {
		return nil, err
	}
	acct, err := accountFor("mysql")
	if err != nil {
		return nil, err
	}
	dir, err := makeDir("dray-mariadb-", acct)
	if err != nil {
		return nil, err
	}
	s := &Server{Driver: "mysql", Dir: dir}
	ok := false
	defer func() {
		if !ok {
			_ = s.Close()
		}
	}()
	data := filepath.Join(dir, "data")
	args := []string{"--no-defaults", "--datadir=" + data, "--auth-root-authentication-method=normal", "--skip-test-db"}
	if acct != nil {
		args = append(args, "--user=mysql")
	}
	install := command(nil, installDB, args...)
	install.Dir = dir
	if err := run(install); err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	s.Addr = "127.0.0.1:" + strconv.Itoa(port)
	sock := filepath.Join(dir, "mysqld.sock")
	cmd := command(acct, mariadbd, "--no-defaults", "--datadir="+data, "--port="+strconv.Itoa(port),
		"--bind-address=127.0.0.1", "--socket="+sock, "--pid-file="+filepath.Join(dir, "mysqld.pid"),
		"--skip-name-resolve", "--innodb-flush-log-at-trx-commit=2", "--innodb-buffer-pool-size=64M",
		"--character-set-server=utf8mb4", "--collation-server=utf8mb4_bin", "--default-time-zone=+00:00",
		"--log-error="+filepath.Join(dir, "server.log"))
	rootCfg := mysql.NewConfig()
	rootCfg.User = "root"
	rootCfg.Net = "unix"
	rootCfg.Addr = sock
	rootCfg.Timeout = 2 * time.Second
	root := func() (*sql.DB, error) {
		c, err := mysql.NewConnector(rootCfg)
		if err != nil {
			return nil, err
		}
		return sql.OpenDB(c), nil
	}
	err = s.start(cmd, func() error {
		if _, err := os.Stat(sock); err != nil {
			return err
		}
		db, err := root()
		if err != nil {
			return err
		}
		defer func() { _ = db.Close() }()
		return db.Ping()
	}, 60*time.Second)
	if err != nil {
		return nil, err
	}
	db, err := root()
	if err != nil {
		return nil, err
	}
	defer func() { _ = db.Close() }()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, stmt := range []string{
		"CREATE DATABASE dray",
		"CREATE USER 'dray'@'127.0.0.1' IDENTIFIED BY 'dray'",
		"GRANT ALL ON dray.* TO 'dray'@'127.0.0.1'",
	} {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			return nil, fmt.Errorf("%s: %w", stmt, err)
		}
	}
	s.DSN = fmt.Sprintf("dray:dray@tcp(%s)/dray", s.Addr)
	ok = true
	return s, nil
}

// MariaDB starts a MariaDB server for t and stops it when t ends.
func MariaDB(t testing.TB) *Server {
	t.Helper()
	return forTest(t, "MariaDB", StartMariaDB)
}

package sql

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// dialect is what differs between the databases: identifier quoting,
// placeholders, row limits, the database clock and NULL ordering. Every
// query the connector runs is built from these, so the SQL of each dialect
// can be unit-tested without a server (sql_test.go).
type dialect interface {
	// name is the configuration's driver name: postgres, mysql, sqlite,
	// sqlserver.
	name() string
	// quote quotes one identifier part.
	quote(ident string) string
	// placeholder returns the n-th (1-based) bind parameter.
	placeholder(n int) string
	// limit wraps a complete SELECT list, FROM, WHERE and ORDER BY in the
	// dialect's row limit: LIMIT n, or TOP (n) for SQL Server.
	limit(selectList, rest string, n int) string
	// clockMinus is an expression for the database clock (clock, or the
	// dialect's default when empty) minus d, comparable with a timestamp
	// column.
	clockMinus(clock string, d time.Duration) string
	// nullsFirst is appended to an ORDER BY term so that NULL keys sort
	// first, as the watermark predicate assumes.
	nullsFirst() string
	// rawTS is the select expression that reads a watermark column's value
	// exactly as stored, so that binding it back compares equal.
	rawTS(col string) string
}

func dialectFor(driver string) (dialect, bool) {
	switch driver {
	case "postgres":
		return postgres{}, true
	case "mysql":
		return mysql{}, true
	case "sqlite":
		return sqlite{}, true
	case "sqlserver":
		return sqlserver{}, true
	}
	return nil, false
}

// Drivers are the accepted values of Config.Driver.
var Drivers = []string{"postgres", "mysql", "sqlite", "sqlserver"}

type postgres struct{}

func (postgres) name() string             { return "postgres" }
func (postgres) quote(s string) string    { return `"` + s + `"` }
func (postgres) placeholder(n int) string { return "$" + strconv.Itoa(n) }
func (postgres) nullsFirst() string       { return " NULLS FIRST" }
func (postgres) rawTS(col string) string  { return col }
func (postgres) limit(sel, rest string, n int) string {
	return "SELECT " + sel + " " + rest + " LIMIT " + strconv.Itoa(n)
}
func (postgres) clockMinus(clock string, d time.Duration) string {
	if clock == "" {
		clock = "now()"
	}
	return fmt.Sprintf("((%s) - interval '%d microseconds')", clock, d.Microseconds())
}

type mysql struct{}

func (mysql) name() string            { return "mysql" }
func (mysql) quote(s string) string   { return "`" + s + "`" }
func (mysql) placeholder(int) string  { return "?" }
func (mysql) nullsFirst() string      { return "" } // NULL sorts first ascending
func (mysql) rawTS(col string) string { return col }
func (mysql) limit(sel, rest string, n int) string {
	return "SELECT " + sel + " " + rest + " LIMIT " + strconv.Itoa(n)
}
func (mysql) clockMinus(clock string, d time.Duration) string {
	if clock == "" {
		clock = "NOW(6)"
	}
	return fmt.Sprintf("((%s) - INTERVAL %d MICROSECOND)", clock, d.Microseconds())
}

type sqlite struct{}

func (sqlite) name() string           { return "sqlite" }
func (sqlite) quote(s string) string  { return `"` + s + `"` }
func (sqlite) placeholder(int) string { return "?" }
func (sqlite) nullsFirst() string     { return "" } // NULL sorts first ascending
// rawTS: unary plus returns its operand unchanged, storage class included,
// and has no declared type, so the driver hands over the stored text (or
// integer) instead of parsing a DATETIME column into a time.Time whose
// re-formatting would not compare equal to what is stored.
func (sqlite) rawTS(col string) string { return "+" + col }
func (sqlite) limit(sel, rest string, n int) string {
	return "SELECT " + sel + " " + rest + " LIMIT " + strconv.Itoa(n)
}

// clockMinus for SQLite: clock is a time-value with optional modifiers
// ('now' by default; 'now', 'localtime' for local wall times), formatted
// like CURRENT_TIMESTAMP with milliseconds, which compares as text with
// stored 'YYYY-MM-DD HH:MM:SS[.SSS]' values.
func (sqlite) clockMinus(clock string, d time.Duration) string {
	if clock == "" {
		clock = "'now'"
	}
	return fmt.Sprintf("strftime('%%Y-%%m-%%d %%H:%%M:%%f', %s, '-%s seconds')", clock,
		strconv.FormatFloat(d.Seconds(), 'f', -1, 64))
}

type sqlserver struct{}

func (sqlserver) name() string             { return "sqlserver" }
func (sqlserver) quote(s string) string    { return "[" + s + "]" }
func (sqlserver) placeholder(n int) string { return "@p" + strconv.Itoa(n) }
func (sqlserver) nullsFirst() string       { return "" } // NULL sorts first ascending
func (sqlserver) rawTS(col string) string  { return col }
func (sqlserver) limit(sel, rest string, n int) string {
	return "SELECT TOP (" + strconv.Itoa(n) + ") " + sel + " " + rest
}
func (sqlserver) clockMinus(clock string, d time.Duration) string {
	if clock == "" {
		clock = "SYSDATETIME()"
	}
	return fmt.Sprintf("DATEADD(millisecond, %d, %s)", -d.Milliseconds(), clock)
}

// quoteName quotes a possibly schema-qualified name ("wms.moves").
func quoteName(d dialect, name string) string {
	parts := strings.Split(name, ".")
	for i, p := range parts {
		parts[i] = d.quote(p)
	}
	return strings.Join(parts, ".")
}

// query builds one statement and its arguments.
type query struct {
	d    dialect
	b    strings.Builder
	args []any
}

// arg appends v as the next bind parameter and returns its placeholder.
func (q *query) arg(v any) string {
	q.args = append(q.args, v)
	return q.d.placeholder(len(q.args))
}

func (q *query) WriteString(s string) { q.b.WriteString(s) }

// col is a column of the source, qualified by its alias.
func col(d dialect, name string) string { return "src." + d.quote(name) }

// after writes the keyset predicate "(ts, key…) > (pos)": rows strictly
// after a position in ORDER BY ts, key… order. A NULL key in the position
// (a rejected row without a key) means "every non-NULL key at that ts".
//
// The disjunction alone is not a range a planner can seek to: PostgreSQL
// walked the (ts, key) index from its start and filtered, 16 ms for a page
// of 500 rows 100,000 rows in, growing with the table. The leading
// "ts >= t", implied by the rest, is that range on every dialect.
func (q *query) after(ts string, keys []string, pos position) {
	q.WriteString(ts + " >= " + q.arg(pos.TS.v) + " AND ")
	t := q.arg(pos.TS.v)
	if pos.NullKey {
		q.WriteString("(" + ts + " > " + t + " OR (" + ts + " = " + q.arg(pos.TS.v) + " AND " + allNotNull(keys) + "))")
		return
	}
	q.WriteString("(" + ts + " > " + t + " OR (" + ts + " = " + q.arg(pos.TS.v) + " AND ")
	q.keysAfter(keys, pos.Key, false)
	q.WriteString("))")
}

// atOrBefore writes "(ts, key…) <= (pos)". Rows with a NULL key column
// come before every row with a full key at the same ts, as in after; the
// leading "ts <= t" is the range, as there.
func (q *query) atOrBefore(ts string, keys []string, pos position) {
	q.WriteString(ts + " <= " + q.arg(pos.TS.v) + " AND ")
	t := q.arg(pos.TS.v)
	if pos.NullKey {
		q.WriteString("(" + ts + " < " + t + " OR (" + ts + " = " + q.arg(pos.TS.v) + " AND NOT " + allNotNull(keys) + "))")
		return
	}
	q.WriteString("(" + ts + " < " + t + " OR (" + ts + " = " + q.arg(pos.TS.v) + " AND (NOT " + allNotNull(keys) + " OR ")
	q.keysAfter(keys, pos.Key, true)
	q.WriteString(")))")
}

// keysAfter writes the lexicographic comparison of a composite key with
// values, expanded ((k1 > v1) OR (k1 = v1 AND k2 > v2) …) because SQL
// Server has no row-value comparison. orEqual turns the last > into <=
// and every other > into <, i.e. "key <= values".
func (q *query) keysAfter(keys []string, vals []dbValue, orEqual bool) {
	q.WriteString("(")
	for i := range keys {
		if i > 0 {
			q.WriteString(" OR ")
		}
		q.WriteString("(")
		for j := 0; j < i; j++ {
			q.WriteString(keys[j] + " = " + q.arg(vals[j].v) + " AND ")
		}
		op := " > "
		if orEqual {
			op = " < "
			if i == len(keys)-1 {
				op = " <= "
			}
		}
		q.WriteString(keys[i] + op + q.arg(vals[i].v) + ")")
	}
	q.WriteString(")")
}

func allNotNull(keys []string) string {
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + " IS NOT NULL"
	}
	return "(" + strings.Join(parts, " AND ") + ")"
}

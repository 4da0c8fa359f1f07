package sdk

import (
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"

	"github.com/hashicorp/go-hclog"
)

// Environment variables the agent sets for a plugin (other-language plugins
// may read them too).
const (
	// EnvLogLevel is the level the agent logs at: trace, debug, info, warn
	// or error. Logger and the SDK's own logging honour it.
	EnvLogLevel = "DRAY_PLUGIN_LOG_LEVEL"
	// EnvParentFD names an inherited file descriptor: the read end of a pipe
	// whose write end only the agent holds. It reaches end-of-file when the
	// agent exits, however it exits.
	EnvParentFD = "DRAY_PLUGIN_PARENT_FD"
)

// LevelTrace is the slog level the agent maps to hclog's trace.
const LevelTrace = slog.LevelDebug - 4

// stderr is the process's real standard error, captured before go-plugin
// replaces os.Stderr with a pipe of its own after the handshake. The agent
// reads it line by line and parses hclog JSON, so every line written here must
// be one whole JSON object: lockedWriter makes each record one Write.
var (
	stderrFile = os.Stderr
	stderr     = &lockedWriter{w: stderrFile}
)

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer // guarded by mu
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

var logger = sync.OnceValue(func() *slog.Logger {
	return slog.New(newHCLogJSONHandler(stderr, levelFromEnv()))
})

// Logger returns the connector's logger. It writes to stderr in the format
// the agent parses (hclog JSON: "@level", "@message", "@timestamp" and the
// attributes), and the agent re-logs each line in its own log, scoped to the
// connector. Never log to stdout: go-plugin uses it for the handshake.
func Logger() *slog.Logger { return logger() }

func levelFromEnv() slog.Level {
	switch strings.ToLower(os.Getenv(EnvLogLevel)) {
	case "trace":
		return LevelTrace
	case "debug":
		return slog.LevelDebug
	case "warn":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	default:
		return slog.LevelInfo
	}
}

func hclogLevel(l slog.Level) hclog.Level {
	switch {
	case l < slog.LevelDebug:
		return hclog.Trace
	case l < slog.LevelInfo:
		return hclog.Debug
	case l < slog.LevelWarn:
		return hclog.Info
	case l < slog.LevelError:
		return hclog.Warn
	default:
		return hclog.Error
	}
}

// newHCLogJSONHandler is slog's JSON handler with hclog's key names and
// level words, which go-plugin's host parses.
func newHCLogJSONHandler(w io.Writer, level slog.Level) slog.Handler {
	return slog.NewJSONHandler(w, &slog.HandlerOptions{
		Level: level,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) > 0 {
				return a
			}
			switch a.Key {
			case slog.TimeKey:
				return slog.String("@timestamp", a.Value.Time().Format("2006-01-02T15:04:05.000000Z07:00"))
			case slog.LevelKey:
				lvl, _ := a.Value.Any().(slog.Level)
				return slog.String("@level", hclogLevel(lvl).String())
			case slog.MessageKey:
				return slog.String("@message", a.Value.String())
			}
			return a
		},
	})
}

// hclogger is the hclog logger go-plugin's server side writes its own
// messages with, in the same format and to the same stream as Logger.
func hclogger() hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{
		Name:       "go-plugin",
		Level:      hclogLevel(levelFromEnv()),
		Output:     stderr,
		JSONFormat: true,
	})
}

package pluginhost

import (
	"bytes"
	"context"
	"io"
	"log"
	"log/slog"
	"sync/atomic"

	"github.com/hashicorp/go-hclog"
)

// LevelTrace is the slog level hclog's trace maps to.
const LevelTrace = slog.LevelDebug - 4

// hclogBridge is an hclog.Logger that writes to slog. go-plugin logs its own
// messages through it, and re-logs each JSON line a plugin writes to stderr
// through the logger named after the plugin binary: those lines keep their
// level and attributes. go-plugin's own chatter is capped at debug unless it
// is a warning or an error.
type hclogBridge struct {
	log        *slog.Logger // the plugin's scoped logger
	pluginName string       // base name of the binary: lines from the plugin itself
	name       string
	implied    []any
}

var _ hclog.Logger = (*hclogBridge)(nil)

func newHCLogBridge(l *slog.Logger, binaryBase string) *hclogBridge {
	return &hclogBridge{log: l, pluginName: binaryBase}
}

func (b *hclogBridge) fromPlugin() bool { return b.name == b.pluginName }

func slogLevel(l hclog.Level) slog.Level {
	switch l {
	case hclog.Trace:
		return LevelTrace
	case hclog.Debug:
		return slog.LevelDebug
	case hclog.Warn:
		return slog.LevelWarn
	case hclog.Error:
		return slog.LevelError
	default:
		return slog.LevelInfo
	}
}

func (b *hclogBridge) Log(level hclog.Level, msg string, args ...any) {
	lvl := slogLevel(level)
	l := b.log
	if b.fromPlugin() {
		args = dropKey(args, "timestamp") // the plugin's own clock; ours is as good
	} else {
		if lvl < slog.LevelWarn {
			lvl = min(lvl, slog.LevelDebug)
		}
		comp := "go-plugin"
		if b.name != "" {
			comp += "." + b.name
		}
		l = l.With("component", comp)
	}
	if !l.Enabled(context.Background(), lvl) {
		return
	}
	if len(b.implied) > 0 {
		args = append(append([]any{}, b.implied...), args...)
	}
	l.Log(context.Background(), lvl, msg, args...)
}

// dropKey removes one key and its value from alternating key/value args.
func dropKey(args []any, key string) []any {
	for i := 0; i+1 < len(args); i += 2 {
		if k, ok := args[i].(string); ok && k == key {
			return append(args[:i:i], args[i+2:]...)
		}
	}
	return args
}

func (b *hclogBridge) Trace(msg string, args ...any) { b.Log(hclog.Trace, msg, args...) }
func (b *hclogBridge) Debug(msg string, args ...any) { b.Log(hclog.Debug, msg, args...) }
func (b *hclogBridge) Info(msg string, args ...any)  { b.Log(hclog.Info, msg, args...) }
func (b *hclogBridge) Warn(msg string, args ...any)  { b.Log(hclog.Warn, msg, args...) }
func (b *hclogBridge) Error(msg string, args ...any) { b.Log(hclog.Error, msg, args...) }

func (b *hclogBridge) enabled(l hclog.Level) bool {
	return b.log.Enabled(context.Background(), slogLevel(l))
}

func (b *hclogBridge) IsTrace() bool { return b.enabled(hclog.Trace) }
func (b *hclogBridge) IsDebug() bool { return b.enabled(hclog.Debug) }
func (b *hclogBridge) IsInfo() bool  { return b.enabled(hclog.Info) }
func (b *hclogBridge) IsWarn() bool  { return b.enabled(hclog.Warn) }
func (b *hclogBridge) IsError() bool { return b.enabled(hclog.Error) }

func (b *hclogBridge) ImpliedArgs() []any { return b.implied }

func (b *hclogBridge) With(args ...any) hclog.Logger {
	c := *b
	c.implied = append(append([]any{}, b.implied...), args...)
	return &c
}

func (b *hclogBridge) Name() string { return b.name }

func (b *hclogBridge) Named(name string) hclog.Logger {
	c := *b
	if c.name != "" {
		c.name += "." + name
	} else {
		c.name = name
	}
	return &c
}

func (b *hclogBridge) ResetNamed(name string) hclog.Logger {
	c := *b
	c.name = name
	return &c
}

// SetLevel is ignored: the slog handler decides.
func (b *hclogBridge) SetLevel(hclog.Level) {}

// GetLevel returns the lowest level the slog logger takes; go-plugin skips
// parsing plugin lines below it.
func (b *hclogBridge) GetLevel() hclog.Level {
	for _, l := range []hclog.Level{hclog.Trace, hclog.Debug, hclog.Info, hclog.Warn, hclog.Error} {
		if b.enabled(l) {
			return l
		}
	}
	return hclog.Off
}

func (b *hclogBridge) StandardLogger(opts *hclog.StandardLoggerOptions) *log.Logger {
	return log.New(b.StandardWriter(opts), "", 0)
}

func (b *hclogBridge) StandardWriter(*hclog.StandardLoggerOptions) io.Writer {
	return lineWriter(func(line string) { b.Info(line) })
}

// lineWriter calls its function once per Write with the text, trailing
// newline removed.
type lineWriter func(string)

func (w lineWriter) Write(p []byte) (int, error) {
	w(string(bytes.TrimRight(p, "\r\n")))
	return len(p), nil
}

// stdoutWatch receives what a plugin writes to its (go-plugin-replaced)
// stdout after the handshake. A connector must never do that; each write is
// logged as a warning and counted.
type stdoutWatch struct {
	log   *slog.Logger
	bytes atomic.Int64
}

func (w *stdoutWatch) Write(p []byte) (int, error) {
	w.bytes.Add(int64(len(p)))
	const show = 200
	text := string(bytes.TrimRight(p, "\r\n"))
	if len(text) > show {
		text = text[:show] + "…"
	}
	w.log.Warn("plugin wrote to stdout; connectors must log to stderr (sdk.Logger)", "text", text)
	return len(p), nil
}

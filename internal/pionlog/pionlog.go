// Package pionlog routes pion's leveled logs into a *slog.Logger, so that
// the netcode and lobby packages log through the one logger a game injects.
package pionlog

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/pion/logging"
)

// Factory sends pion's warnings and errors to log at their level; pion's
// info and debug chatter goes to Debug, and trace is dropped.
type Factory struct{ Log *slog.Logger }

// NewLogger implements logging.LoggerFactory.
func (f Factory) NewLogger(scope string) logging.LeveledLogger {
	return logger{f.Log.With("pion", scope)}
}

type logger struct{ log *slog.Logger }

func (l logger) logf(level slog.Level, format string, args ...any) {
	if l.log.Enabled(context.Background(), level) {
		l.log.Log(context.Background(), level, fmt.Sprintf(format, args...))
	}
}

func (l logger) Trace(string)                 {}
func (l logger) Tracef(string, ...any)        {}
func (l logger) Debug(msg string)             { l.logf(slog.LevelDebug, "%s", msg) }
func (l logger) Debugf(f string, args ...any) { l.logf(slog.LevelDebug, f, args...) }
func (l logger) Info(msg string)              { l.logf(slog.LevelDebug, "%s", msg) }
func (l logger) Infof(f string, args ...any)  { l.logf(slog.LevelDebug, f, args...) }
func (l logger) Warn(msg string)              { l.logf(slog.LevelWarn, "%s", msg) }
func (l logger) Warnf(f string, args ...any)  { l.logf(slog.LevelWarn, f, args...) }
func (l logger) Error(msg string)             { l.logf(slog.LevelError, "%s", msg) }
func (l logger) Errorf(f string, args ...any) { l.logf(slog.LevelError, f, args...) }

// Package redistest runs a redis-server of a test's own: on a Unix socket
// in a directory of its own, with no persistence, so that stopping it loses
// everything, as a Redis without AOF or RDB does. Tests that need one fail
// under CI=true when redis-server is missing, and skip elsewhere.
package redistest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

// T is what a Server needs of its test: testing.TB has it.
type T interface {
	Helper()
	Fatalf(format string, args ...any)
	Skip(args ...any)
	Cleanup(func())
}

// Server is a redis-server process.
type Server struct {
	t    T
	bin  string
	dir  string
	sock string
	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

// Start starts a redis-server for t, stopped when t ends. Without one it
// fails under CI=true and skips elsewhere. TICKWIRE_REDIS_LOG=1 shows its
// log.
func Start(t T) *Server {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("redis-server is missing: apt-get install -y redis-server")
		}
		t.Skip("needs redis-server: apt-get install -y redis-server")
	}
	// A Unix socket path must fit in 108 bytes: t.TempDir's can be longer.
	dir, err := os.MkdirTemp("", "twredis")
	if err != nil {
		t.Fatalf("redistest: %v", err)
	}
	s := &Server{t: t, bin: bin, dir: dir, sock: filepath.Join(dir, "redis.sock")}
	t.Cleanup(func() {
		s.Stop()
		_ = os.RemoveAll(dir)
	})
	s.Restart()
	return s
}

// URL is the server's go-redis URL.
func (s *Server) URL() string { return "unix://" + s.sock }

// Restart starts the server again after Stop, on the same socket, empty,
// and waits until it answers.
func (s *Server) Restart() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return
	}
	_ = os.Remove(s.sock)
	cmd := exec.Command(s.bin, "--port", "0", "--unixsocket", s.sock, "--unixsocketperm", "700",
		"--save", "", "--appendonly", "no", "--dir", s.dir, "--loglevel", "warning")
	// Lua compares strings with strcoll: the C locale makes that byte order.
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	if os.Getenv("TICKWIRE_REDIS_LOG") != "" {
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	}
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("redis-server: %v", err)
	}
	s.cmd, s.done = cmd, make(chan struct{})
	go func(done chan struct{}) { _ = cmd.Wait(); close(done) }(s.done)
	c := redis.NewClient(&redis.Options{Network: "unix", Addr: s.sock, MaxRetries: -1})
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("redis-server did not answer within 10s: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Stop kills the server, as a crash would: everything it held is gone.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGKILL)
	<-s.done
	s.cmd = nil
}

//go:build !js

package lobby

import (
	"context"
	"fmt"

	"github.com/tickwire/tickwire/lobby/internal/proto"
)

// engine owns a lobby's state: the hub, for a MemoryStore, or a node of a
// lobby whose state is shared (node.go, for a RedisStore). A connection's
// reader (Server.serve) hands it what it reads, in order.
type engine interface {
	run()
	// stop begins the shutdown: every connection closes with 1001.
	stop()
	finished() <-chan struct{}
	// context is cancelled once the engine has stopped.
	context() context.Context
	readiness() Readiness
	stats() Stats
	// gauges fills m's Stats, Queues and StoreDown.
	gauges(m *Metrics)
	// attach takes a connection whose hello (ev.ident) or register (ev.reg)
	// passed; false means it will not be served.
	attach(ev event) bool
	// message takes one decoded message of ev.c, or a reply to make for
	// one that did not decode; false means the reader stops.
	message(ev event) bool
	// closeAfter sends ev's error and closes ev.c with ev.closeCode, after
	// the replies to what ev.c sent before, and waits for that.
	closeAfter(ev event)
	// gone says ev.c's connection ended, with the peer's close code (-1
	// for none).
	gone(c *conn, peerCode int)
}

// engine returns the hub: the lobby's whole state in its process.
func (m *MemoryStore) engine(s *Server) (engine, error) {
	h, err := newHub(s.cfg, s.m)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidConfig, err)
	}
	s.h = h
	return hubEngine{h}, nil
}

// hubEngine is the hub as an engine.
type hubEngine struct{ h *hub }

func (e hubEngine) run()                      { e.h.run() }
func (e hubEngine) stop()                     { close(e.h.quit) }
func (e hubEngine) finished() <-chan struct{} { return e.h.done }
func (e hubEngine) context() context.Context  { return e.h.ctx }
func (e hubEngine) readiness() Readiness      { return *e.h.ready.Load() }
func (e hubEngine) attach(ev event) bool      { return e.h.post(ev) }

func (e hubEngine) gone(c *conn, peerCode int) {
	e.h.post(event{c: c, gone: true, peerCode: peerCode})
}

func (e hubEngine) message(ev event) bool {
	if !e.hold(ev.c, &ev) {
		return false
	}
	if !e.h.post(ev) {
		if ev.reserved != nil {
			ev.reserved.unreserve()
		}
		return false
	}
	return true
}

// hold applies flow control to a game-server link before ev goes to the
// hub: a game server's request waits for room on its own link (for the
// reply), a player's signal for room on the link of its seat's server.
// false means c closed meanwhile.
func (e hubEngine) hold(c *conn, ev *event) bool {
	var l *conn
	switch {
	case c.link:
		l = c
	case ev.msg != nil:
		if _, ok := ev.msg.(*proto.Signal); ok {
			l = c.route.Load()
		}
	}
	if l == nil {
		return true
	}
	if l.reserve(c.done, e.h.done) {
		ev.reserved = l
		return true
	}
	// A player's link may have gone (the hub drops the signal), its own
	// connection not.
	return !c.closed()
}

// closeAfter has the hub send ev's error and close c, after what the
// earlier messages of c led to, and waits for that.
func (e hubEngine) closeAfter(ev event) {
	if !e.h.post(ev) {
		ev.c.close(ev.closeCode, ev.closeReason)
		return
	}
	select {
	case <-ev.c.done:
	case <-e.h.done:
		ev.c.close(ev.closeCode, ev.closeReason)
	}
}

func (e hubEngine) stats() Stats {
	var st Stats
	e.h.do(func() { st = e.h.statsLocked() })
	return st
}

func (e hubEngine) gauges(m *Metrics) {
	e.h.do(func() {
		h := e.h
		m.Stats = h.statsLocked()
		type bucket struct{ mode, region string }
		n := map[bucket]int{}
		for _, t := range h.tickets {
			n[bucket{t.mode, t.region}]++
		}
		for b, k := range n {
			m.Queues = append(m.Queues, QueueLen{Mode: b.mode, Region: b.region, Tickets: k})
		}
	})
}

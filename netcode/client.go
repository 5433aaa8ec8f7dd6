package netcode

import (
	"context"
	"fmt"
	"time"

	"github.com/pion/webrtc/v4"
)

// Snapshot is a state update from the server.
type Snapshot struct {
	// Seq increases by one for each snapshot the server sends this client;
	// gaps are snapshots lost on the way.
	Seq uint64
	// Payload is the game's own encoding of its state. It belongs to the
	// caller.
	Payload []byte
	// Received is when this side read it off the network.
	Received time.Time
}

// Client is a player's connection to a game Server: state arrives as
// snapshots (newest wins), inputs go out unreliably, events both ways
// reliably and in order. Its methods are safe for concurrent use.
type Client struct {
	p *peer
}

// Dial connects to a server through sig, which it owns from then on: the
// client makes the offer and opens both channels, and Dial returns once they
// are open or ctx ends. A nil cfg means defaults.
func Dial(ctx context.Context, sig Signaler, cfg *Config) (*Client, error) {
	c, err := cfg.resolve()
	if err != nil {
		_ = sig.Close()
		return nil, err
	}
	conf := webrtc.Configuration{ICEServers: c.ICEServers}
	if c.RelayOnly {
		conf.ICETransportPolicy = webrtc.ICETransportPolicyRelay
	}
	pc, err := newClientAPI(c).NewPeerConnection(conf)
	if err != nil {
		_ = sig.Close()
		return nil, fmt.Errorf("netcode: new peer connection: %w", err)
	}
	p := newPeer(c, roleClient, pc, sig, nil)
	if err := dial(ctx, p, snapshotsInit(), eventsInit()); err != nil {
		p.closeWith(&CloseError{Code: CloseConnectionLost, Reason: "dial failed", Err: err}, false)
		p.wg.Wait()
		return nil, err
	}
	return &Client{p: p}, nil
}

// snapshotsInit is the unreliable channel: unordered, never retransmitted.
func snapshotsInit() *webrtc.DataChannelInit {
	proto, unordered, zero := protocolName, false, uint16(0)
	return &webrtc.DataChannelInit{Ordered: &unordered, MaxRetransmits: &zero, Protocol: &proto}
}

// eventsInit is the reliable, ordered channel.
func eventsInit() *webrtc.DataChannelInit {
	proto := protocolName
	return &webrtc.DataChannelInit{Protocol: &proto}
}

func dial(ctx context.Context, p *peer, snapshots, events *webrtc.DataChannelInit) error {
	udc, err := p.pc.CreateDataChannel(labelSnapshots, snapshots)
	if err != nil {
		return fmt.Errorf("netcode: create %s channel: %w", labelSnapshots, err)
	}
	rdc, err := p.pc.CreateDataChannel(labelEvents, events)
	if err != nil {
		return fmt.Errorf("netcode: create %s channel: %w", labelEvents, err)
	}
	p.watchChannel(udc)
	p.watchChannel(rdc)
	offer, err := p.pc.CreateOffer(nil)
	if err != nil {
		return fmt.Errorf("netcode: create offer: %w", err)
	}
	if err := p.pc.SetLocalDescription(offer); err != nil {
		return fmt.Errorf("netcode: set offer: %w", err)
	}
	p.queueSDP(Signal{Type: SignalOffer, SDP: offer.SDP})
	return p.waitOpen(ctx)
}

// SendInput sends an input to the server on the unreliable channel. It
// never blocks; it fails with ErrTooLarge over Config.MaxUnreliableSize and
// ErrCongested when the transport is backed up.
func (c *Client) SendInput(payload []byte) error { return c.p.sendUnreliable(payload) }

// SendEvent sends an event reliably and in order. It never blocks; it fails
// with ErrTooLarge over Config.MaxEventSize and ErrEventBufferFull when
// Config.EventBuffer bytes are still on their way.
func (c *Client) SendEvent(payload []byte) error { return c.p.sendEvent(payload) }

// ReadSnapshot waits for a snapshot newer than any returned before. Only the
// newest is kept, so a slow reader skips snapshots but never holds up the
// network. After the client closes it returns the close error.
func (c *Client) ReadSnapshot(ctx context.Context) (Snapshot, error) {
	d, err := c.p.readDatagram(ctx)
	return Snapshot{Seq: d.seq, Payload: d.payload, Received: d.received}, err
}

// TryReadSnapshot returns the newest unread snapshot, if any, without
// waiting: for a render loop.
func (c *Client) TryReadSnapshot() (Snapshot, bool) {
	d, ok := c.p.tryReadDatagram()
	return Snapshot{Seq: d.seq, Payload: d.payload, Received: d.received}, ok
}

// ReadEvent waits for the next event from the server. Events queued before
// the client closed are returned before the close error.
func (c *Client) ReadEvent(ctx context.Context) ([]byte, error) { return c.p.readEvent(ctx) }

// ReadEvents appends every event received and not yet read to dst, without
// waiting.
func (c *Client) ReadEvents(dst [][]byte) [][]byte { return c.p.readEvents(dst) }

// ChannelInfo describes one data channel as the WebRTC stack reports it: in
// the browser, the RTCDataChannel's own attributes.
type ChannelInfo struct {
	Label    string `json:"label"`
	Protocol string `json:"protocol"`
	Ordered  bool   `json:"ordered"`
	// MaxRetransmits is nil for a reliable channel.
	MaxRetransmits *uint16 `json:"maxRetransmits"`
}

// Channels reports the parameters of the snapshot and event channels, so
// that a game (or a test) can check what the stack really negotiated.
func (c *Client) Channels() []ChannelInfo {
	out := make([]ChannelInfo, 0, 2)
	for _, dc := range []*webrtc.DataChannel{c.p.udc, c.p.rdc} {
		if dc != nil {
			out = append(out, ChannelInfo{Label: dc.Label(), Protocol: dc.Protocol(), Ordered: dc.Ordered(), MaxRetransmits: dc.MaxRetransmits()})
		}
	}
	return out
}

// Stats returns the connection's counters.
func (c *Client) Stats() Stats { return c.p.statsSnapshot() }

// State reports where the connection stands now.
func (c *Client) State() State { return State(c.p.state.Load()) }

// StateChanges delivers each transition with its reason: connected,
// reconnecting while ICE restarts, connected again, closed. It keeps the
// latest 16 for a game that reads it late.
func (c *Client) StateChanges() <-chan StateChange { return c.p.states }

// Done is closed when the client starts closing, for whatever reason.
func (c *Client) Done() <-chan struct{} { return c.p.closing }

// Err returns nil while the client is open, then a *CloseError saying why it
// closed.
func (c *Client) Err() error { return c.p.Err() }

// Close tells the server, releases the connection and waits for every
// goroutine the client started. It is idempotent and unblocks every waiting
// call.
func (c *Client) Close() error { return c.p.close(CloseNormal, "client closed") }

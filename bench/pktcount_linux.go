package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"
)

// udpPortCounter counts the UDP packets a local port receives and sends,
// with nftables counters in a table of its own (root, Linux), so that a
// server's wire packets are counted where its library gives no count.
type udpPortCounter struct {
	table string
}

// countUDPPort starts counting port's packets; it fails without root or nft.
func countUDPPort(ctx context.Context, port int) (*udpPortCounter, error) {
	if os.Geteuid() != 0 {
		return nil, fmt.Errorf("counting packets needs root (nftables)")
	}
	c := &udpPortCounter{table: fmt.Sprintf("tickwire_bench_%d_%d", os.Getpid(), port)}
	// Priority -300 sees every packet before any other filter can drop it;
	// the chains only count.
	rules := fmt.Sprintf(`table inet %[1]s {
	counter in { }
	counter out { }
	chain input { type filter hook input priority -300; policy accept; udp dport %[2]d counter name "in"; }
	chain output { type filter hook output priority -300; policy accept; udp sport %[2]d counter name "out"; }
}
`, c.table, port)
	if out, err := nft(ctx, rules, "-f", "-"); err != nil {
		return nil, fmt.Errorf("nft: %w: %s", err, out)
	}
	return c, nil
}

// read returns the packets received and sent so far.
func (c *udpPortCounter) read(ctx context.Context) (in, out int64, err error) {
	for _, name := range []string{"in", "out"} {
		b, err := nft(ctx, "", "-j", "list", "counter", "inet", c.table, name)
		if err != nil {
			return 0, 0, fmt.Errorf("nft: %w: %s", err, b)
		}
		var doc struct {
			Nftables []struct {
				Counter *struct {
					Packets int64 `json:"packets"`
				} `json:"counter"`
			} `json:"nftables"`
		}
		if err := json.Unmarshal(b, &doc); err != nil {
			return 0, 0, fmt.Errorf("nft output: %w", err)
		}
		found := false
		for _, o := range doc.Nftables {
			if o.Counter != nil {
				if name == "in" {
					in = o.Counter.Packets
				} else {
					out = o.Counter.Packets
				}
				found = true
			}
		}
		if !found {
			return 0, 0, fmt.Errorf("nft: no counter %s", name)
		}
	}
	return in, out, nil
}

// stop deletes the table, even when ctx has ended.
func (c *udpPortCounter) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, _ = nft(ctx, "", "delete", "table", "inet", c.table)
}

func nft(ctx context.Context, stdin string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "nft", args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.Bytes(), err
}

//go:build linux

package netcode

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"testing"
	"time"
)

// inNetns names the network namespace this test binary was re-run in.
const inNetns = "TICKWIRE_TEST_NETNS"

// TestRecoveryNetns is TestICERestartRecovers and TestResumeAfterFailure
// through the kernel: real UDP sockets on the loopback of a network
// namespace of its own, cut with an iptables DROP rule. The test re-runs itself inside the namespace, so
// the rule cannot touch anything else on the machine. It needs root, ip
// and iptables: under CI=true their absence fails the test.
func TestRecoveryNetns(t *testing.T) {
	if ns := os.Getenv(inNetns); ns != "" {
		insideNetns(t)
		return
	}
	missing := ""
	if os.Geteuid() != 0 {
		missing = "root"
	}
	for _, tool := range []string{"ip", "iptables"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing += " " + tool
		}
	}
	if missing != "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("needs%s (apt-get install -y iproute2 iptables, as root)", missing)
		}
		t.Skipf("needs%s: run as root with iproute2 and iptables installed", missing)
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	ns := "tickwire-" + hex.EncodeToString(b[:])
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.CommandContext(ctx, args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
	}
	run("ip", "netns", "add", ns)
	defer func() { _ = exec.Command("ip", "netns", "del", ns).Run() }()
	run("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up")

	cmd := exec.CommandContext(ctx, "ip", "netns", "exec", ns, os.Args[0],
		"-test.run=^TestRecoveryNetns$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), inNetns+"="+ns)
	out, err := cmd.CombinedOutput()
	t.Logf("inside %s:\n%s", ns, out)
	if err != nil {
		t.Fatalf("the test inside the namespace failed: %v", err)
	}
}

func insideNetns(t *testing.T) {
	rule := []string{"INPUT", "-p", "udp", "-j", "DROP"}
	iptables := func(t *testing.T, op string) {
		t.Helper()
		args := append([]string{op}, rule...)
		if out, err := exec.Command("iptables", args...).CombinedOutput(); err != nil {
			t.Fatalf("iptables %v: %v\n%s", args, err, out)
		}
	}
	tests := []struct {
		name   string
		cfg    *ClientConfig
		resume bool
	}{
		{"ICE restart", nil, false},
		{"resume", &ClientConfig{RestartTimeout: time.Second}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newTestServer(t, nil)
			c, s := connect(t, srv, tt.cfg)
			t.Cleanup(func() { _ = exec.Command("iptables", append([]string{"-D"}, rule...)...).Run() })
			cutAndRecover(t, srv, c, s, tt.resume, func(cut bool) {
				if cut {
					iptables(t, "-I")
				} else {
					iptables(t, "-D")
				}
			})
		})
	}
}

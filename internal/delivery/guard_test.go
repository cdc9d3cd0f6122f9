package delivery

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// countingListener accepts TCP connections on a loopback port and counts
// them: the proof that a refused target was never connected to.
type countingListener struct {
	ln      net.Listener
	accepts atomic.Int64
}

func newCountingListener(t *testing.T) *countingListener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := &countingListener{ln: ln}
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			c.accepts.Add(1)
			conn.Close()
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return c
}

func (c *countingListener) port() string {
	return fmt.Sprint(c.ln.Addr().(*net.TCPAddr).Port)
}

// fakeDNS is a minimal DNS server on a loopback UDP port that answers A
// and AAAA queries from a fixed table, so a test can own names that
// resolve to private addresses without touching the system resolver.
func fakeDNS(t *testing.T, names map[string]netip.Addr) *net.Resolver {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if resp := dnsAnswer(buf[:n], names); resp != nil {
				pc.WriteTo(resp, from)
			}
		}
	}()
	addr := pc.LocalAddr().String()
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp", addr)
	}}
}

func dnsAnswer(q []byte, names map[string]netip.Addr) []byte {
	if len(q) < 12 {
		return nil
	}
	// The question's name: length-prefixed labels up to a zero byte.
	i, labels := 12, []string{}
	for i < len(q) && q[i] != 0 {
		l := int(q[i])
		if i+1+l > len(q) {
			return nil
		}
		labels = append(labels, string(q[i+1:i+1+l]))
		i += 1 + l
	}
	if i+5 > len(q) {
		return nil
	}
	qend := i + 5 // the zero byte, QTYPE, QCLASS
	qtype := binary.BigEndian.Uint16(q[i+1:])
	addr, found := names[strings.ToLower(strings.Join(labels, "."))]
	var rdata []byte
	switch {
	case found && qtype == 1 && addr.Is4():
		a := addr.As4()
		rdata = a[:]
	case found && qtype == 28 && addr.Is6():
		a := addr.As16()
		rdata = a[:]
	}
	resp := make([]byte, 0, 512)
	resp = append(resp, q[0], q[1], 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0)
	if !found {
		resp[3] = 0x83 // NXDOMAIN
	}
	resp = append(resp, q[12:qend]...)
	if rdata != nil {
		resp[7] = 1
		resp = append(resp, 0xc0, 0x0c)
		resp = binary.BigEndian.AppendUint16(resp, qtype)
		resp = append(resp, 0, 1, 0, 0, 0, 60)
		resp = binary.BigEndian.AppendUint16(resp, uint16(len(rdata)))
		resp = append(resp, rdata...)
	}
	return resp
}

// TestGuardRefusesHostileTargets sends one delivery to each hostile
// target and checks that every one fails permanently with the guard's
// error, while a loopback listener — where most of them point — counts no
// connection, and a tripwire behind the guard sees no dial at all.
func TestGuardRefusesHostileTargets(t *testing.T) {
	t.Parallel()
	ln := newCountingListener(t)
	p := ln.port()

	// The redirecting receiver is the one address the guard lets through:
	// its 302 points at the listener, and must not be followed.
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://127.0.0.1:"+p+"/", http.StatusFound)
	}))
	t.Cleanup(redirector.Close)
	exempt := netip.MustParseAddrPort(redirector.Listener.Addr().String())

	var tripped atomic.Int64
	g := &Guard{
		Resolver: fakeDNS(t, map[string]netip.Addr{
			"loopback.example.test":   netip.MustParseAddr("127.0.0.1"),
			"private.example.test":    netip.MustParseAddr("10.1.2.3"),
			"metadata.example.test":   netip.MustParseAddr("169.254.169.254"),
			"mapped.example.test":     netip.MustParseAddr("::ffff:127.0.0.1"),
			"ula.example.test":        netip.MustParseAddr("fd00::1"),
			"redirector.example.test": netip.MustParseAddr("127.0.0.1"),
		}),
		exempt: func(ap netip.AddrPort) bool { return ap == exempt },
		afterCheck: func(ap netip.AddrPort) error {
			tripped.Add(1)
			return fmt.Errorf("tripwire: the guard let %s through", ap)
		},
	}
	s := NewHTTPSender(HTTPConfig{Guard: g, ConnectTimeout: time.Second, RequestTimeout: 2 * time.Second})

	targets := []string{
		"http://127.0.0.1:" + p + "/",
		"http://127.0.0.2:" + p + "/",
		"http://127.1:" + p + "/",
		"http://2130706433:" + p + "/",
		"http://0x7f.1:" + p + "/",
		"http://0x7f000001:" + p + "/",
		"http://0177.0.0.1:" + p + "/",
		"http://017700000001:" + p + "/",
		"http://127.0.0.1.:" + p + "/",
		"http://0:" + p + "/",
		"http://0.0.0.0:" + p + "/",
		"http://[::]:" + p + "/",
		"http://[::1]:" + p + "/",
		"http://[::ffff:127.0.0.1]:" + p + "/",
		"http://[::ffff:7f00:1]:" + p + "/",
		"http://[0:0:0:0:0:ffff:127.0.0.1]:" + p + "/",
		"http://[::127.0.0.1]:" + p + "/",
		"http://localhost:" + p + "/",
		"http://LOCALHOST:" + p + "/",
		"http://user:pass@127.0.0.1:" + p + "/",
		"https://127.0.0.1:" + p + "/",
		"http://loopback.example.test:" + p + "/",
		"http://mapped.example.test:" + p + "/",
		"http://private.example.test/",
		"http://metadata.example.test/latest/meta-data/",
		"http://ula.example.test/",
		"http://169.254.169.254/latest/meta-data/",
		"http://[::ffff:a9fe:a9fe]/",
		"http://[::ffff:169.254.169.254]/",
		"http://2852039166/",
		"http://10.0.0.1/",
		"http://172.16.0.1/",
		"http://172.31.255.254/",
		"http://192.168.1.1/",
		"http://100.64.0.1/",
		"http://100.127.255.254/",
		"http://[fc00::1]/",
		"http://[fd12:3456::1]/",
		"http://[fe80::1]/",
		"http://[fe80::1%25eth0]/",
		"http://[64:ff9b::7f00:1]/",
		"http://[64:ff9b::a9fe:a9fe]/",
		"http://[2002:7f00:1::1]/",
		"http://[2001:0:7f00:1::1]/",
		"http://224.0.0.1/",
		"http://255.255.255.255/",
		"http://[ff02::1]/",
		"ftp://127.0.0.1:" + p + "/",
		"file:///etc/passwd",
		"gopher://127.0.0.1:" + p + "/",
		"//127.0.0.1:" + p + "/",
	}
	for _, target := range targets {
		t.Run(target, func(t *testing.T) {
			t.Parallel()
			res := s.Send(context.Background(), Request{ID: "d1", URL: target, Body: []byte(`{}`), Keys: Keys{Current: "s"}}, time.Now())
			if res.Outcome != Permanent {
				t.Errorf("outcome %v (%s), want permanent", res.Outcome, res.Err)
			}
			if !strings.Contains(res.Err, "refused to connect") {
				t.Errorf("error %q does not say the target was refused", res.Err)
			}
		})
	}
	t.Run("a redirect to a private address", func(t *testing.T) {
		t.Parallel()
		redirectorURL := "http://redirector.example.test:" + fmt.Sprint(exempt.Port()) + "/"
		res := s.Send(context.Background(), Request{ID: "d1", URL: redirectorURL, Body: []byte(`{}`), Keys: Keys{Current: "s"}}, time.Now())
		if res.Outcome != Permanent || res.Status != http.StatusFound || !strings.Contains(res.Err, "not followed") {
			t.Errorf("got %+v, want a permanent failure for the unfollowed 302", res)
		}
	})
	t.Cleanup(func() {
		if n := ln.accepts.Load(); n != 0 {
			t.Errorf("the loopback listener accepted %d connections", n)
		}
		if n := tripped.Load(); n != 0 {
			t.Errorf("the guard let %d dials through", n)
		}
	})
	if len(targets) < 30 {
		t.Fatalf("only %d hostile targets", len(targets))
	}
}

// TestGuardAllowPrivate: --allow-private-targets reaches the same
// loopback receiver by address, by name and in the mapped form.
func TestGuardAllowPrivate(t *testing.T) {
	t.Parallel()
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	port := srv.Listener.Addr().(*net.TCPAddr).Port
	s := NewHTTPSender(HTTPConfig{Guard: &Guard{AllowPrivate: true}})
	targets := []string{
		fmt.Sprintf("http://127.0.0.1:%d/", port),
		fmt.Sprintf("http://localhost:%d/", port),
		fmt.Sprintf("http://[::ffff:127.0.0.1]:%d/", port),
	}
	for _, target := range targets {
		res := s.Send(context.Background(), Request{ID: "d1", URL: target, Body: []byte(`{}`), Keys: Keys{Current: "s"}}, time.Now())
		if res.Outcome != Succeeded {
			t.Errorf("%s: %+v, want success", target, res)
		}
	}
	if got := hits.Load(); got != int64(len(targets)) {
		t.Errorf("receiver reached %d times, want %d", got, len(targets))
	}
	// Legacy encodings stay refused: they are ambiguous, not private.
	res := s.Send(context.Background(), Request{ID: "d1", URL: fmt.Sprintf("http://0x7f.1:%d/", port), Body: []byte(`{}`), Keys: Keys{Current: "s"}}, time.Now())
	if res.Outcome != Permanent || !errors.Is(s.cfg.Guard.CheckURL(mustURL(t, "http://0x7f.1/")), ErrRefused) {
		t.Errorf("legacy encoding with AllowPrivate: %+v", res)
	}
}

// TestGuardIgnoresEnvironmentProxy: HTTP_PROXY would make the dial-time
// check see the proxy instead of the target, so it is never used.
func TestGuardIgnoresEnvironmentProxy(t *testing.T) {
	proxy := newCountingListener(t)
	t.Setenv("HTTP_PROXY", "http://127.0.0.1:"+proxy.port())
	t.Setenv("http_proxy", "http://127.0.0.1:"+proxy.port())
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	t.Cleanup(srv.Close)
	// A name, since Go never proxies a bare loopback address anyway.
	url := strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)
	s := NewHTTPSender(HTTPConfig{Guard: &Guard{AllowPrivate: true}})
	res := s.Send(context.Background(), Request{ID: "d1", URL: url, Body: []byte(`{}`), Keys: Keys{Current: "s"}}, time.Now())
	if res.Outcome != Succeeded || hits.Load() != 1 || proxy.accepts.Load() != 0 {
		t.Errorf("result %+v, receiver %d, proxy %d: want the receiver reached directly", res, hits.Load(), proxy.accepts.Load())
	}
}

func TestBlockedReason(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		addr    string
		blocked bool
	}{
		{"8.8.8.8", false},
		{"1.1.1.1", false},
		{"2606:4700:4700::1111", false},
		{"::ffff:8.8.8.8", false},
		{"100.63.255.255", false},
		{"100.128.0.0", false},
		{"172.15.255.255", false},
		{"172.32.0.0", false},
		{"127.255.255.255", true},
		{"::ffff:10.0.0.1", true},
		{"::ffff:100.64.0.1", true},
		{"::ffff:192.168.0.1", true},
		{"::8.8.8.8", true}, // IPv4-compatible: deprecated, refused whole
		{"64:ff9b::808:808", true},
		{"2002:808:808::1", true},
		{"2001:0:4136:e378::1", true},
		{"fe80::1%eth0", true},
	} {
		if got := BlockedReason(netip.MustParseAddr(tt.addr)) != ""; got != tt.blocked {
			t.Errorf("BlockedReason(%s) blocked = %v, want %v", tt.addr, got, tt.blocked)
		}
	}
}

func TestLegacyIPv4(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		host string
		want string // "" is not an IPv4 literal
	}{
		{"2130706433", "127.0.0.1"},
		{"0x7f.1", "127.0.0.1"},
		{"0x7f.0.0.1", "127.0.0.1"},
		{"127.1", "127.0.0.1"},
		{"127.0.1", "127.0.0.1"},
		{"0177.0.0.1", "127.0.0.1"},
		{"017700000001", "127.0.0.1"},
		{"0", "0.0.0.0"},
		{"2852039166", "169.254.169.254"},
		{"4294967295", "255.255.255.255"},
		{"4294967296", ""},
		{"256.1", ""},
		{"1.2.3.4.5", ""},
		{"example.com", ""},
		{"1e100.net", ""},
		{"0x", "0.0.0.0"},
		{"08.1", ""}, // 8 is not an octal digit
		{"", ""},
	} {
		got, ok := legacyIPv4(tt.host)
		if (tt.want == "") == ok || (ok && got.String() != tt.want) {
			t.Errorf("legacyIPv4(%q) = %v, %v; want %q", tt.host, got, ok, tt.want)
		}
	}
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestTransportHasNoProxy(t *testing.T) {
	t.Parallel()
	if (&Guard{}).Transport(time.Second).Proxy != nil {
		t.Fatal("the guarded transport uses a proxy")
	}
}

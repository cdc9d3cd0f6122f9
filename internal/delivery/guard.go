package delivery

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ErrRefused is the cause of every attempt the SSRF guard stopped; test
// for it with errors.Is. The error itself is a *RefusedError naming the
// target and why.
var ErrRefused = errors.New("delivery: target refused")

// RefusedError says which target the guard refused and why. It is a
// permanent failure: the same URL would be refused again.
type RefusedError struct {
	Target string // the URL, host or address refused
	Reason string
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("delivery: refused to connect to %s: %s (private targets are allowed only with --allow-private-targets)", e.Target, e.Reason)
}

// Is makes errors.Is(err, ErrRefused) true.
func (e *RefusedError) Is(target error) bool { return target == ErrRefused }

// blockedRange is a range no outbound request may reach, with the name a
// log reader will recognise.
type blockedRange struct {
	prefix netip.Prefix
	reason string
}

// blocked lists every range that is not the public internet. IPv4-mapped
// IPv6 (::ffff:a.b.c.d) is unmapped before this list is read, so each IPv4
// range covers its mapped form too; the IPv4-compatible form (::a.b.c.d),
// deprecated since RFC 4291, is refused whole.
var blocked = func() []blockedRange {
	var out []blockedRange
	for _, r := range []struct{ cidr, reason string }{
		{"0.0.0.0/8", "unspecified address (\"this network\")"},
		{"10.0.0.0/8", "private network (RFC 1918)"},
		{"100.64.0.0/10", "carrier-grade NAT (RFC 6598)"},
		{"127.0.0.0/8", "loopback"},
		{"169.254.0.0/16", "link-local (incl. cloud metadata 169.254.169.254)"},
		{"172.16.0.0/12", "private network (RFC 1918)"},
		{"192.0.0.0/24", "IETF protocol assignments (RFC 6890)"},
		{"192.0.2.0/24", "documentation range (RFC 5737)"},
		{"192.88.99.0/24", "6to4 relay anycast (RFC 7526)"},
		{"192.168.0.0/16", "private network (RFC 1918)"},
		{"198.18.0.0/15", "benchmarking range (RFC 2544)"},
		{"198.51.100.0/24", "documentation range (RFC 5737)"},
		{"203.0.113.0/24", "documentation range (RFC 5737)"},
		{"224.0.0.0/4", "multicast"},
		{"240.0.0.0/4", "reserved (incl. broadcast 255.255.255.255)"},
		{"::/96", "unspecified, loopback or IPv4-compatible IPv6"},
		{"64:ff9b::/96", "NAT64 (RFC 6052)"},
		{"64:ff9b:1::/48", "local-use NAT64 (RFC 8215)"},
		{"100::/64", "discard-only (RFC 6666)"},
		{"2001::/32", "Teredo (RFC 4380)"},
		{"2001:db8::/32", "documentation range (RFC 3849)"},
		{"2002::/16", "6to4 (RFC 3056)"},
		{"fc00::/7", "unique local address (RFC 4193)"},
		{"fe80::/10", "link-local"},
		{"fec0::/10", "site-local (deprecated)"},
		{"ff00::/8", "multicast"},
	} {
		out = append(out, blockedRange{netip.MustParsePrefix(r.cidr), r.reason})
	}
	return out
}()

// BlockedReason tells why addr is not a public internet address, or ""
// when it is one.
func BlockedReason(addr netip.Addr) string {
	if addr.Zone() != "" {
		return "scoped IPv6 address"
	}
	addr = addr.Unmap()
	for _, r := range blocked {
		if r.prefix.Contains(addr) {
			return r.reason
		}
	}
	return ""
}

// Guard keeps outbound requests off private networks (server-side request
// forgery). The decisive check runs at dial time on the address the
// connection is about to use (a net.Dialer Control hook, as Gitea's
// hostmatcher does), so a name that resolves to a private address, or
// re-resolves to one between a check and the connect (DNS rebinding), is
// refused before any packet is sent. CheckURL adds the checks that need
// the URL: the scheme, and IPv4 literals in legacy encodings
// ("2130706433", "0x7f.1", "127.1", "0177.0.0.1") that different resolvers
// read differently.
//
// The zero Guard refuses private targets. It is safe for concurrent use.
type Guard struct {
	// AllowPrivate turns the address checks off (--allow-private-targets),
	// for local development and tests. Schemes and legacy encodings are
	// still checked.
	AllowPrivate bool

	// Resolver resolves host names for the dialer; nil is the system's.
	// Whatever it answers, the address dialled is checked.
	Resolver *net.Resolver

	// exempt, when set, lets the addresses it accepts through unchecked:
	// tests use it for the one loopback receiver that must be reachable.
	exempt func(netip.AddrPort) bool

	// afterCheck, when set, is called for every address the guard lets
	// through, just before the connect. Tests use it as a tripwire so that
	// a broken guard can never send a packet to a private network.
	afterCheck func(netip.AddrPort) error
}

// CheckURL refuses a URL that is not http or https, has no host, or names
// its host as a legacy-encoded IPv4 literal; with private targets refused,
// it also refuses an IP literal host in a blocked range (a host name is
// checked when it is dialled).
func (g *Guard) CheckURL(u *url.URL) error {
	if u.Scheme != "http" && u.Scheme != "https" {
		return &RefusedError{Target: u.Redacted(), Reason: fmt.Sprintf("scheme %q is not http or https", u.Scheme)}
	}
	host := u.Hostname()
	if host == "" {
		return &RefusedError{Target: u.Redacted(), Reason: "no host"}
	}
	if addr, err := netip.ParseAddr(host); err == nil {
		if g.AllowPrivate {
			return nil
		}
		if reason := BlockedReason(addr); reason != "" {
			return &RefusedError{Target: u.Redacted(), Reason: reason}
		}
		return nil
	}
	if addr, ok := legacyIPv4(host); ok {
		return &RefusedError{Target: u.Redacted(), Reason: fmt.Sprintf("host %q is an IPv4 address in a legacy encoding (%s); write it in dotted decimal", host, addr)}
	}
	return nil
}

// Control is the net.Dialer Control hook: it runs after the name was
// resolved and before the connect, once for every address tried.
func (g *Guard) Control(network, address string, _ syscall.RawConn) error {
	if network != "tcp4" && network != "tcp6" {
		return &RefusedError{Target: address, Reason: fmt.Sprintf("network %q is not TCP", network)}
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return &RefusedError{Target: address, Reason: "not an IP address and port"}
	}
	if g.exempt != nil && g.exempt(ap) {
		return nil
	}
	if !g.AllowPrivate {
		if reason := BlockedReason(ap.Addr()); reason != "" {
			return &RefusedError{Target: address, Reason: reason}
		}
	}
	if g.afterCheck != nil {
		return g.afterCheck(ap)
	}
	return nil
}

// Dialer returns a dialer whose every connection passes Control.
func (g *Guard) Dialer(connectTimeout time.Duration) *net.Dialer {
	return &net.Dialer{Timeout: connectTimeout, KeepAlive: 30 * time.Second, Control: g.Control, Resolver: g.Resolver}
}

// Transport returns an HTTP transport that dials only through the guard
// and ignores HTTP(S)_PROXY from the environment: a proxy would make the
// dial-time check see the proxy's address instead of the target's.
func (g *Guard) Transport(connectTimeout time.Duration) *http.Transport {
	d := g.Dialer(connectTimeout)
	return &http.Transport{
		Proxy: nil,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return d.DialContext(ctx, network, addr)
		},
		ForceAttemptHTTP2:     true,
		TLSHandshakeTimeout:   connectTimeout,
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   16,
		IdleConnTimeout:       90 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
}

// legacyIPv4 reads host the way inet_aton(3) does — one to four parts,
// each decimal, octal (leading 0) or hex (0x), the last filling the
// remaining bytes — and reports whether that made an IPv4 address. Such
// a host must not be handed to a resolver: glibc connects "0x7f.1" to
// 127.0.0.1 while Go's own resolver looks it up as a name.
func legacyIPv4(host string) (netip.Addr, bool) {
	host = strings.TrimSuffix(host, ".")
	parts := strings.Split(host, ".")
	if len(parts) == 0 || len(parts) > 4 {
		return netip.Addr{}, false
	}
	vals := make([]uint64, len(parts))
	for i, p := range parts {
		if p == "" {
			return netip.Addr{}, false
		}
		base := 10
		switch {
		case len(p) > 1 && (p[:2] == "0x" || p[:2] == "0X"):
			base, p = 16, p[2:]
			if p == "" {
				p = "0"
			}
		case len(p) > 1 && p[0] == '0':
			base, p = 8, p[1:]
		}
		v, err := strconv.ParseUint(p, base, 32)
		if err != nil {
			return netip.Addr{}, false
		}
		vals[i] = v
	}
	var n uint64
	for i, v := range vals[:len(vals)-1] {
		if v > 0xff {
			return netip.Addr{}, false
		}
		n |= v << (8 * (3 - i))
	}
	last := vals[len(vals)-1]
	if last >= 1<<(8*(4-len(vals)+1)) {
		return netip.Addr{}, false
	}
	n |= last
	return netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}), true
}

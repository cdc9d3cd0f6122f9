package delivery

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// mailServer is an in-process SMTP server (emersion/go-smtp) that keeps
// every message it accepts.
type mailServer struct {
	addr   *net.TCPAddr
	mu     sync.Mutex
	mails  []receivedMail
	rcptFn func(to string) error // nil accepts every recipient
	user   string                // "" needs no authentication
	pass   string
}

type receivedMail struct {
	from, to string
	authed   bool
	tls      bool
	raw      []byte
}

type mailSession struct {
	srv    *mailServer
	conn   *smtp.Conn
	cur    receivedMail
	authed bool
}

func (m *mailServer) NewSession(c *smtp.Conn) (smtp.Session, error) {
	return &mailSession{srv: m, conn: c}, nil
}

func (s *mailSession) AuthMechanisms() []string { return []string{sasl.Plain} }
func (s *mailSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != s.srv.user || pass != s.srv.pass {
			return &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "bad credentials"}
		}
		s.authed = true
		return nil
	}), nil
}
func (s *mailSession) Mail(from string, _ *smtp.MailOptions) error {
	if s.srv.user != "" && !s.authed {
		return smtp.ErrAuthRequired
	}
	s.cur = receivedMail{from: from, authed: s.authed}
	_, s.cur.tls = s.conn.TLSConnectionState()
	return nil
}
func (s *mailSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	if s.srv.rcptFn != nil {
		if err := s.srv.rcptFn(to); err != nil {
			return err
		}
	}
	s.cur.to = to
	return nil
}
func (s *mailSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.cur.raw = b
	s.srv.mu.Lock()
	s.srv.mails = append(s.srv.mails, s.cur)
	s.srv.mu.Unlock()
	return nil
}
func (s *mailSession) Reset()        {}
func (s *mailSession) Logout() error { return nil }

func (m *mailServer) received() []receivedMail {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]receivedMail(nil), m.mails...)
}

// startMailServer serves SMTP on a loopback port in the given TLS mode.
func startMailServer(t *testing.T, mode string, cert tls.Certificate, m *mailServer) {
	t.Helper()
	srv := smtp.NewServer(m)
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = true
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	var ln net.Listener
	var err error
	switch mode {
	case TLSImplicit:
		ln, err = tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	default:
		if mode == TLSStartTLS {
			srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
		}
		ln, err = net.Listen("tcp", "127.0.0.1:0")
	}
	if err != nil {
		t.Fatal(err)
	}
	m.addr = ln.Addr().(*net.TCPAddr)
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
}

// testCert is a self-signed certificate for 127.0.0.1 and the pool that
// trusts it.
func testCert(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "switchboard test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:     []string{"localhost"},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

func TestSMTPAutoReply(t *testing.T) {
	t.Parallel()
	cert, roots := testCert(t)
	payload := []byte(`{
		"message": {"from_email": "Ana <ana@customer.example>", "subject": "Order 42",
			"headers": {"message-id": "<m1@customer.example>", "REFERENCES": "<m0@customer.example>"}},
		"contact": {"email": "ana@customer.example", "name": "Ana"}}`)
	in := ParseInbound(payload)
	for _, mode := range []string{TLSNone, TLSStartTLS, TLSImplicit} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			ms := &mailServer{user: "bot", pass: "hunter2"}
			startMailServer(t, mode, cert, ms)
			settings := SMTPSettings{Host: "127.0.0.1", Port: ms.addr.Port, Username: "bot", Password: "hunter2",
				From: "Support <support@acme.example>", TLS: mode}
			sender := &SMTPSender{Timeout: 5 * time.Second, TLSConfig: &tls.Config{RootCAs: roots}}
			m := ReplyMail(in, "", "Hi Ana, we got it — thanks!")
			if res := sender.Send(context.Background(), settings, m, testNow); res.Outcome != Succeeded {
				t.Fatalf("send: %+v", res)
			}
			got := ms.received()
			if len(got) != 1 {
				t.Fatalf("%d mails received", len(got))
			}
			r := got[0]
			if r.from != "support@acme.example" || r.to != "ana@customer.example" || !r.authed {
				t.Errorf("envelope %q → %q (authenticated %v)", r.from, r.to, r.authed)
			}
			if want := mode != TLSNone; r.tls != want {
				t.Errorf("TLS %v, want %v", r.tls, want)
			}
			msg, err := mail.ReadMessage(strings.NewReader(string(r.raw)))
			if err != nil {
				t.Fatal(err)
			}
			for name, want := range map[string]string{
				"Auto-Submitted": "auto-replied",
				"In-Reply-To":    "<m1@customer.example>",
				"References":     "<m0@customer.example> <m1@customer.example>",
				"Subject":        "Re: Order 42",
			} {
				if got := msg.Header.Get(name); got != want {
					t.Errorf("%s: %q, want %q", name, got, want)
				}
			}
			if d, err := msg.Header.Date(); err != nil || !d.Equal(testNow) {
				t.Errorf("Date %v (%v), want %v", d, err, testNow)
			}
			body, _ := io.ReadAll(msg.Body)
			if strings.EqualFold(msg.Header.Get("Content-Transfer-Encoding"), "quoted-printable") {
				body, _ = io.ReadAll(quotedprintable.NewReader(strings.NewReader(string(body))))
			}
			if got := strings.TrimSpace(string(body)); got != "Hi Ana, we got it — thanks!" {
				t.Errorf("body %q", got)
			}
		})
	}
}

func TestSMTPFailures(t *testing.T) {
	t.Parallel()
	cert, roots := testCert(t)
	ms := &mailServer{user: "bot", pass: "hunter2", rcptFn: func(to string) error {
		switch {
		case strings.HasPrefix(to, "gone@"):
			return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
		case strings.HasPrefix(to, "busy@"):
			return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try later"}
		}
		return nil
	}}
	startMailServer(t, TLSNone, cert, ms)
	base := SMTPSettings{Host: "127.0.0.1", Port: ms.addr.Port, Username: "bot", Password: "hunter2", From: "support@acme.example", TLS: TLSNone}
	sender := &SMTPSender{Timeout: 5 * time.Second, TLSConfig: &tls.Config{RootCAs: roots}}

	closedPort := func() int {
		ln, _ := net.Listen("tcp", "127.0.0.1:0")
		p := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		return p
	}()
	tests := []struct {
		name string
		edit func(*SMTPSettings)
		to   string
		want Outcome
	}{
		{"unknown recipient", nil, "gone@customer.example", Permanent},
		{"greylisted", nil, "busy@customer.example", Retryable},
		{"wrong password", func(s *SMTPSettings) { s.Password = "nope" }, "ana@customer.example", Permanent},
		{"server down", func(s *SMTPSettings) { s.Port = closedPort }, "ana@customer.example", Retryable},
		{"starttls not offered", func(s *SMTPSettings) { s.TLS = TLSStartTLS }, "ana@customer.example", Retryable},
		{"bad recipient", nil, "not an address", Permanent},
		{"unknown tls mode", func(s *SMTPSettings) { s.TLS = "ssl3" }, "ana@customer.example", Permanent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := base
			if tt.edit != nil {
				tt.edit(&s)
			}
			res := sender.Send(context.Background(), s, Mail{To: tt.to, Subject: "Re: hi", Body: "hello"}, testNow)
			if res.Outcome != tt.want || res.Err == "" {
				t.Errorf("%+v, want %v with an error", res, tt.want)
			}
		})
	}
	if n := len(ms.received()); n != 0 {
		t.Errorf("%d mails accepted", n)
	}
}

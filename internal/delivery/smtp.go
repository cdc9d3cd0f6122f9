package delivery

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/textproto"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// SMTPSettings are a workspace's SMTP settings (docs/concepts.md#workspaces-members-tokens-and-roles).
type SMTPSettings struct {
	Host     string
	Port     int
	Username string // "" is no authentication
	Password string
	From     string
	TLS      string // "none", "starttls" or "tls"
}

// SMTP TLS modes.
const (
	TLSNone     = "none"
	TLSStartTLS = "starttls"
	TLSImplicit = "tls"
)

// SMTPSender sends auto-replies. The zero value is ready to use.
type SMTPSender struct {
	// Timeout bounds connecting and each command; 0 is 15 s, the same
	// budget as an HTTP delivery.
	Timeout time.Duration
	// TLSConfig is the base TLS configuration (tests add their own root
	// CA); nil is the system's roots. ServerName is always the host's.
	TLSConfig *tls.Config
}

// Send makes one attempt at sending m through s. now dates the message.
// A 5xx reply from the server is permanent; 4xx replies and network
// errors are worth another try.
func (sd *SMTPSender) Send(ctx context.Context, s SMTPSettings, m Mail, now time.Time) Result {
	msg := gomail.NewMsg()
	if err := msg.From(s.From); err != nil {
		return Result{Outcome: Permanent, Err: fmt.Sprintf("smtp: invalid from address %q: %v", s.From, err)}
	}
	if err := msg.To(m.To); err != nil {
		return Result{Outcome: Permanent, Err: fmt.Sprintf("smtp: invalid recipient %q: %v", m.To, err)}
	}
	msg.Subject(oneLine(m.Subject))
	msg.SetDateWithValue(now)
	msg.SetMessageID()
	// RFC 3834 §5: mark the reply as automatic, so that other responders
	// do not answer it and mail loops stop here.
	msg.SetGenHeaderPreformatted(gomail.Header("Auto-Submitted"), "auto-replied")
	if m.InReplyTo != "" {
		msg.SetGenHeaderPreformatted(gomail.HeaderInReplyTo, oneLine(m.InReplyTo))
	}
	if len(m.References) > 0 {
		msg.SetGenHeaderPreformatted(gomail.HeaderReferences, oneLine(strings.Join(m.References, " ")))
	}
	msg.SetBodyString(gomail.TypeTextPlain, m.Body)

	timeout := sd.timeout()
	tlsConf := &tls.Config{MinVersion: tls.VersionTLS12}
	if sd.TLSConfig != nil {
		tlsConf = sd.TLSConfig.Clone()
	}
	tlsConf.ServerName = s.Host
	opts := []gomail.Option{gomail.WithPort(s.Port), gomail.WithTimeout(timeout), gomail.WithTLSConfig(tlsConf)}
	switch s.TLS {
	case TLSNone:
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	case TLSStartTLS:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	case TLSImplicit:
		opts = append(opts, gomail.WithSSL())
	default:
		return Result{Outcome: Permanent, Err: fmt.Sprintf("smtp: unknown tls mode %q", s.TLS)}
	}
	if s.Username != "" {
		// Over TLS the strongest mechanism the server offers; with tls
		// "none" the admin chose a plain connection (a relay on their own
		// network), so PLAIN is sent over it as configured.
		auth := gomail.SMTPAuthAutoDiscover
		if s.TLS == TLSNone {
			auth = gomail.SMTPAuthPlainNoEnc
		}
		opts = append(opts, gomail.WithSMTPAuth(auth),
			gomail.WithUsername(s.Username), gomail.WithPassword(s.Password))
	}
	client, err := gomail.NewClient(s.Host, opts...)
	if err != nil {
		return Result{Outcome: Permanent, Err: fmt.Sprintf("smtp: %v", err)}
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := client.DialAndSendWithContext(ctx, msg); err != nil {
		return Result{Outcome: smtpOutcome(err), Err: clip("smtp: " + err.Error())}
	}
	return Result{Outcome: Succeeded}
}

func (sd *SMTPSender) timeout() time.Duration {
	if sd.Timeout <= 0 {
		return DefaultRequestTimeout
	}
	return sd.Timeout
}

// smtpOutcome is permanent for a 5xx reply (the server said no for
// good: unknown user, rejected content, failed authentication) and
// retryable otherwise.
func smtpOutcome(err error) Outcome {
	var se *gomail.SendError
	if errors.As(err, &se) {
		if code := se.ErrorCode(); code >= 500 && code < 600 {
			return Permanent
		}
		if se.IsTemp() || se.ErrorCode() >= 400 {
			return Retryable
		}
	}
	// Failures before MAIL FROM (authentication, STARTTLS) come as the
	// server's raw reply.
	var te *textproto.Error
	if errors.As(err, &te) && te.Code >= 500 && te.Code < 600 {
		return Permanent
	}
	return Retryable
}

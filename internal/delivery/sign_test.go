package delivery

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// verifyStandardWebhook is an independent receiver-side check of the
// Standard Webhooks scheme, written from the specification and not from
// sign.go: it accepts the request when any "v1," signature in the header
// matches the HMAC of "{id}.{timestamp}.{body}" under the receiver's
// secret, and the timestamp is within tolerance of now.
func verifyStandardWebhook(h http.Header, body []byte, secret string, now time.Time, tolerance time.Duration) error {
	id, ts, sigs := h.Get("Webhook-Id"), h.Get("Webhook-Timestamp"), h.Get("Webhook-Signature")
	if id == "" || ts == "" || sigs == "" {
		return errors.New("missing headers")
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("bad timestamp %q", ts)
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return errors.New("timestamp outside tolerance")
	}
	key := []byte(secret)
	if strings.HasPrefix(secret, "whsec_") {
		if key, err = base64.StdEncoding.DecodeString(secret[len("whsec_"):]); err != nil {
			return err
		}
	}
	mac := hmac.New(sha256.New, key)
	fmt.Fprintf(mac, "%s.%s.%s", id, ts, body)
	want := mac.Sum(nil)
	for _, s := range strings.Fields(sigs) {
		version, b64, ok := strings.Cut(s, ",")
		if !ok || version != "v1" {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(b64)
		if err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	return errors.New("no matching signature")
}

// The example from the Standard Webhooks specification's test suite.
func TestSignatureKnownVector(t *testing.T) {
	t.Parallel()
	got := Signature("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, []byte(`{"test": 2432232314}`),
		[]string{"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"})
	if want := "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="; got != want {
		t.Fatalf("Signature = %q, want %q", got, want)
	}
}

func TestSignVerifiesIndependently(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	oldSecret := "whsec_" + base64.StdEncoding.EncodeToString([]byte("the old secret, 32 bytes long!!!"))
	newSecret := "whsec_" + base64.StdEncoding.EncodeToString([]byte("the new secret, 32 bytes long!!!"))
	plain := "a plain secret without the prefix"
	body := []byte(`{"id":"d1","type":"automation.action"}`)

	tests := []struct {
		name    string
		keys    Keys
		at      time.Time
		accepts []string // secrets a receiver may hold and still verify
		rejects []string
		nSigs   int
	}{
		{"one secret", Keys{Current: newSecret}, now, []string{newSecret}, []string{oldSecret, plain}, 1},
		{"plain secret is its own bytes", Keys{Current: plain}, now, []string{plain}, []string{newSecret}, 1},
		{"rotation: both valid", Keys{Current: newSecret, Previous: oldSecret, PreviousUntil: now.Add(24 * time.Hour)}, now,
			[]string{newSecret, oldSecret}, []string{plain}, 2},
		{"rotation: last second of grace", Keys{Current: newSecret, Previous: oldSecret, PreviousUntil: now.Add(24 * time.Hour)}, now.Add(24*time.Hour - time.Second),
			[]string{newSecret, oldSecret}, nil, 2},
		{"rotation: grace over", Keys{Current: newSecret, Previous: oldSecret, PreviousUntil: now.Add(24 * time.Hour)}, now.Add(24 * time.Hour),
			[]string{newSecret}, []string{oldSecret}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := http.Header{}
			Sign(h, "d1", tt.at, body, tt.keys)
			if got := h.Get(HeaderID); got != "d1" {
				t.Errorf("webhook-id = %q", got)
			}
			if got, want := h.Get(HeaderTimestamp), strconv.FormatInt(tt.at.Unix(), 10); got != want {
				t.Errorf("webhook-timestamp = %q, want %q", got, want)
			}
			if n := len(strings.Fields(h.Get(HeaderSignature))); n != tt.nSigs {
				t.Errorf("%d signatures in %q, want %d", n, h.Get(HeaderSignature), tt.nSigs)
			}
			for _, s := range tt.accepts {
				if err := verifyStandardWebhook(h, body, s, tt.at, 5*time.Minute); err != nil {
					t.Errorf("receiver with %q: %v", s, err)
				}
			}
			for _, s := range tt.rejects {
				if err := verifyStandardWebhook(h, body, s, tt.at, 5*time.Minute); err == nil {
					t.Errorf("receiver with %q verified a message it should not", s)
				}
			}
			// A tampered body never verifies.
			if err := verifyStandardWebhook(h, append([]byte{' '}, body...), tt.keys.Current, tt.at, 5*time.Minute); err == nil {
				t.Error("a tampered body verified")
			}
		})
	}
}

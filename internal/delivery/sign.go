package delivery

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Standard Webhooks header names (https://www.standardwebhooks.com).
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// secretPrefix marks a secret whose key is its base64-decoded remainder.
const secretPrefix = "whsec_"

// Keys are a workspace's signing secrets. After a rotation the previous
// secret stays valid until PreviousUntil, so receivers that have not yet
// switched keep verifying: during that window every delivery carries two
// signatures.
type Keys struct {
	Current       string
	Previous      string    // "" when there is none
	PreviousUntil time.Time // the previous secret signs while now is before it
}

// At returns the secrets that sign a request sent at now, current first.
func (k Keys) At(now time.Time) []string {
	if k.Previous != "" && now.Before(k.PreviousUntil) {
		return []string{k.Current, k.Previous}
	}
	return []string{k.Current}
}

// secretKey is the HMAC key of a secret: the base64-decoded bytes after
// "whsec_" (the Standard Webhooks convention), else the secret's own UTF-8
// bytes, so a secret pasted from elsewhere still works.
func secretKey(secret string) []byte {
	if rest, ok := strings.CutPrefix(secret, secretPrefix); ok {
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
			if key, err := enc.DecodeString(rest); err == nil {
				return key
			}
		}
	}
	return []byte(secret)
}

// Signature returns the webhook-signature value for one message: one
// "v1,<base64 HMAC-SHA256 of id.timestamp.body>" per secret, separated by
// spaces.
func Signature(id string, timestamp int64, body []byte, secrets []string) string {
	ts := strconv.FormatInt(timestamp, 10)
	var b strings.Builder
	for i, s := range secrets {
		mac := hmac.New(sha256.New, secretKey(s))
		mac.Write([]byte(id))
		mac.Write([]byte{'.'})
		mac.Write([]byte(ts))
		mac.Write([]byte{'.'})
		mac.Write(body)
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString("v1,")
		b.WriteString(base64.StdEncoding.EncodeToString(mac.Sum(nil)))
	}
	return b.String()
}

// Sign sets the three Standard Webhooks headers on h for a message sent at
// now. The id is the delivery id, the same on every attempt, which is what
// receivers deduplicate on; the timestamp is the attempt's own, so a
// receiver's replay window (usually 5 minutes) holds for retries too.
func Sign(h http.Header, id string, now time.Time, body []byte, keys Keys) {
	ts := now.Unix()
	h.Set(HeaderID, id)
	h.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
	h.Set(HeaderSignature, Signature(id, ts, body, keys.At(now)))
}

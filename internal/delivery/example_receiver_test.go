package delivery_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/switchboard-hq/switchboard/internal/delivery"
)

// verify is the receiver side of a delivery, as the README shows it: the
// Standard Webhooks check, with nothing from this package.
func verify(r *http.Request, body []byte, secret string, now time.Time) bool {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return false
	}
	id, ts := r.Header.Get("webhook-id"), r.Header.Get("webhook-timestamp")
	sent, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || now.Unix()-sent > 300 || sent-now.Unix() > 300 {
		return false // outside the 5-minute replay window
	}
	mac := hmac.New(sha256.New, key)
	fmt.Fprintf(mac, "%s.%s.%s", id, ts, body)
	want := "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
	for _, sig := range strings.Fields(r.Header.Get("webhook-signature")) {
		if hmac.Equal([]byte(sig), []byte(want)) {
			return true
		}
	}
	return false
}

// A receiver keeps verifying through a secret rotation: for 24 hours each
// delivery carries a signature under each secret.
func ExampleSign() {
	oldSecret, newSecret := "whsec_b2xkLXNlY3JldA==", "whsec_bmV3LXNlY3JldA=="
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	body := []byte(`{"id":"0190b5f4-7c1e-7000-8000-000000000000","type":"automation.action"}`)
	req, _ := http.NewRequest(http.MethodPost, "https://helpdesk.example/switchboard", bytes.NewReader(body))
	delivery.Sign(req.Header, "0190b5f4-7c1e-7000-8000-000000000000", now, body,
		delivery.Keys{Current: newSecret, Previous: oldSecret, PreviousUntil: now.Add(24 * time.Hour)})
	fmt.Println(verify(req, body, oldSecret, now), verify(req, body, newSecret, now), verify(req, body, "whsec_b3RoZXI=", now))
	// Output: true true false
}

package delivery_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/switchboard-hq/switchboard/internal/clock"
	"github.com/switchboard-hq/switchboard/internal/delivery"
	"github.com/switchboard-hq/switchboard/internal/pipeline"
	"github.com/switchboard-hq/switchboard/internal/rules"
	"github.com/switchboard-hq/switchboard/internal/store"
	"github.com/switchboard-hq/switchboard/internal/store/storetest"
	"github.com/switchboard-hq/switchboard/internal/tenancy"
)

// inbox is an in-process SMTP server keeping what it receives.
type inbox struct {
	mu    sync.Mutex
	mails []string // recipient, then the raw message
}

func (b *inbox) NewSession(*smtp.Conn) (smtp.Session, error) { return &inboxSession{b: b}, nil }

type inboxSession struct {
	b  *inbox
	to string
}

func (s *inboxSession) Mail(string, *smtp.MailOptions) error { return nil }
func (s *inboxSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.to = to
	return nil
}
func (s *inboxSession) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	s.b.mu.Lock()
	s.b.mails = append(s.b.mails, s.to+"\n"+string(raw))
	s.b.mu.Unlock()
	return err
}
func (s *inboxSession) Reset()        {}
func (s *inboxSession) Logout() error { return nil }

// TestAutoReplyReachesTheCustomerOncePerHour goes the whole way: two
// messages from one customer, processed, and the delivery pool sending
// through the workspace's SMTP server: one reply reaches the customer,
// marked Auto-Submitted and threaded on the message; the second is
// skipped for the recipient's cooldown.
func TestAutoReplyReachesTheCustomerOncePerHour(t *testing.T) {
	t.Parallel()
	for _, dialect := range storetest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			box := &inbox{}
			srv := smtp.NewServer(box)
			srv.Domain, srv.AllowInsecureAuth = "localhost", true
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			go srv.Serve(ln)
			t.Cleanup(func() { srv.Close() })

			clk := clock.NewFake(time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC))
			st := storetest.OpenWithClock(t, dialect, clk)
			ws, _, _, err := tenancy.CreateWorkspace(ctx, st, "acme", "")
			if err != nil {
				t.Fatal(err)
			}
			ws.SMTP = &store.SMTPSettings{Host: "127.0.0.1", Port: ln.Addr().(*net.TCPAddr).Port,
				From: "support@acme.test", TLS: "none"}
			if ws, err = st.UpdateWorkspace(ctx, ws); err != nil {
				t.Fatal(err)
			}
			body := "Thanks {{contact.name}}, we are on it."
			if _, err := st.CreateRule(ctx, rules.Rule{WorkspaceID: ws.ID, Name: "ack", IsActive: true,
				TriggerType: rules.TriggerIncoming, Conditions: json.RawMessage(`[]`), RolloutPercentage: 100,
				Actions: []rules.Action{{Type: rules.ActionSendResponse, Body: &body}}}, nil); err != nil {
				t.Fatal(err)
			}
			payload := `{"contact": {"email": "ann@customer.test", "name": "Ann"},
				"message": {"from_email": "ann@customer.test", "subject": "Help",
					"headers": {"Message-ID": "<m1@customer.test>"}}}`
			var groups []*store.IngestGroup
			for _, conv := range []string{"c1", "c2"} {
				groups = append(groups, &store.IngestGroup{Events: []store.NewEvent{{Event: store.Event{WorkspaceID: ws.ID,
					EventType: rules.TriggerIncoming, ConversationID: ptr(conv), Source: "api",
					Payload: json.RawMessage(payload), PayloadHash: strings.Repeat("0", 64)}}}})
			}
			if err := st.IngestEvents(ctx, groups); err != nil {
				t.Fatal(err)
			}
			workers := pipeline.NewWorkers(st, pipeline.NewEngine(st, pipeline.NewPrograms(st), clk), pipeline.WorkerOptions{Clock: clk})
			for {
				n, err := workers.Cycle(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if n == 0 {
					break
				}
			}
			pool, err := delivery.NewPool(delivery.StoreOutbox{Store: st}, nil, &delivery.SMTPSender{}, delivery.PoolConfig{Clock: clk})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := pool.Cycle(ctx); err != nil {
				t.Fatal(err)
			}
			pool.Wait()

			box.mu.Lock()
			defer box.mu.Unlock()
			if len(box.mails) != 1 {
				t.Fatalf("the customer got %d replies, want 1", len(box.mails))
			}
			m := box.mails[0]
			for _, want := range []string{"ann@customer.test\n", "Auto-Submitted: auto-replied", "In-Reply-To: <m1@customer.test>",
				"Thanks Ann, we are on it."} {
				if !strings.Contains(m, want) {
					t.Errorf("the reply lacks %q:\n%s", want, m)
				}
			}
		})
	}
}

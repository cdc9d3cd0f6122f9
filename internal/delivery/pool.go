package delivery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/switchboard-hq/switchboard/internal/clock"
)

// Job is one claimed delivery attempt: everything needed to make it,
// with no further look-up. Exactly one of HTTP and Mail is set.
type Job struct {
	// ID is the delivery id (UUIDv7), the webhook-id of every attempt.
	ID          string
	WorkspaceID int64
	// Owner is the claimant the lease belongs to (Claim.Owner); settling
	// a job whose lease another owner now holds must be refused.
	Owner string
	// Target groups the jobs that share a receiver, for per-target
	// concurrency; see TargetKey.
	Target string
	// Attempts is how many attempts were made before this one.
	Attempts int
	// HTTP is a signed POST: to the actions_url (body PushBody) or a
	// send_webhook URL (body WebhookBody, with the rule's headers).
	HTTP *Request
	// Mail is an auto-reply sent by the workspace's SMTP server.
	Mail *MailJob
}

// MailJob is an auto-reply and the SMTP server to send it through.
type MailJob struct {
	SMTP SMTPSettings
	Mail Mail
}

// TargetKey is the concurrency key of a delivery: its workspace and the
// receiver's scheme, host and port. Two workspaces never share a key, so
// one tenant's slow receiver never holds another's deliveries, and one
// workspace's send_webhook to a slow host never holds its actions_url.
// It is a pure function of the row so the store can keep it in a column
// written with the row (and index it).
func TargetKey(workspaceID int64, rawURL string) string {
	ws := strconv.FormatInt(workspaceID, 10)
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		return ws + " " + rawURL
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443", "smtp": "25"}[u.Scheme]
	}
	return ws + " " + strings.ToLower(u.Scheme) + "://" + strings.ToLower(u.Hostname()) + ":" + port
}

// SMTPTargetKey is TargetKey for auto-replies sent through s.
func SMTPTargetKey(workspaceID int64, s SMTPSettings) string {
	return TargetKey(workspaceID, "smtp://"+s.Host+":"+strconv.Itoa(s.Port))
}

// Claim asks the outbox for due jobs.
type Claim struct {
	Owner string    // this node's worker id; leases are taken in its name
	Now   time.Time // the clock's time: due is available_at <= Now
	Limit int       // at most this many jobs in all
	Lease time.Duration
	// PerTarget is how many jobs of one Target this owner may hold at
	// once; InFlight is how many it holds now (absent targets: none).
	PerTarget int
	InFlight  map[string]int
}

// Room is how many more jobs of target this claim may return.
func (c Claim) Room(target string) int {
	return max(0, c.PerTarget-c.InFlight[target])
}

// Full lists the targets the claim must skip entirely.
func (c Claim) Full() []string {
	var out []string
	for t := range c.InFlight {
		if c.Room(t) == 0 {
			out = append(out, t)
		}
	}
	return out
}

// Outbox is what the delivery workers need from the store. It is small
// on purpose, so that SQLite and PostgreSQL can each do it their way.
//
// Claim leases to c.Owner, until c.Now+c.Lease, up to c.Limit jobs that
// are due — pending with available_at <= Now, or leased with an expired
// lease (that returns a crashed node's work) — oldest available_at first,
// returning at most c.Room(t) jobs of any target t and none of c.Full().
// Each returned job has Attempts as before this attempt; the attempt is
// counted when it is settled. Two claimants never get the same job while
// its lease holds. Rows for the pull outbox (no actions_url) are never
// claimed here.
//
// A sketch in SQL, with an index on (status, available_at) — or
// (status, target, available_at) for the per-target form — and the
// target column written with the row from TargetKey:
//
//	SELECT id, target FROM deliveries
//	 WHERE push AND available_at <= $now
//	   AND (status = 'pending' OR (status = 'leased' AND leased_until <= $now))
//	   AND target <> ALL($full)
//	 ORDER BY available_at LIMIT $limit * 2
//	   FOR UPDATE SKIP LOCKED            -- PostgreSQL; SQLite has one writer
//
// then keep at most Room(target) ids per target (in Go or with
// row_number() over (partition by target) in a second statement) and
// UPDATE them to status='leased', lease_owner=$owner,
// leased_until=$now+$lease in the same transaction.
//
// Succeed, Retry and Fail settle one attempt, counting it (attempts+1),
// only while j.Owner still holds the lease (else an error such as
// store.ErrLeaseLost, and nothing is written): Succeed and Fail end the
// delivery (succeeded / failed with errMsg as last_error) and move its
// run and the rule's counters in the same transaction; Retry sets it back
// to pending with last_error = errMsg and available_at = next.
type Outbox interface {
	Claim(ctx context.Context, c Claim) ([]Job, error)
	Succeed(ctx context.Context, j Job, at time.Time) error
	Retry(ctx context.Context, j Job, at time.Time, errMsg string, next time.Time) error
	Fail(ctx context.Context, j Job, at time.Time, errMsg string) error
}

// PoolConfig tunes a Pool. Zero fields take the defaults.
type PoolConfig struct {
	// Owner names this node's leases; default "delivery-<random>".
	Owner string
	// Workers bounds the attempts in flight on this node (default 32).
	Workers int
	// PerTarget bounds the attempts in flight to one target (default 4),
	// so a slow receiver holds at most that many workers.
	PerTarget int
	// Lease is how long a claimed job stays this node's; it must outlast
	// an attempt (default 60 s, four times the 15 s request timeout).
	Lease time.Duration
	// PollInterval is how long an idle pool waits before claiming again
	// (default 1 s); a freed worker or Notify claims at once.
	PollInterval time.Duration
	// DrainTimeout is how long Run waits for attempts in flight after its
	// context ends before cancelling them (default 8 s, within the 10 s
	// shutdown budget of §10).
	DrainTimeout time.Duration
	Clock        clock.Clock
	// Rand draws the backoff jitter in [0, 1); default math/rand/v2.
	Rand   func() float64
	Logger *slog.Logger
}

// Pool runs delivery attempts from an Outbox: claims as many jobs as it
// has room for, sends each, and settles it as succeeded, retried after
// Backoff, or failed for good.
type Pool struct {
	outbox Outbox
	http   *HTTPSender
	smtp   *SMTPSender
	cfg    PoolConfig

	wake chan struct{}

	mu       sync.Mutex
	running  int
	inflight map[string]int
	wg       sync.WaitGroup
	// attemptCtx is what attempts run under; cancelled when a drain
	// times out.
	attemptCtx    context.Context
	cancelAttempt context.CancelFunc
}

// NewPool returns a pool sending through h and s (either may be nil if
// no job of that kind will come). It refuses a lease that an attempt
// could outlast: the job would be claimed again by another node while
// this one is still sending it.
func NewPool(o Outbox, h *HTTPSender, s *SMTPSender, cfg PoolConfig) (*Pool, error) {
	if cfg.Owner == "" {
		cfg.Owner = fmt.Sprintf("delivery-%016x", rand.Uint64())
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 32
	}
	if cfg.PerTarget <= 0 {
		cfg.PerTarget = 4
	}
	if cfg.Lease <= 0 {
		cfg.Lease = 60 * time.Second
	}
	var longest time.Duration
	if h != nil {
		longest = h.cfg.RequestTimeout
	}
	if s != nil {
		longest = max(longest, s.timeout())
	}
	if cfg.Lease < 2*longest {
		return nil, fmt.Errorf("delivery: lease %s is shorter than twice the longest attempt (%s)", cfg.Lease, longest)
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = time.Second
	}
	if cfg.DrainTimeout <= 0 {
		cfg.DrainTimeout = 8 * time.Second
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.System{}
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Float64
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Pool{outbox: o, http: h, smtp: s, cfg: cfg, wake: make(chan struct{}, 1),
		inflight: map[string]int{}, attemptCtx: ctx, cancelAttempt: cancel}, nil
}

// Notify tells the pool new jobs may be due, so it claims without waiting
// for the poll interval (call it after committing deliveries).
func (p *Pool) Notify() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// Cycle claims what the pool has room for and starts those attempts; it
// does not wait for them (Wait does). It returns how many it started.
// Tests drive the pool with Cycle and Wait on a fake clock.
func (p *Pool) Cycle(ctx context.Context) (int, error) {
	p.mu.Lock()
	room := p.cfg.Workers - p.running
	inflight := maps.Clone(p.inflight)
	p.mu.Unlock()
	if room <= 0 {
		return 0, nil
	}
	jobs, err := p.outbox.Claim(ctx, Claim{
		Owner: p.cfg.Owner, Now: p.cfg.Clock.Now(), Limit: room, Lease: p.cfg.Lease,
		PerTarget: p.cfg.PerTarget, InFlight: inflight,
	})
	if err != nil {
		return 0, fmt.Errorf("delivery: unable to claim jobs: %w", err)
	}
	p.mu.Lock()
	for _, j := range jobs {
		p.running++
		p.inflight[j.Target]++
		p.wg.Add(1)
		go p.attempt(j)
	}
	p.mu.Unlock()
	return len(jobs), nil
}

// Wait blocks until every attempt started so far is settled.
func (p *Pool) Wait() { p.wg.Wait() }

// Run claims and sends until ctx ends, then stops claiming and drains:
// attempts in flight get DrainTimeout to finish, after which they are
// cancelled and settled as retryable, so another node picks them up.
func (p *Pool) Run(ctx context.Context) error {
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return p.drain()
		case <-timer.C:
		case <-p.wake:
		}
		n, err := p.Cycle(ctx)
		if err != nil && ctx.Err() == nil {
			p.cfg.Logger.Error("delivery claim failed", "err", err)
		}
		next := p.cfg.PollInterval
		if n > 0 {
			next = 0 // more may be due right away
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(next)
	}
}

func (p *Pool) drain() error {
	done := make(chan struct{})
	go func() { p.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-time.After(p.cfg.DrainTimeout):
		p.cancelAttempt()
		<-done
		return fmt.Errorf("delivery: attempts still in flight after %s were interrupted", p.cfg.DrainTimeout)
	}
}

// attempt makes one attempt and settles it.
func (p *Pool) attempt(j Job) {
	defer func() {
		p.mu.Lock()
		p.running--
		if p.inflight[j.Target]--; p.inflight[j.Target] <= 0 {
			delete(p.inflight, j.Target)
		}
		p.mu.Unlock()
		p.wg.Done()
		p.Notify() // a worker is free: claim again without waiting
	}()
	res := p.send(j)
	if p.attemptCtx.Err() != nil && res.Outcome != Succeeded {
		res = Result{Outcome: Retryable, Err: "interrupted by shutdown"}
	}
	// Settle even during shutdown: the outcome is known and must not be
	// lost to a cancelled context.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	now := p.cfg.Clock.Now()
	var err error
	switch res.Outcome {
	case Succeeded:
		err = p.outbox.Succeed(ctx, j, now)
	case Permanent:
		err = p.outbox.Fail(ctx, j, now, res.Err)
	default:
		wait, ok := Backoff(j.Attempts+1, res.RetryAfter, p.cfg.Rand())
		if p.attemptCtx.Err() != nil {
			wait, ok = 0, true // interrupted, not the receiver's fault
		}
		if !ok {
			err = p.outbox.Fail(ctx, j, now, clip(fmt.Sprintf("gave up after %d attempts: %s", j.Attempts+1, res.Err)))
		} else {
			err = p.outbox.Retry(ctx, j, now, res.Err, now.Add(wait))
		}
	}
	if err != nil {
		p.cfg.Logger.Warn("delivery not settled", "delivery_id", j.ID, "outcome", res.Outcome.String(), "err", err)
	}
}

// errNoSender is the result of a job whose kind this pool cannot send.
var errNoSender = errors.New("delivery: no sender for this job")

func (p *Pool) send(j Job) Result {
	ctx := p.attemptCtx
	now := p.cfg.Clock.Now()
	switch {
	case j.HTTP != nil && p.http != nil:
		return p.http.Send(ctx, *j.HTTP, now)
	case j.Mail != nil && p.smtp != nil:
		return p.smtp.Send(ctx, j.Mail.SMTP, j.Mail.Mail, now)
	}
	return Result{Outcome: Permanent, Err: errNoSender.Error()}
}

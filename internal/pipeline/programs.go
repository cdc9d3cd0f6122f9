package pipeline

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/switchboard-hq/switchboard/internal/engine"
	"github.com/switchboard-hq/switchboard/internal/store"
)

// Compiled is a workspace's rules, compiled, with what they were compiled
// against.
type Compiled struct {
	Program   *engine.Program
	Options   engine.CompileOptions
	Workspace store.Workspace
	Control   store.Control
}

// Programs caches each workspace's compiled rules. Compiling is the
// expensive part of evaluation (regexes, indexes); it happens once per
// change, not once per event. Invalidate is called when a rule, the
// control record, a member or a tag changes — on PostgreSQL by every node,
// through the store's change feed.
//
// A notification can be lost (the listening connection was down, or the
// node that made the change died between its commit and its NOTIFY), so
// the cache does not rely on it alone: an entry older than Recheck is
// checked against the workspace's rules version, which the store moves
// inside every transaction that changes what rules depend on. A change
// is therefore used within Recheck on every node, notification or not.
type Programs struct {
	store store.Store
	// Recheck is how long a compiled entry is trusted without reading the
	// workspace's rules version (default DefaultRecheck).
	Recheck time.Duration
	now     func() time.Time

	mu      sync.Mutex
	entries map[int64]*programEntry
}

// DefaultRecheck keeps a missed change notification within the contract's
// one second: one version read per workspace and node every half second.
const DefaultRecheck = 500 * time.Millisecond

type programEntry struct {
	gen      uint64 // bumped by Invalidate
	compiled *Compiled
	version  int64         // the rules version compiled
	checked  time.Time     // when version was last read equal
	loading  chan struct{} // closed when the load in flight ends
}

// NewPrograms returns an empty cache.
func NewPrograms(s store.Store) *Programs {
	return &Programs{store: s, Recheck: DefaultRecheck, now: time.Now, entries: map[int64]*programEntry{}}
}

// Invalidate drops a workspace's compiled rules; the next Get recompiles.
func (p *Programs) Invalidate(workspaceID int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if e := p.entries[workspaceID]; e != nil {
		e.gen++
		e.compiled = nil
	}
}

// InvalidateAll drops every workspace's compiled rules (after the change
// feed reconnected and may have missed changes).
func (p *Programs) InvalidateAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, e := range p.entries {
		e.gen++
		e.compiled = nil
	}
}

// Get returns the workspace's compiled rules, compiling them when needed.
// Concurrent callers share one compilation.
func (p *Programs) Get(ctx context.Context, workspaceID int64) (*Compiled, error) {
	for {
		p.mu.Lock()
		e := p.entries[workspaceID]
		if e == nil {
			e = &programEntry{}
			p.entries[workspaceID] = e
		}
		if e.compiled != nil {
			c, gen, version := e.compiled, e.gen, e.version
			if p.now().Sub(e.checked) < p.Recheck {
				p.mu.Unlock()
				return c, nil
			}
			p.mu.Unlock()
			v, err := p.store.RulesVersion(ctx, workspaceID)
			if err != nil {
				return nil, fmt.Errorf("pipeline: check the rules version of workspace %d: %w", workspaceID, err)
			}
			p.mu.Lock()
			if e.gen == gen && e.compiled == c {
				if v == version {
					e.checked = p.now()
					p.mu.Unlock()
					return c, nil
				}
				e.gen++ // changed without a notification reaching us
				e.compiled = nil
			}
			p.mu.Unlock()
			continue
		}
		if e.loading != nil {
			wait := e.loading
			p.mu.Unlock()
			select {
			case <-wait:
				continue
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		gen := e.gen
		done := make(chan struct{})
		e.loading = done
		p.mu.Unlock()

		// The version is read before the rules: a change committed while
		// compiling is then seen as newer at the next check.
		checked := p.now()
		version, err := p.store.RulesVersion(ctx, workspaceID)
		var c *Compiled
		if err == nil {
			c, err = compileWorkspace(ctx, p.store, workspaceID)
		} else {
			err = fmt.Errorf("pipeline: read the rules version of workspace %d: %w", workspaceID, err)
		}

		p.mu.Lock()
		e.loading = nil
		// A change that arrived while compiling makes this result stale:
		// keep it for this caller, not for the next.
		if err == nil && e.gen == gen {
			e.compiled, e.version, e.checked = c, version, checked
		}
		p.mu.Unlock()
		close(done)
		return c, err
	}
}

// compileWorkspace loads a workspace's rules and directory and compiles.
func compileWorkspace(ctx context.Context, s store.Store, workspaceID int64) (*Compiled, error) {
	ws, err := s.GetWorkspace(ctx, workspaceID)
	if err != nil {
		return nil, fmt.Errorf("pipeline: load workspace %d: %w", workspaceID, err)
	}
	ctl, err := s.GetControl(ctx, workspaceID)
	if err != nil {
		return nil, fmt.Errorf("pipeline: load control of workspace %d: %w", workspaceID, err)
	}
	rs, err := s.ListRules(ctx, workspaceID, store.RuleFilter{})
	if err != nil {
		return nil, fmt.Errorf("pipeline: load rules of workspace %d: %w", workspaceID, err)
	}
	opts := engine.CompileOptions{Timezone: ws.Timezone}
	for page := 0; ; page++ {
		ms, _, err := s.ListMembers(ctx, workspaceID, store.Page{Limit: 500, Offset: page * 500})
		if err != nil {
			return nil, fmt.Errorf("pipeline: load members of workspace %d: %w", workspaceID, err)
		}
		for _, m := range ms {
			em := engine.Member{ID: m.ID, Email: m.Email}
			if m.ExternalID != nil {
				em.ExternalID = *m.ExternalID
			}
			opts.Members = append(opts.Members, em)
		}
		if len(ms) < 500 {
			break
		}
	}
	for page := 0; ; page++ {
		ts, _, err := s.ListTags(ctx, workspaceID, store.Page{Limit: 500, Offset: page * 500})
		if err != nil {
			return nil, fmt.Errorf("pipeline: load tags of workspace %d: %w", workspaceID, err)
		}
		for _, t := range ts {
			et := engine.Tag{ID: t.ID, Name: t.Name}
			if t.ExternalID != nil {
				et.ExternalID = *t.ExternalID
			}
			opts.Tags = append(opts.Tags, et)
		}
		if len(ts) < 500 {
			break
		}
	}
	prog, err := engine.Compile(rs, opts)
	if err != nil {
		return nil, fmt.Errorf("pipeline: compile rules of workspace %d: %w", workspaceID, err)
	}
	return &Compiled{Program: prog, Options: opts, Workspace: ws, Control: ctl}, nil
}

package httpapi

import (
	"sync"
	"time"

	"github.com/switchboard-hq/switchboard/internal/store"
)

// credentialTTL bounds how long a cached credential is trusted without
// asking the store. Changes made through this node (revoking a token,
// changing or removing a member) clear the cache at once, and on
// PostgreSQL the change feed clears every node's within a second; the TTL
// is the safety net should a notification be lost.
const credentialTTL = 10 * time.Second

// maxCachedCredentials caps memory: a flood of distinct valid tokens
// clears the cache rather than growing it.
const maxCachedCredentials = 10000

// credentialCache remembers authenticated principals by token hash, so
// the hot path (event ingestion) does not query the store per request.
// Expiry is still checked on every request against the cached token.
type credentialCache struct {
	mu      sync.RWMutex
	entries map[string]cachedCredential
}

type cachedCredential struct {
	principal store.Principal
	until     time.Time // monotonic wall time, not the injected clock
}

func newCredentialCache() *credentialCache {
	return &credentialCache{entries: map[string]cachedCredential{}}
}

func (c *credentialCache) get(hash string) (store.Principal, bool) {
	c.mu.RLock()
	e, ok := c.entries[hash]
	c.mu.RUnlock()
	if !ok || time.Now().After(e.until) {
		return store.Principal{}, false
	}
	return e.principal, true
}

func (c *credentialCache) put(hash string, p store.Principal) {
	c.mu.Lock()
	if len(c.entries) >= maxCachedCredentials {
		clear(c.entries)
	}
	c.entries[hash] = cachedCredential{principal: p, until: time.Now().Add(credentialTTL)}
	c.mu.Unlock()
}

// clear forgets every credential.
func (c *credentialCache) clear() {
	c.mu.Lock()
	clear(c.entries)
	c.mu.Unlock()
}

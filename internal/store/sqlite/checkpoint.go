package sqlite

import (
	"database/sql"
	"sync"
	"sync/atomic"
	"time"
)

// WAL checkpoints. By default SQLite checkpoints in the connection that
// commits, once the WAL holds 1,000 pages: the one writer then stops
// every ~1,000 pages to copy them into the database file and fsync it,
// ~10 % of its time under load (a profile of switchboard bench), while
// the requests and workers waiting for it wait too. A checkpointer of
// its own does that copy on another connection, which SQLite lets run
// beside the writer (PASSIVE: it takes no lock that a writer or reader
// waits for), at most once per checkpointEvery after a commit.
//
// The writer keeps a checkpoint of its own for walRestartPages: a WAL
// only starts again from its beginning when a writer finds it fully
// copied, which under a steady load happens when the writer checkpoints
// itself (then there is little left to copy). Should the checkpointer
// fall behind or fail, that also bounds the WAL.
const (
	checkpointEvery = 100 * time.Millisecond
	walRestartPages = 10000 // ≈ 40 MB of WAL at 4 KiB pages
)

// checkpointer runs PASSIVE checkpoints after commits (kick).
type checkpointer struct {
	db      *sql.DB
	commits chan struct{} // holds one pending kick
	stop    chan struct{}
	done    chan struct{}
	closing sync.Once
	// last is the latest checkpoint's result: the WAL's frames and how
	// many of them are in the database file (tests read it).
	last atomic.Pointer[[2]int64]
}

func startCheckpointer(db *sql.DB) *checkpointer {
	c := &checkpointer{db: db, commits: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	go c.run()
	return c
}

// kick tells the checkpointer that a transaction committed; it never
// blocks the writer.
func (c *checkpointer) kick() {
	select {
	case c.commits <- struct{}{}:
	default:
	}
}

func (c *checkpointer) run() {
	defer close(c.done)
	pause := time.NewTimer(0)
	defer pause.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-c.commits:
		}
		// A failure (the file is busy with a backup, say) is left to the
		// next commit's kick, and to the writer's own checkpoint.
		var busy, frames, copied int64
		if c.db.QueryRow(`PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &frames, &copied) == nil {
			c.last.Store(&[2]int64{frames, copied})
		}
		pause.Reset(checkpointEvery)
		select {
		case <-c.stop:
			return
		case <-pause.C:
		}
	}
}

// close stops the checkpointer and closes its connection; a second call
// does nothing.
func (c *checkpointer) close() error {
	var err error
	c.closing.Do(func() {
		close(c.stop)
		<-c.done
		err = c.db.Close()
	})
	return err
}

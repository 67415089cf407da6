package postgres

import (
	"log/slog"
	"sync"
	"time"

	"github.com/lib/pq"
)

// ChangeChannel is the PostgreSQL NOTIFY channel every configuration change
// signals, inside the change's transaction (so it is delivered at commit,
// and never for a rolled-back change).
const ChangeChannel = "ezapi_config_changed"

// ChangeListener wakes the snapshot publisher of this replica as soon as a
// configuration change commits on any replica (LISTEN/NOTIFY); polling
// stays only as the fallback for a lost connection.
type ChangeListener struct {
	l    *pq.Listener
	done chan struct{}
	once sync.Once
}

// NewChangeListener listens on ChangeChannel over its own connection to
// dsn and calls wake for every notification, and after every reconnect
// (notifications may have been missed meanwhile). Close stops it.
func NewChangeListener(dsn string, wake func(), logger *slog.Logger) *ChangeListener {
	l := pq.NewListener(dsn, 100*time.Millisecond, 5*time.Second, func(ev pq.ListenerEventType, err error) {
		if err != nil {
			logger.Warn("config change listener", "event", ev, "error", err)
		}
	})
	c := &ChangeListener{l: l, done: make(chan struct{})}
	if err := l.Listen(ChangeChannel); err != nil {
		// The listener keeps reconnecting and re-listens on its own; the
		// publisher polls meanwhile.
		logger.Warn("config change listener not yet listening; polling until it is", "error", err)
	}
	go func() {
		defer close(c.done)
		for range l.Notify { // nil after a reconnect: wake too
			wake()
		}
	}()
	return c
}

// Close stops listening and waits for the forwarding goroutine.
func (c *ChangeListener) Close() error {
	var err error
	c.once.Do(func() {
		err = c.l.Close()
		<-c.done
	})
	return err
}

package postgres

import (
	"errors"
	"log/slog"
	"net"
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
	l := pq.NewListener(dsn, 100*time.Millisecond, 2*time.Second, func(ev pq.ListenerEventType, err error) {
		if err != nil {
			logger.Warn("config change listener", "event", ev, "error", err)
		}
	})
	c := &ChangeListener{l: l, done: make(chan struct{})}
	listening := make(chan struct{})
	go func() {
		// Listen blocks until the first connection succeeds (or Close); the
		// listener re-listens by itself after every reconnect, and the
		// publisher polls meanwhile.
		defer close(listening)
		if err := l.Listen(ChangeChannel); err != nil && !errors.Is(err, net.ErrClosed) {
			logger.Warn("config change listener cannot listen; polling only", "error", err)
		}
	}()
	go func() {
		defer close(c.done)
		for range l.Notify { // nil after a reconnect: wake too
			wake()
		}
		<-listening
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

package observability

import (
	"bufio"
	"io"
	"sync"
	"time"
)

// LogBuffer batches the service's log lines on their way to w: a line is
// copied into a buffer, which is written out when it fills and at least
// every interval. Under load that is one write system call per batch
// instead of one per line (the access log's write was the largest single
// cost of a cheap request). A line waits at most interval; Close writes
// what is left. A process that dies without Close loses at most the last
// interval's lines (Go's own crash output is not buffered).
type LogBuffer struct {
	mu   sync.Mutex
	buf  *bufio.Writer
	stop chan struct{}
	done chan struct{}
}

// logBufferSize is how many bytes of lines are kept before a write.
const logBufferSize = 64 << 10

// NewLogBuffer starts flushing w's buffer every interval (> 0).
func NewLogBuffer(w io.Writer, interval time.Duration) *LogBuffer {
	b := &LogBuffer{buf: bufio.NewWriterSize(w, logBufferSize), stop: make(chan struct{}), done: make(chan struct{})}
	go b.flushEvery(interval)
	return b
}

// Write implements io.Writer: slog handlers write one whole line per call.
func (b *LogBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// Flush writes the buffered lines out now.
func (b *LogBuffer) Flush() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Flush()
}

func (b *LogBuffer) flushEvery(interval time.Duration) {
	defer close(b.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			_ = b.Flush()
		case <-b.stop:
			return
		}
	}
}

// Close stops the flusher and writes what is left; it is called once.
func (b *LogBuffer) Close() error {
	close(b.stop)
	<-b.done
	return b.Flush()
}

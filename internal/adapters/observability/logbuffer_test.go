package observability_test

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ez-api/ez-api/internal/adapters/observability"
)

// syncBuffer is a bytes.Buffer safe for the flusher and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Lines reach the destination whole, within the interval without any
// further write, and what is left at Close is written then.
func TestLogBufferWritesWholeLinesLaterAndEverythingAtClose(t *testing.T) {
	t.Parallel()
	out := &syncBuffer{}
	b := observability.NewLogBuffer(out, 20*time.Millisecond)
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 200 {
				_, err := b.Write([]byte(strings.Repeat(string(rune('a'+w)), 40+i%7) + "\n"))
				assert.NoError(t, err)
			}
		})
	}
	wg.Wait()
	require.Eventually(t, func() bool { return strings.Count(out.String(), "\n") == 1600 }, 5*time.Second, 5*time.Millisecond,
		"lines reach the destination without another write")
	for _, line := range strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n") {
		require.Equal(t, strings.Repeat(line[:1], len(line)), line, "a line is never interleaved with another")
	}

	slow := &syncBuffer{}
	b2 := observability.NewLogBuffer(slow, time.Hour)
	_, err := b2.Write([]byte("last words\n"))
	require.NoError(t, err)
	assert.Empty(t, slow.String(), "buffered until the interval or Close")
	require.NoError(t, b2.Close())
	assert.Equal(t, "last words\n", slow.String())
	require.NoError(t, b.Close())
}

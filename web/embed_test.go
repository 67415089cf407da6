package web_test

import (
	"bytes"
	"compress/gzip"
	"io/fs"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ez-api/ez-api/web"
)

// firstLoadBudget is the most the first load of /ui/ may weigh, gzipped
// (issue 16): index.html and every file it references.
const firstLoadBudget = 300 << 10

func TestFirstLoadWithinBudget(t *testing.T) {
	files := web.Console()
	index, err := fs.ReadFile(files, "index.html")
	require.NoError(t, err)
	total := gzipped(t, index)
	refs := regexp.MustCompile(`(?:src|href)="/ui/([^"]+)"`).FindAllSubmatch(index, -1)
	require.NotEmpty(t, refs, "index.html references no script or style")
	for _, m := range refs {
		b, err := fs.ReadFile(files, string(m[1]))
		require.NoError(t, err, "index.html references %s, which is not embedded", m[1])
		n := gzipped(t, b)
		t.Logf("%s: %d bytes, %d gzipped", m[1], len(b), n)
		total += n
	}
	t.Logf("first load of /ui/: %d bytes gzipped (budget %d)", total, firstLoadBudget)
	require.LessOrEqual(t, total, firstLoadBudget)
}

func gzipped(t *testing.T, b []byte) int {
	t.Helper()
	var buf bytes.Buffer
	w, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	require.NoError(t, err)
	_, err = w.Write(b)
	require.NoError(t, err)
	require.NoError(t, w.Close())
	return buf.Len()
}

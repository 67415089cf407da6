package bench_test

import (
	"testing"

	"github.com/jmoiron/sqlx"
	"github.com/stretchr/testify/require"
)

// seedLogKeys creates masters 1..10 and the client keys the log benchmarks
// post for (ids 100..149 and 1000..1499, key k owned by master 1 + k%10),
// so every record's key_id belongs to its master_id as POST /logs requires.
func seedLogKeys(t *testing.T, db *sqlx.DB) {
	t.Helper()
	_, err := db.Exec(`INSERT INTO masters (id, name, token_hash, token_prefix)
SELECT m, 'bench-master-' || m, lpad(to_hex(m), 64, '0'), 'mk-bench' FROM generate_series(1, 10) m
ON CONFLICT DO NOTHING`)
	require.NoError(t, err)
	_, err = db.Exec(`INSERT INTO keys (id, master_id, name, prefix, token_hash, group_name, issued_by)
SELECT k, 1 + k % 10, 'bench-key-' || k, 'sk-bench', lpad(to_hex(k), 64, '0'), 'default', 'admin:0'
FROM (SELECT generate_series(100, 149) UNION ALL SELECT generate_series(1000, 1499)) s(k)
ON CONFLICT DO NOTHING`)
	require.NoError(t, err)
	_, err = db.Exec(`SELECT setval(pg_get_serial_sequence('masters', 'id'), greatest((SELECT max(id) FROM masters), 1));
SELECT setval(pg_get_serial_sequence('keys', 'id'), greatest((SELECT max(id) FROM keys), 1))`)
	require.NoError(t, err)
}

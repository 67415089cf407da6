package domain

// PageOf cuts a result fetched with limit+1 rows into the page and the
// cursor of the next one (0 when this is the last page).
func PageOf[T any](rows []T, limit int, id func(T) int64) ([]T, int64) {
	if len(rows) <= limit {
		return rows, 0
	}
	rows = rows[:limit]
	return rows, id(rows[len(rows)-1])
}

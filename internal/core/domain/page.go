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

// FetchPage asks fetch for one row more than page.Limit, after page.After,
// and returns the page and the cursor of the next one (0: done).
func FetchPage[T any](page Page, fetch func(Page) ([]T, error), id func(T) int64) ([]T, int64, error) {
	rows, err := fetch(Page{Limit: page.Limit + 1, After: page.After})
	if err != nil {
		return nil, 0, err
	}
	items, next := PageOf(rows, page.Limit, id)
	return items, next, nil
}

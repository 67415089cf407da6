package httpapi

import (
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"

	"github.com/oapi-codegen/nullable"

	"github.com/ez-api/ez-api/internal/adapters/httpapi/gen"
	"github.com/ez-api/ez-api/internal/core/domain"
)

const (
	defaultLimit = 50
	cursorPrefix = "after:"
)

// page turns the limit and opaque cursor parameters into a domain page.
func page(limit *gen.Limit, cursor *gen.Cursor) (domain.Page, error) {
	p := domain.Page{Limit: defaultLimit}
	if limit != nil {
		p.Limit = int(*limit)
	}
	if cursor != nil && *cursor != "" {
		raw, err := base64.RawURLEncoding.DecodeString(*cursor)
		s, ok := strings.CutPrefix(string(raw), cursorPrefix)
		after, perr := strconv.ParseInt(s, 10, 64)
		if err != nil || !ok || perr != nil || after < 0 {
			return domain.Page{}, &ProblemError{Status: http.StatusBadRequest, Detail: "cursor: not a cursor from this API",
				Fields: []domain.FieldError{{Field: "cursor", Message: "not a cursor from this API"}}}
		}
		p.After = after
	}
	return p, nil
}

// nextCursor encodes the id to continue after; null on the last page.
func nextCursor(after int64) nullable.Nullable[gen.NextCursor] {
	if after == 0 {
		return nullable.NewNullNullable[gen.NextCursor]()
	}
	return nullable.NewNullableWithValue(base64.RawURLEncoding.EncodeToString([]byte(cursorPrefix + strconv.FormatInt(after, 10))))
}

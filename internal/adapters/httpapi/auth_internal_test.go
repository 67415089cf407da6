package httpapi

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestCredentialParsing(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		header http.Header
		want   string
		ok     bool
	}{
		{"bearer", http.Header{"Authorization": {"Bearer st-abc"}}, "st-abc", true},
		{"bearer_case_insensitive", http.Header{"Authorization": {"bearer st-abc"}}, "st-abc", true},
		{"api_key_header", http.Header{"X-Api-Key": {"mk-abc"}}, "mk-abc", true},
		{"authorization_wins", http.Header{"Authorization": {"Bearer a"}, "X-Api-Key": {"b"}}, "a", true},
		{"rejects_trailing_space", http.Header{"Authorization": {"Bearer st-abc "}}, "", false},
		{"rejects_trailing_tab", http.Header{"X-Api-Key": {"st-abc\t"}}, "", false},
		{"rejects_basic", http.Header{"Authorization": {"Basic Zm9vOmJhcg=="}}, "", false},
		{"rejects_empty_bearer", http.Header{"Authorization": {"Bearer "}}, "", false},
		{"rejects_scheme_only", http.Header{"Authorization": {"Bearer"}}, "", false},
		{"rejects_nothing", http.Header{}, "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, ok := credential(&http.Request{Header: tc.header})
			assert.Equal(t, tc.ok, ok)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestEchoPath(t *testing.T) {
	t.Parallel()
	assert.Equal(t, "/admin/operators/:id", echoPath("/admin/operators/{id}"))
	assert.Equal(t, "/livez", echoPath("/livez"))
	assert.Equal(t, "/keys/:id/rotate", echoPath("/keys/{id}/rotate"))
}

package httpapi

import (
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ez-api/ez-api/internal/adapters/jwtcodec"
	"github.com/ez-api/ez-api/internal/core/domain"
)

// wireHeaderValue reports whether v can reach a handler as a header value:
// net/http refuses control characters other than HTAB and trims leading
// and trailing spaces and tabs.
func wireHeaderValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if b := v[i]; (b < ' ' && b != '\t') || b == 0x7f {
			return false
		}
	}
	return strings.Trim(v, " \t") == v
}

// credentialOracle is the rule written out independently of credential():
// a non-empty Authorization header decides alone and must be "Bearer"
// (any case), one space and a token without spaces or tabs; otherwise a
// non-empty X-API-Key without spaces or tabs.
func credentialOracle(auth, key string) (string, bool) {
	if auth != "" {
		if len(auth) < len("Bearer ")+1 || !strings.EqualFold(auth[:6], "bearer") || auth[6] != ' ' {
			return "", false
		}
		tok := auth[7:]
		if strings.ContainsAny(tok, " \t") {
			return "", false
		}
		return tok, true
	}
	if key == "" || strings.ContainsAny(key, " \t") {
		return "", false
	}
	return key, true
}

var tokenKinds = []domain.TokenKind{domain.TokenClient, domain.TokenMaster, domain.TokenService}

// FuzzCredential: for any Authorization and X-API-Key values, credential()
// agrees with the oracle; ok=false exactly when it yields nothing; a
// credential never contains a space or a tab (nor any ASCII whitespace for
// values net/http can deliver) and is the tail of the header it came from;
// token shape checks and hashing behave on it.
func FuzzCredential(f *testing.F) {
	f.Add("Bearer st-abc", "")
	f.Fuzz(func(t *testing.T, auth, key string) {
		h := http.Header{}
		if auth != "" {
			h.Set("Authorization", auth)
		}
		if key != "" {
			h.Set("X-API-Key", key)
		}
		cred, ok := credential(&http.Request{Header: h})

		wantCred, wantOK := credentialOracle(auth, key)
		if cred != wantCred || ok != wantOK {
			t.Fatalf("credential(Authorization=%q, X-API-Key=%q) = %q, %v; want %q, %v", auth, key, cred, ok, wantCred, wantOK)
		}
		if ok != (cred != "") {
			t.Fatalf("ok=%v with credential %q", ok, cred)
		}
		if !ok {
			return
		}
		if strings.ContainsAny(cred, " \t") {
			t.Fatalf("credential %q contains a space or tab", cred)
		}
		if wireHeaderValue(auth) && wireHeaderValue(key) && strings.ContainsAny(cred, " \t\r\n\v\f") {
			t.Fatalf("credential %q from deliverable headers contains whitespace", cred)
		}
		if auth != "" && !strings.HasSuffix(auth, cred) || auth == "" && cred != key {
			t.Fatalf("credential %q is not taken from its header", cred)
		}

		hash := domain.HashToken(cred)
		if len(hash) != 64 || strings.Trim(hash, "0123456789abcdef") != "" || hash != domain.HashToken(cred) {
			t.Fatalf("HashToken(%q) = %q is not stable lowercase hex sha256", cred, hash)
		}
		for _, kind := range tokenKinds {
			if !domain.WellFormedToken(cred, kind) {
				continue
			}
			body := strings.TrimPrefix(cred, string(kind))
			if len(body) != 43 || strings.Trim(body, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") != "" {
				t.Fatalf("WellFormedToken(%q, %q) accepted a malformed token", cred, kind)
			}
		}
	})
}

// FuzzJWTVerify: the access-token codec never panics; every refusal wraps
// domain.ErrUnauthenticated, returns a zero token and does not echo the
// input; and the only strings it accepts are the exact tokens issued with
// its secret (one signature, one spelling: no re-encoding, padding, added
// whitespace or trailing bits gets through).
func FuzzJWTVerify(f *testing.F) {
	opts := jwtcodec.Options{Secret: []byte("fuzz-secret-fuzz-secret-fuzz-sec"), Issuer: "ezapi", Audience: "ezapi-api"}
	codec := jwtcodec.New(opts)
	other := jwtcodec.New(jwtcodec.Options{Secret: []byte("another-secret-another-secret-an"), Issuer: "ezapi", Audience: "ezapi-api"})
	wrongAud := jwtcodec.New(jwtcodec.Options{Secret: opts.Secret, Issuer: "ezapi", Audience: "someone-else"})

	now := time.Now()
	issued := map[string]domain.AccessToken{}
	for i, at := range []domain.AccessToken{
		{ID: "jti-1", Subject: 1, Role: "admin", IssuedAt: now.Add(-time.Minute), ExpiresAt: now.Add(time.Hour)},
		{ID: "jti-2", Subject: 42, Role: "viewer", IssuedAt: now.Add(-time.Minute), ExpiresAt: now.Add(2 * time.Hour)},
	} {
		tok, err := codec.Issue(at)
		if err != nil {
			f.Fatalf("issue %d: %v", i, err)
		}
		issued[tok] = at
		f.Add(tok)
		f.Add(tok + "\n")
		f.Add(tok + "=")
		f.Add(strings.ToUpper(tok))
		f.Add(tok[:len(tok)-1] + "B")
	}
	for _, c := range []*jwtcodec.Codec{other, wrongAud} {
		tok, err := c.Issue(domain.AccessToken{ID: "jti-x", Subject: 1, Role: "admin", IssuedAt: now, ExpiresAt: now.Add(time.Hour)})
		if err != nil {
			f.Fatal(err)
		}
		f.Add(tok)
	}
	expired, err := codec.Issue(domain.AccessToken{ID: "jti-old", Subject: 1, Role: "admin",
		IssuedAt: now.Add(-3 * time.Hour), ExpiresAt: now.Add(-2 * time.Hour)})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(expired)

	f.Fuzz(func(t *testing.T, token string) {
		got, err := codec.Verify(token)
		if err != nil {
			if !errors.Is(err, domain.ErrUnauthenticated) {
				t.Fatalf("Verify(%q): error %v does not wrap ErrUnauthenticated", token, err)
			}
			if !reflect.DeepEqual(got, domain.AccessToken{}) {
				t.Fatalf("Verify(%q): refused but returned %+v", token, got)
			}
			if len(token) >= 16 && strings.Contains(err.Error(), token) {
				t.Fatalf("Verify(%q): the error echoes the token: %v", token, err)
			}
			return
		}
		want, ok := issued[token]
		if !ok {
			t.Fatalf("Verify accepted %q, which was never issued (claims %+v)", token, got)
		}
		if got.ID != want.ID || got.Subject != want.Subject || got.Role != want.Role ||
			got.ExpiresAt.Unix() != want.ExpiresAt.Unix() || got.IssuedAt.Unix() != want.IssuedAt.Unix() {
			t.Fatalf("Verify(%q) = %+v, issued %+v", token, got, want)
		}
	})
}

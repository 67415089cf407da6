package httpapi

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"net/http"
	"strconv"
	"time"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/ez-api/ez-api/internal/core/domain"
	"github.com/ez-api/ez-api/internal/core/logs"
)

// The log batch decoder reads POST /logs in one pass: a streaming tokenizer
// walks the array and each record's members straight into the domain type,
// with no intermediate []json.RawMessage and no reflection. A record with a
// member of the wrong type is refused by index (the tokenizer stays in step,
// so the next record still decodes); unknown members are skipped and
// counted; only a body that is not a JSON array at all is refused whole.

// logField numbers the LogRecord members (a bit each, to spot repeats).
type logField uint32

const (
	fRequestID logField = 1 << iota
	fCreatedAt
	fKeyID
	fMasterID
	fNamespace
	fModel
	fProviderID
	fUpstreamModel
	fStatusCode
	fLatencyMS
	fTTFTMS
	fPromptTokens
	fCompletionTokens
	fCachedTokens
	fCostUSD
	fStream
	fClientIP
	fError
	fBalancerID
)

// logFieldList holds the contract's member names in the order of the bits.
var logFieldList = [...]string{"request_id", "created_at", "key_id", "master_id", "namespace", "model",
	"provider_id", "upstream_model", "status_code", "latency_ms", "ttft_ms", "prompt_tokens", "completion_tokens",
	"cached_tokens", "cost_usd", "stream", "client_ip", "error", "balancer_id"}

// logFieldNames maps a member name to its field; the contract's names are exact.
var logFieldNames = func() map[string]logField {
	m := make(map[string]logField, len(logFieldList))
	for i, n := range logFieldList {
		m[n] = 1 << i
	}
	return m
}()

func (f logField) String() string { return logFieldList[bits.TrailingZeros32(uint32(f))] }

// errNotBatch is a body that is not a JSON array of values.
var errNotBatch = errors.New("not a JSON array")

// decodeLogBatch reads a JSON array of log records from r, at most maxBatch
// of them (a longer array is logs.ErrBatchTooLarge; maxBatch ≤ 0: no bound).
func decodeLogBatch(r io.Reader, maxBatch int) (logs.Batch, error) {
	dec := jsontext.NewDecoder(r, jsontext.AllowDuplicateNames(true))
	var b logs.Batch
	tok, err := dec.ReadToken()
	if err != nil || tok.Kind() != '[' {
		return b, errNotBatch
	}
	for dec.PeekKind() != ']' { // 0 (an error) is returned by the next read
		i := len(b.Records)
		if maxBatch > 0 && i >= maxBatch {
			return b, fmt.Errorf("a batch holds at most %d records: %w", maxBatch, logs.ErrBatchTooLarge)
		}
		rec, unknown, ferr, err := decodeOneLogRecord(dec)
		if err != nil {
			return b, err
		}
		b.UnknownFields += unknown
		if ferr != nil {
			b.Records = append(b.Records, domain.LogRecord{})
			b.Rejected = append(b.Rejected, domain.RejectedRecord{Index: i, Fields: []domain.FieldError{*ferr}})
			continue
		}
		b.Records = append(b.Records, rec)
	}
	if _, err := dec.ReadToken(); err != nil {
		return b, err
	}
	if _, err := dec.ReadToken(); err != io.EOF {
		return b, errors.New("data after the array")
	}
	return b, nil
}

// decodeOneLogRecord reads the next value of dec as a log record. A value
// that is not a record, or a member of the wrong type, yields a field error
// (the value is consumed either way); err is a syntax error of the body.
func decodeOneLogRecord(dec *jsontext.Decoder) (rec domain.LogRecord, unknown int, ferr *domain.FieldError, err error) {
	if dec.PeekKind() != '{' {
		if err := dec.SkipValue(); err != nil {
			return rec, 0, nil, err
		}
		return rec, 0, &domain.FieldError{Field: "record", Message: "not a log record object"}, nil
	}
	if _, err := dec.ReadToken(); err != nil {
		return rec, 0, nil, err
	}
	var seen logField
	fail := func(field, msg string) {
		if ferr == nil {
			ferr = &domain.FieldError{Field: field, Message: msg}
		}
	}
	for dec.PeekKind() != '}' {
		name, err := dec.ReadValue() // the member name, quoted
		if err != nil {
			return rec, 0, nil, err
		}
		nameBytes := unquoteName(name)
		f, known := logFieldNames[string(nameBytes)]
		if !known {
			unknown++
			if err := dec.SkipValue(); err != nil {
				return rec, 0, nil, err
			}
			continue
		}
		if seen&f != 0 {
			fail(f.String(), "appears more than once")
		}
		seen |= f
		kind := dec.PeekKind()
		if kind == 'n' { // null: the field is absent
			if _, err := dec.ReadValue(); err != nil {
				return rec, 0, nil, err
			}
			continue
		}
		v, err := dec.ReadValue()
		if err != nil {
			return rec, 0, nil, err
		}
		if ferr != nil {
			continue // already refused; keep the tokenizer in step
		}
		switch f {
		case fRequestID, fCreatedAt, fNamespace, fModel, fUpstreamModel, fClientIP, fError, fBalancerID:
			if kind != '"' {
				fail(f.String(), "has the wrong type (must be a string)")
				continue
			}
			s, err := unquoteString(v)
			if err != nil {
				fail(f.String(), "is not a valid string")
				continue
			}
			switch f {
			case fRequestID:
				rec.RequestID = s
			case fCreatedAt:
				if s == "" {
					continue // absent: the time of receipt
				}
				t, err := time.Parse(time.RFC3339Nano, s)
				if err != nil {
					fail("created_at", "not an RFC 3339 date-time")
					continue
				}
				rec.CreatedAt = t
			case fNamespace:
				rec.Namespace = s
			case fModel:
				rec.Model = s
			case fUpstreamModel:
				rec.UpstreamModel = s
			case fClientIP:
				rec.ClientIP = s
			case fError:
				rec.Error = s
			case fBalancerID:
				rec.BalancerID = s
			}
		case fStream:
			if kind != 't' && kind != 'f' {
				fail(f.String(), "has the wrong type (must be a boolean)")
				continue
			}
			rec.Stream = kind == 't'
		case fCostUSD:
			if kind != '0' {
				fail(f.String(), "has the wrong type (must be a number)")
				continue
			}
			x, err := strconv.ParseFloat(string(v), 64)
			if err != nil {
				fail(f.String(), "is out of range")
				continue
			}
			rec.CostUSD = &x
		default: // integers
			if kind != '0' {
				fail(f.String(), "has the wrong type (must be an integer)")
				continue
			}
			n, err := strconv.ParseInt(string(v), 10, 64)
			if err != nil {
				if errors.Is(err, strconv.ErrRange) {
					fail(f.String(), "is out of range")
				} else {
					fail(f.String(), "has the wrong type (must be an integer)")
				}
				continue
			}
			switch f {
			case fKeyID:
				rec.KeyID = &n
			case fMasterID:
				rec.MasterID = &n
			case fProviderID:
				rec.ProviderID = &n
			case fStatusCode:
				rec.StatusCode = int(n)
			case fLatencyMS:
				rec.LatencyMS = int(n)
			case fTTFTMS:
				rec.TTFTMS = int(n)
			case fPromptTokens:
				rec.PromptTokens = n
			case fCompletionTokens:
				rec.CompletionTokens = n
			case fCachedTokens:
				rec.CachedTokens = n
			}
		}
	}
	if _, err := dec.ReadToken(); err != nil {
		return rec, 0, nil, err
	}
	if ferr != nil {
		return domain.LogRecord{}, unknown, ferr, nil
	}
	return rec, unknown, nil, nil
}

// unquoteName returns a quoted member name unquoted; names without escapes
// (all of the contract's) are sliced, not copied.
func unquoteName(v jsontext.Value) []byte {
	if len(v) >= 2 && bytes.IndexByte(v, '\\') < 0 {
		return v[1 : len(v)-1]
	}
	b, _ := jsontext.AppendUnquote(nil, v) // the tokenizer has checked the string
	return b
}

func unquoteString(v jsontext.Value) (string, error) {
	if len(v) >= 2 && bytes.IndexByte(v, '\\') < 0 {
		return string(v[1 : len(v)-1]), nil
	}
	b, err := jsontext.AppendUnquote(nil, v)
	return string(b), err
}

// decodeLogRecord decodes one record; the error names the field.
func decodeLogRecord(raw []byte) (domain.LogRecord, []domain.FieldError) {
	dec := jsontext.NewDecoder(bytes.NewReader(raw), jsontext.AllowDuplicateNames(true))
	rec, _, ferr, err := decodeOneLogRecord(dec)
	if err == nil {
		if _, eof := dec.ReadToken(); eof != io.EOF {
			err = errors.New("data after the record")
		}
	}
	if err != nil {
		return domain.LogRecord{}, []domain.FieldError{{Field: "record", Message: "not a log record object"}}
	}
	if ferr != nil {
		return domain.LogRecord{}, []domain.FieldError{*ferr}
	}
	return rec, nil
}

// badLogBody is the 400 for a body that is not a JSON array.
func badLogBody(err error) error {
	return &ProblemError{Status: http.StatusBadRequest, Detail: "body: not a JSON array of log records",
		Fields: []domain.FieldError{{Field: "body", Message: "not a JSON array of log records"}}, Cause: err}
}

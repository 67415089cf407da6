// Package domain holds ezapi's entities, value rules and sentinel errors.
// It imports only the standard library.
package domain

import (
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Sentinel errors. Adapters translate driver errors into these once, at the
// edge; the HTTP adapter maps them to statuses in one table.
var (
	ErrNotFound        = errors.New("not found")
	ErrConflict        = errors.New("conflict")
	ErrInvalid         = errors.New("invalid")
	ErrForbidden       = errors.New("forbidden")
	ErrUnauthenticated = errors.New("unauthenticated")
	ErrUnavailable     = errors.New("unavailable")
	ErrRateLimited     = errors.New("rate limited")
)

// FieldError names one invalid input field and why it is invalid.
type FieldError struct {
	Field   string
	Message string
}

// ValidationError is an ErrInvalid carrying the offending fields.
type ValidationError struct {
	Fields []FieldError
}

// NewValidationError builds a ValidationError for a single field.
func NewValidationError(field, message string) *ValidationError {
	return &ValidationError{Fields: []FieldError{{Field: field, Message: message}}}
}

// Add appends a field error and returns the receiver for chaining.
func (e *ValidationError) Add(field, message string) *ValidationError {
	e.Fields = append(e.Fields, FieldError{Field: field, Message: message})
	return e
}

// OrNil returns nil when no field was added, so callers can build one up and
// return it unconditionally.
func (e *ValidationError) OrNil() error {
	if e == nil || len(e.Fields) == 0 {
		return nil
	}
	return e
}

func (e *ValidationError) Error() string {
	if len(e.Fields) == 0 {
		return "invalid input"
	}
	msg := e.Fields[0].Field + ": " + e.Fields[0].Message
	if n := len(e.Fields) - 1; n > 0 {
		msg += " (and " + strconv.Itoa(n) + " more)"
	}
	return msg
}

// Unwrap makes errors.Is(err, ErrInvalid) hold.
func (e *ValidationError) Unwrap() error { return ErrInvalid }

// ForbiddenFieldError is an ErrForbidden naming the fields the caller may
// not set that way (e.g. a tenant lifting a cap of its master).
type ForbiddenFieldError struct {
	Fields []FieldError
}

// NewForbiddenField builds a ForbiddenFieldError for one field.
func NewForbiddenField(field, message string) *ForbiddenFieldError {
	return &ForbiddenFieldError{Fields: []FieldError{{Field: field, Message: message}}}
}

// Add appends a field and returns the receiver for chaining.
func (e *ForbiddenFieldError) Add(field, message string) *ForbiddenFieldError {
	e.Fields = append(e.Fields, FieldError{Field: field, Message: message})
	return e
}

// OrNil returns nil when no field was added.
func (e *ForbiddenFieldError) OrNil() error {
	if e == nil || len(e.Fields) == 0 {
		return nil
	}
	return e
}

func (e *ForbiddenFieldError) Error() string {
	if len(e.Fields) == 0 {
		return "forbidden"
	}
	msg := e.Fields[0].Field + ": " + e.Fields[0].Message
	if n := len(e.Fields) - 1; n > 0 {
		msg += " (and " + strconv.Itoa(n) + " more)"
	}
	return msg
}

// Unwrap makes errors.Is(err, ErrForbidden) hold.
func (e *ForbiddenFieldError) Unwrap() error { return ErrForbidden }

// RateLimitedError is an ErrRateLimited that says when to try again.
type RateLimitedError struct {
	Reason     string
	RetryAfter time.Duration
}

func (e *RateLimitedError) Error() string {
	return fmt.Sprintf("%s; retry in %s", e.Reason, e.RetryAfter.Round(time.Second))
}

// Unwrap makes errors.Is(err, ErrRateLimited) hold.
func (e *RateLimitedError) Unwrap() error { return ErrRateLimited }

package domain

// Field is one field of a partial update: unset leaves the value alone,
// set with a nil Value clears it (JSON null), set with a Value replaces it.
type Field[T any] struct {
	Set   bool
	Value *T
}

// SetTo is a Field that replaces the value with v.
func SetTo[T any](v T) Field[T] { return Field[T]{Set: true, Value: &v} }

// Cleared is a Field that clears the value.
func Cleared[T any]() Field[T] { return Field[T]{Set: true} }

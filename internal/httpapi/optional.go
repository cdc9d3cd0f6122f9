package httpapi

import (
	"encoding/json"
	"reflect"
)

// Optional is a request field that may be absent, null, or set. PATCH
// needs all three: absent leaves a field unchanged, null clears it.
type Optional[T any] struct {
	Set   bool // the key was present
	Null  bool // its value was null
	Value T
}

// UnmarshalJSON is only called when the key is present.
func (o *Optional[T]) UnmarshalJSON(b []byte) error {
	o.Set = true
	if string(b) == "null" {
		o.Null = true
		return nil
	}
	return json.Unmarshal(b, &o.Value)
}

// Present reports whether the key was sent with a non-null value.
func (o Optional[T]) Present() bool { return o.Set && !o.Null }

// optionalElem lets the request checker and the OpenAPI generator see
// through Optional to the type it carries.
func (Optional[T]) optionalElem() reflect.Type { return reflect.TypeFor[T]() }

type optionalType interface{ optionalElem() reflect.Type }

var optionalIface = reflect.TypeFor[optionalType]()

package httpapi

import (
	"encoding/json"
	"reflect"

	"github.com/switchboard-hq/switchboard/internal/validation"
)

// patchObject is a nested object in a PATCH body. The contract says PATCH
// merges nested objects, so the raw JSON is kept and merged onto the
// stored value; the request checker still sees T, so unknown keys (400)
// and wrong types (422) are caught before anything is loaded.
type patchObject[T any] struct {
	Raw json.RawMessage
}

// UnmarshalJSON keeps the raw bytes.
func (p *patchObject[T]) UnmarshalJSON(b []byte) error {
	p.Raw = append(p.Raw[:0], b...)
	return nil
}

func (patchObject[T]) optionalElem() reflect.Type { return reflect.TypeFor[T]() }

// onto merges the patch onto base (nil base: the patch alone) and decodes
// the result into a fresh T. Field errors are prefixed with field.
func (p patchObject[T]) onto(field string, base *T) (*T, error) {
	merged := []byte(p.Raw)
	if base != nil {
		b, err := json.Marshal(base)
		if err != nil {
			return nil, err
		}
		merged, err = mergePatch(b, p.Raw)
		if err != nil {
			return nil, err
		}
	}
	var out T
	if err := decodeJSON(merged, &out); err != nil {
		return nil, prefixProblem(field, err)
	}
	return &out, nil
}

// mergePatch applies an RFC 7386 JSON merge patch: objects merge key by
// key, null deletes a key, anything else replaces.
func mergePatch(base, patch []byte) ([]byte, error) {
	var b, p any
	if err := json.Unmarshal(base, &b); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(patch, &p); err != nil {
		return nil, err
	}
	return json.Marshal(mergeValue(b, p))
}

func mergeValue(base, patch any) any {
	po, ok := patch.(map[string]any)
	if !ok {
		return patch
	}
	bo, ok := base.(map[string]any)
	if !ok {
		bo = map[string]any{}
	}
	for k, v := range po {
		if v == nil {
			delete(bo, k)
			continue
		}
		bo[k] = mergeValue(bo[k], v)
	}
	return bo
}

// prefixProblem puts field in front of every field a problem names.
func prefixProblem(field string, err error) error {
	p, ok := err.(*Problem)
	if !ok {
		return err
	}
	out := *p
	out.Errors = make([]validation.Error, len(p.Errors))
	for i, e := range p.Errors {
		name := e.Field
		if name == "(body)" {
			name = ""
		}
		out.Errors[i] = validation.Error{Field: validation.Join(field, name), Message: e.Message}
	}
	if len(out.Errors) == 1 {
		out.Detail = out.Errors[0].Field + ": " + out.Errors[0].Message
	}
	return &out
}

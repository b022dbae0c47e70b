package config

import (
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"github.com/yosuke-furukawa/json5/encoding/json5"
)

// fieldError is a type or key problem at a key path of the config.
type fieldError struct {
	Key string
	Msg string
}

func (e *fieldError) Error() string { return e.Key + ": " + e.Msg }

// decodeStrict copies a decoded JSON5 tree (json5.Number for numbers) into
// dst, rejecting unknown keys and wrong types. The json5 library's own
// Unmarshal ignores unknown keys and coerces nothing usefully; doing it here
// keeps every error tied to a key path.
func decodeStrict(path string, src any, dst reflect.Value) error {
	if src == nil {
		// null leaves the default in place.
		return nil
	}
	switch dst.Kind() {
	case reflect.Struct:
		obj, ok := src.(map[string]any)
		if !ok {
			return typeError(path, "an object", src)
		}
		fields := structFields(dst.Type())
		keys := make([]string, 0, len(obj))
		for k := range obj {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			idx, ok := fields[k]
			if !ok {
				return &fieldError{Key: joinPath(path, k), Msg: "unknown key" + suggest(k, fields)}
			}
			if err := decodeStrict(joinPath(path, k), obj[k], dst.Field(idx)); err != nil {
				return err
			}
		}
		return nil
	case reflect.Map:
		obj, ok := src.(map[string]any)
		if !ok {
			return typeError(path, "an object", src)
		}
		// A map in the file replaces the default map whole: a config that
		// lists its tools means exactly those tools.
		dst.Set(reflect.MakeMapWithSize(dst.Type(), len(obj)))
		for k, v := range obj {
			elem := reflect.New(dst.Type().Elem()).Elem()
			if err := decodeStrict(joinPath(path, k), v, elem); err != nil {
				return err
			}
			dst.SetMapIndex(reflect.ValueOf(k), elem)
		}
		return nil
	case reflect.Slice:
		arr, ok := src.([]any)
		if !ok {
			return typeError(path, "a list", src)
		}
		out := reflect.MakeSlice(dst.Type(), len(arr), len(arr))
		for i, v := range arr {
			if err := decodeStrict(path+"["+strconv.Itoa(i)+"]", v, out.Index(i)); err != nil {
				return err
			}
		}
		dst.Set(out)
		return nil
	case reflect.String:
		s, ok := src.(string)
		if !ok {
			return typeError(path, "a string", src)
		}
		if strings.IndexByte(s, 0) >= 0 {
			return &fieldError{Key: path, Msg: "contains a NUL byte"}
		}
		dst.SetString(s)
		return nil
	case reflect.Bool:
		b, ok := src.(bool)
		if !ok {
			return typeError(path, "true or false", src)
		}
		dst.SetBool(b)
		return nil
	case reflect.Int, reflect.Int64:
		n, ok := src.(json5.Number)
		if !ok {
			return typeError(path, "a whole number", src)
		}
		i, err := strconv.ParseInt(string(n), 10, 64)
		if err != nil {
			return &fieldError{Key: path, Msg: fmt.Sprintf("want a whole number, got %s", n)}
		}
		if dst.Kind() == reflect.Int && (i > math.MaxInt32 || i < math.MinInt32) {
			return &fieldError{Key: path, Msg: fmt.Sprintf("%d is out of range", i)}
		}
		dst.SetInt(i)
		return nil
	}
	return &fieldError{Key: path, Msg: "cannot be set from a config file"}
}

func structFields(t reflect.Type) map[string]int {
	out := make(map[string]int, t.NumField())
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name == "" || name == "-" {
			continue
		}
		out[name] = i
	}
	return out
}

func typeError(path, want string, got any) error {
	return &fieldError{Key: path, Msg: fmt.Sprintf("want %s, got %s", want, describe(got))}
}

func describe(v any) string {
	switch v := v.(type) {
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case json5.Number:
		return "the number " + string(v)
	case []any:
		return "a list"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

// suggest names the closest known key, for typos like "alowed_paths".
func suggest(key string, fields map[string]int) string {
	best, bestDist := "", 3
	for f := range fields {
		if d := editDistance(key, f); d < bestDist || (d == bestDist && f < best) {
			best, bestDist = f, d
		}
	}
	known := make([]string, 0, len(fields))
	for f := range fields {
		known = append(known, f)
	}
	sort.Strings(known)
	if best != "" {
		return fmt.Sprintf(" (did you mean %q?)", best)
	}
	return " (known keys: " + strings.Join(known, ", ") + ")"
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

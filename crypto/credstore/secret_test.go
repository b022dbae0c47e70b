package credstore

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func TestSecretNeverPrints(t *testing.T) {
	const value = "sk-live-THIS-MUST-NOT-PRINT"
	sec := newSecret([]byte(value))
	type wrapper struct {
		Name string
		Key  Secret
	}
	type hidden struct{ key Secret }
	jsonOf := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	var logBuf bytes.Buffer
	slog.New(slog.NewJSONHandler(&logBuf, nil)).Info("x", "secret", sec)

	tests := []struct {
		name string
		got  string
	}{
		{"%v", fmt.Sprintf("%v", sec)},
		{"%+v", fmt.Sprintf("%+v", sec)},
		{"%#v", fmt.Sprintf("%#v", sec)},
		{"%s", fmt.Sprintf("%s", sec)},
		{"%q", fmt.Sprintf("%q", sec)},
		{"%x", fmt.Sprintf("%x", sec)},
		{"%X", fmt.Sprintf("%X", sec)},
		{"%d", fmt.Sprintf("%d", sec)},
		{"pointer %v", fmt.Sprintf("%v", &sec)},
		{"Println", fmt.Sprintln(sec)},
		{"String", sec.String()},
		{"GoString", sec.GoString()},
		{"in a struct %+v", fmt.Sprintf("%+v", wrapper{"openai", sec})},
		{"in a struct %#v", fmt.Sprintf("%#v", wrapper{"openai", sec})},
		{"unexported field %+v", fmt.Sprintf("%+v", hidden{sec})},
		{"unexported field %#v", fmt.Sprintf("%#v", hidden{sec})},
		{"in a slice", fmt.Sprintf("%v", []Secret{sec})},
		{"in a map", fmt.Sprintf("%v", map[string]Secret{"k": sec})},
		{"json", jsonOf(sec)},
		{"json in a struct", jsonOf(wrapper{"openai", sec})},
		{"json map key", jsonOf(map[string]Secret{"k": sec})},
		{"slog", logBuf.String()},
		{"error wrap", fmt.Errorf("failed with %v", sec).Error()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if strings.Contains(tt.got, value) || strings.Contains(tt.got, fmt.Sprintf("%x", value)) || strings.Contains(tt.got, "115 107") {
				t.Errorf("got %q, want no trace of the value", tt.got)
			}
		})
	}
	txt, _ := sec.MarshalText()
	if got, want := string(txt), "[REDACTED]"; got != want {
		t.Errorf("MarshalText: got %q, want %q", got, want)
	}
	if got, want := string(sec.Bytes()), value; got != want {
		t.Errorf("Bytes: got %q, want %q", got, want)
	}
}

func TestSecretZero(t *testing.T) {
	buf := []byte("sk-zero-me")
	sec := newSecret(buf)
	cp := sec
	cp.Zero()
	if !allZero(buf) {
		t.Errorf("Zero left %q in the buffer", buf)
	}
	if sec.Bytes() != nil {
		t.Errorf("Bytes after Zero of a copy: got %q, want nil", sec.Bytes())
	}
	var empty Secret
	empty.Zero()
	if empty.Bytes() != nil {
		t.Errorf("Bytes of the zero Secret: got %q, want nil", empty.Bytes())
	}
}

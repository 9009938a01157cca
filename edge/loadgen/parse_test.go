package loadgen

import (
	"bufio"
	"strings"
	"testing"
)

func TestLoadNote(t *testing.T) {
	tests := []struct {
		name, payload, want string
		ok                  bool
	}{
		{"Created", `{"event":"order.created","order":{"id":"o1","lines":[{"note":""}],"note":"load-42","status":"placed"}}`, "load-42", true},
		{"Updated", `{"event":"order.updated","order":{"id":"o1","note":"load-42"}}`, "", false},
		{"QueueEntry", `{"id":"o1","note":"load-42"}`, "", false},
		{"OpenOrder", `{"event":"order.created","order":{"id":"o1","note":"open-7"}}`, "", false},
		{"Truncated", `{"event":"order.created","order":{"note":"load-4`, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := loadNote([]byte(tt.payload))
			if got != tt.want || ok != tt.ok {
				t.Fatalf("loadNote=%q,%v, want %q,%v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestNextEvent(t *testing.T) {
	long := strings.Repeat("x", 10_000) // longer than the reader's buffer
	stream := "event: order\ndata: {\"a\":1}\n\n: keep-alive\n\nevent: order\ndata: " + long + "\n\n"
	br := bufio.NewReaderSize(strings.NewReader(stream), 16)
	for _, want := range []string{`{"a":1}`, long} {
		got, err := nextEvent(br)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != want {
			t.Fatalf("event data=%.40q, want %.40q", got, want)
		}
	}
	if _, err := nextEvent(br); err == nil {
		t.Fatal("nextEvent after the last event: no error, want EOF")
	}
}

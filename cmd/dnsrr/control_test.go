package main

import "testing"

// TestOneLine: a backend's error reaches the status table on one line,
// with nothing a terminal would act on: control characters (ESC, BEL, C1
// CSI) and the bidirectional overrides and isolates become spaces.
func TestOneLine(t *testing.T) {
	for _, c := range []struct {
		s    string
		max  int
		want string
	}{
		{`Get "http://192.0.2.1/": EOF`, 80, `Get "http://192.0.2.1/": EOF`},
		{"status 503 \x1b[31mred\x1b]0;owned\x07!", 80, "status 503 [31mred ]0;owned !"},
		{"line\r\nbreak\ttab", 80, "line break tab"},
		{"\u009b2J C1", 80, "2J C1"},
		{"up \u202edown", 80, "up down"},
		{"a\u2066b\u2069c\u200fd", 80, "a b c d"},
		{"café €", 80, "café €"},
		{"abcdefghijk", 10, "abcdefghij…"},
	} {
		if got := oneLine(c.s, c.max); got != c.want {
			t.Errorf("oneLine(%q, %d) = %q, want %q", c.s, c.max, got, c.want)
		}
	}
}

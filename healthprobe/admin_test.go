package healthprobe

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestLocalOnly(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	h := LocalOnly(ok, "127.0.0.1:8053")
	cases := []struct {
		name, method, host, origin string
		want                       int
	}{
		{"bound address", "GET", "127.0.0.1:8053", "", http.StatusOK},
		{"localhost", "POST", "localhost:8053", "", http.StatusOK},
		{"rebound name", "POST", "evil.example:8053", "", http.StatusForbidden},
		{"other port", "GET", "127.0.0.1:9999", "", http.StatusForbidden},
		{"page posting", "POST", "127.0.0.1:8053", "http://evil.example", http.StatusForbidden},
		{"page deleting", "DELETE", "127.0.0.1:8053", "null", http.StatusForbidden},
		{"page reading", "GET", "127.0.0.1:8053", "http://evil.example", http.StatusOK},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest(c.method, "http://"+c.host+"/drain", nil)
			r.Host = c.host
			if c.origin != "" {
				r.Header.Set("Origin", c.origin)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != c.want {
				t.Errorf("%s %s Host=%s Origin=%q: %d, want %d", c.method, "/drain", c.host, c.origin, w.Code, c.want)
			}
		})
	}
}

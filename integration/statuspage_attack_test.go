package integration

// The status page and the admin listeners under hostile input: a backend
// that chooses its own error text, odd methods and oversized requests.

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestStatusPageBackendEscapes: a backend answers its health check with a
// reason phrase of terminal escape sequences (colour, clear screen, window
// title) and markup. The page shows the error with each control character
// written out (\x1b), so `curl` of the page to a terminal runs none of
// them, and the markup escaped; /status carries it JSON-escaped.
func TestStatusPageBackendEscapes(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	ln, err := net.Listen("tcp", l.hostport(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	const reason = "\x1b[31mred\x1b[2J\x1b]0;owned\x07\u009b1m<script>alert(1)</script>"
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(10 * time.Second))
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					if err != nil || line == "\r\n" {
						break
					}
				}
				io.WriteString(c, "HTTP/1.1 503 "+reason+"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
			}()
		}
	}()
	zone := checkTOML("web", "http", l.port, fast) + poolTOML("www", l.ips(1), `check = "web"`)
	s, adm, _ := startHealthServer(t, "evil.status.test.", zone, "", "")
	_ = s
	adm.waitMember("www.evil.status.test.", l.ip(1), "down with the backend's error", func(m memberDoc) bool {
		return m.State == "down" && strings.Contains(m.LastError, "red")
	})
	code, body, _ := adm.do(http.MethodGet, "/?refresh=0")
	page := string(body)
	if code != http.StatusOK {
		t.Fatalf("GET /: %d", code)
	}
	for _, c := range []string{"\x1b", "\x07", "\u009b", "<script"} {
		if strings.Contains(page, c) {
			t.Errorf("the page holds %q from the backend's reason phrase", c)
		}
	}
	if want := `status 503 \x1b[31mred\x1b[2J\x1b]0;owned\x07\x9b1m&lt;script&gt;`; !strings.Contains(page, want) {
		i := strings.Index(page, "status 503")
		t.Errorf("the page does not show the error escaped as %q; it shows:\n%.200q", want, page[max(i, 0):])
	}
}

// TestConsoleLogNoColorInFiles: the console log format writes no colour
// codes when its output is not a terminal (here a pipe, as under systemd
// or a redirect): they are escape sequences in a file or the journal.
func TestConsoleLogNoColorInFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	zone := writeFile(t, dir, "bad.toml", "origin = \"bad.test.\"\nnonsense = 1\n")
	_, stderr, code := runDNSRR(t, "serve", "-zone", zone, "-log-format", "console", "-listen", "127.0.0.1:0")
	if code != 1 || !strings.Contains(stderr, "nonsense") {
		t.Fatalf("exit %d, stderr %q: want exit 1 naming the bad key", code, stderr)
	}
	if strings.Contains(stderr, "\x1b") {
		t.Errorf("console log to a pipe holds escape sequences: %q", stderr)
	}
}

package healthprobe

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
)

// maxHeaderBytes caps a probe response's headers: a health endpoint has no
// business sending more.
const maxHeaderBytes = 64 << 10

// httpProbe is an http or https check bound to one address, with its own
// client so that TLS settings never leak between checks.
type httpProbe struct {
	check     *Check
	url       string
	userAgent string
	transport *http.Transport
	client    *http.Client
	weight    weightReport // of the probe running; one at a time per target
}

func newHTTPProbe(ap netip.AddrPort, c *Check, userAgent string) *httpProbe {
	u := &url.URL{Scheme: c.Kind, Host: ap.String()}
	// Validate accepted Path as a request URI, so this cannot fail.
	if ru, err := url.ParseRequestURI(c.Path); err == nil {
		u.Path, u.RawPath, u.RawQuery = ru.Path, ru.RawPath, ru.RawQuery
	}
	tr := &http.Transport{
		// Never a proxy: the point is to reach this address directly,
		// whatever HTTP_PROXY says.
		Proxy:       nil,
		DialContext: dialerFrom(c.Source, ap.Addr()).DialContext,
		// A connection reused from an earlier probe would hide a server
		// that no longer accepts new ones; each probe dials afresh.
		DisableKeepAlives:      true,
		MaxResponseHeaderBytes: maxHeaderBytes,
		TLSClientConfig: &tls.Config{
			// "" verifies against the address (its IP SANs).
			ServerName:         c.serverName(),
			RootCAs:            c.RootCAs,
			InsecureSkipVerify: c.InsecureSkipVerify,
			MinVersion:         tls.VersionTLS12,
		},
	}
	return &httpProbe{
		check:     c,
		url:       u.String(),
		userAgent: userAgent,
		transport: tr,
		client: &http.Client{
			Transport: tr,
			// The first answer is the result: a 3xx is judged by Status,
			// and a redirect elsewhere must not make a dead host look alive.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
}

func (h *httpProbe) close() { h.transport.CloseIdleConnections() }

// probe sends one request and judges the status and, if asked, the body;
// a response that passes is read for the weight, if asked.
func (h *httpProbe) probe(ctx context.Context) (weightReport, error) {
	if err := h.judge(ctx); err != nil {
		return weightReport{}, err
	}
	if h.check.WeightHeader == "" {
		return weightReport{}, nil
	}
	return h.weight, nil
}

func (h *httpProbe) judge(ctx context.Context) error {
	h.weight = weightReport{}
	req, err := http.NewRequestWithContext(ctx, h.check.Method, h.url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("User-Agent", h.userAgent)
	if h.check.Host != "" {
		req.Host = h.check.Host
	}
	resp, err := h.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if !statusAccepted(resp.StatusCode, h.check.Status) {
		return &statusError{fmt.Sprintf("status %s, want %s", resp.Status, formatRanges(h.check.Status))}
	}
	if h.check.WeightHeader != "" {
		h.weight = readWeight(resp.Header, h.check.WeightHeader)
	}
	if h.check.BodyContains == "" {
		return nil
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, h.check.BodyLimit))
	if err != nil {
		return &bodyError{fmt.Errorf("read body: %w", err)}
	}
	if !bytes.Contains(body, []byte(h.check.BodyContains)) {
		return &bodyError{fmt.Errorf("body does not contain %q in its first %d bytes", h.check.BodyContains, h.check.BodyLimit)}
	}
	return nil
}

func statusAccepted(code int, ranges []StatusRange) bool {
	for _, r := range ranges {
		if code >= r.Min && code <= r.Max {
			return true
		}
	}
	return false
}

func formatRanges(ranges []StatusRange) string {
	s := make([]string, len(ranges))
	for i, r := range ranges {
		s[i] = r.String()
	}
	return strings.Join(s, ",")
}

package healthprobe

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"syscall"
)

// ErrorReason is why a probe failed, from a small fixed set, so that
// failures can be counted per target without one series per message.
type ErrorReason uint8

// The reasons a probe fails.
const (
	// ReasonTimeout: no result within the check's timeout.
	ReasonTimeout ErrorReason = iota
	// ReasonRefused: the connection was refused (nothing listens).
	ReasonRefused
	// ReasonUnreachable: no route to the host or its network.
	ReasonUnreachable
	// ReasonReset: the connection was reset or closed early.
	ReasonReset
	// ReasonTLS: the TLS handshake failed, or the certificate did not verify.
	ReasonTLS
	// ReasonHTTPStatus: an HTTP status the check does not accept.
	ReasonHTTPStatus
	// ReasonBody: the body could not be read or lacks body_contains.
	ReasonBody
	// ReasonOther: anything else.
	ReasonOther
	// NumErrorReasons is the number of reasons.
	NumErrorReasons
)

var errorReasonNames = [NumErrorReasons]string{"timeout", "refused", "unreachable", "reset", "tls", "http_status", "body", "other"}

// String returns the reason's name: "timeout", "refused", "unreachable",
// "reset", "tls", "http_status", "body" or "other".
func (r ErrorReason) String() string {
	if r < NumErrorReasons {
		return errorReasonNames[r]
	}
	return fmt.Sprintf("ErrorReason(%d)", uint8(r))
}

// statusError is an HTTP status the check does not accept.
type statusError struct{ msg string }

func (e *statusError) Error() string { return e.msg }

// bodyError is a body that cannot be read or lacks what the check wants.
type bodyError struct{ err error }

func (e *bodyError) Error() string { return e.err.Error() }
func (e *bodyError) Unwrap() error { return e.err }

// classify says why err failed a probe; timedOut reports that the probe's
// own deadline passed, whatever the error says.
func classify(err error, timedOut bool) ErrorReason {
	var (
		status *statusError
		body   *bodyError
		netErr net.Error
		// TLS failures come in many types: the verifier's, the alerts the
		// server sends, and records that are not TLS at all.
		verify *tls.CertificateVerificationError
		alert  tls.AlertError
		record tls.RecordHeaderError
		unkCA  x509.UnknownAuthorityError
		host   x509.HostnameError
		inval  x509.CertificateInvalidError
	)
	switch {
	case timedOut, errors.Is(err, context.DeadlineExceeded):
		return ReasonTimeout
	case errors.As(err, &status):
		return ReasonHTTPStatus
	case errors.As(err, &body):
		return ReasonBody
	case errors.Is(err, syscall.ECONNREFUSED):
		return ReasonRefused
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return ReasonUnreachable
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		// net/http's error when the server closes the connection before
		// the request is written: unexported, so known by its text.
		err != nil && strings.Contains(err.Error(), "server closed idle connection"):
		return ReasonReset
	case errors.As(err, &verify), errors.As(err, &alert), errors.As(err, &record),
		errors.As(err, &unkCA), errors.As(err, &host), errors.As(err, &inval):
		return ReasonTLS
	case errors.As(err, &netErr) && netErr.Timeout():
		return ReasonTimeout
	}
	return ReasonOther
}

// Counts are a Prober's totals since it was made, over every target it
// has had (removed ones included, unlike the View's per-target counts).
type Counts struct {
	// Probes run to a result, and Failures among them by reason.
	Probes   uint64
	Failures [NumErrorReasons]uint64
	// Transitions between up and down.
	Transitions uint64
}

// counts are the Prober's Counts, kept as atomics.
type counts struct {
	probes      atomic.Uint64
	failures    [NumErrorReasons]atomic.Uint64
	transitions atomic.Uint64
}

// Counts returns the totals so far.
func (p *Prober) Counts() Counts {
	var c Counts
	c.Probes = p.counts.probes.Load()
	for i := range c.Failures {
		c.Failures[i] = p.counts.failures[i].Load()
	}
	c.Transitions = p.counts.transitions.Load()
	return c
}

//go:build !unix

package dnsrr

// fdLimit is unknown here: the TCP cap is taken as configured.
func fdLimit() int { return 0 }

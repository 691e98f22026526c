package app

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/dnsrr/dnsrr/healthprobe"
	"github.com/rs/zerolog"
)

// startAdmin serves the admin API on addr ("" for none). A failure to
// listen is logged, not fatal: DNS matters more than its control panel.
func startAdmin(addr string, p *healthprobe.Prober, groups func() []healthprobe.Group, log zerolog.Logger) (stop func(), bound string) {
	if addr == "" {
		return func() {}, ""
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		log.Error().Err(err).Msg("cannot listen for the admin API; serving DNS without it")
		return func() {}, ""
	}
	handler := healthprobe.LocalOnly(healthprobe.AdminHandler(p, groups), ln.Addr().String())
	hs := &http.Server{Handler: handler, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error().Err(err).Msg("admin API stopped")
		}
	}()
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = hs.Shutdown(ctx)
	}, ln.Addr().String()
}

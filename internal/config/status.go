package config

import (
	"net/netip"
	"strings"

	"github.com/dnsrr/dnsrr/dnsrr"
	"github.com/dnsrr/dnsrr/zones/tomlfile"
)

// readStatusNames reads [health] status_label and status_clients: the CH
// TXT status names (dnsrr.StatusNames).
func readStatusNames(h *tomlfile.Table, c *HealthConfig) {
	if v, ok := h.String("status_label"); ok {
		if err := checkStatusLabel(v); err != nil {
			h.Errorf("status_label", "%q %s", v, err)
		}
		c.StatusNames.Label = strings.ToLower(v)
	}
	if v, ok := h.Strings("status_clients"); ok {
		if len(v) > dnsrr.MaxStatusClients {
			h.Errorf("status_clients", "lists %d prefixes; at most %d", len(v), dnsrr.MaxStatusClients)
			return
		}
		c.StatusNames.Clients = nil
		for i, s := range v {
			p, err := parsePrefix(s)
			if err != nil {
				h.ElemErrorf("status_clients", i, "%q is not an address or a prefix such as \"10.0.0.0/8\" or \"2001:db8::/32\"", s)
				continue
			}
			c.StatusNames.Clients = append(c.StatusNames.Clients, p)
		}
	}
}

// statusLabelError says what a status label may be.
type statusLabelError string

func (e statusLabelError) Error() string { return string(e) }

// checkStatusLabel accepts "" (off) or one DNS label of letters, digits,
// '-' and '_': a name an operator can type after dig without quoting.
func checkStatusLabel(s string) error {
	if s == "" {
		return nil
	}
	if len(s) > 63 {
		return statusLabelError("is longer than a DNS label (63 bytes)")
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return statusLabelError(`is not one DNS label of letters, digits, '-' and '_' (e.g. "_status"; "" turns the status names off)`)
		}
	}
	return nil
}

// parsePrefix reads a prefix, or an address as the prefix of that address
// alone; host bits set are an error, as they suggest a typo.
func parsePrefix(s string) (netip.Prefix, error) {
	if a, err := netip.ParseAddr(s); err == nil && a.Zone() == "" {
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return p, err
	}
	if p.Masked() != p {
		return p, statusLabelError("host bits set")
	}
	if p.Addr().Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
	}
	return p, nil
}

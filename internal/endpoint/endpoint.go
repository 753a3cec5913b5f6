// Package endpoint holds the checks mbd applies to the URL of a remote API before it sends a key
// there: an API key goes in clear text over plain http, so it is only sent that way to the same
// machine (a loopback host) unless the user says otherwise with MBD_ALLOW_INSECURE_KEY=1.
package endpoint

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
)

// AllowInsecureEnv names the environment variable that allows sending a key over plain http to
// another machine (a trusted network, a tunnel).
const AllowInsecureEnv = "MBD_ALLOW_INSECURE_KEY"

// CheckKey refuses to send a key (keyEnv names where it came from) to base over plain http
// unless the host is a loopback address or AllowInsecureEnv is 1. It returns nil when there is
// no key to send.
func CheckKey(base, keyEnv string, haveKey bool) error {
	if !haveKey {
		return nil
	}
	u, err := url.Parse(base)
	if err != nil {
		return fmt.Errorf("base URL is not a URL")
	}
	if !strings.EqualFold(u.Scheme, "http") || Loopback(u.Hostname()) || os.Getenv(AllowInsecureEnv) == "1" {
		return nil
	}
	return fmt.Errorf("refusing to send the API key in %s in clear text to %s (plain http to another machine): use https, unset %s, or set %s=1",
		keyEnv, u.Host, keyEnv, AllowInsecureEnv)
}

// Loopback reports whether host (a name or an address, without port) is this machine.
func Loopback(host string) bool {
	if strings.EqualFold(host, "localhost") || strings.HasSuffix(strings.ToLower(host), ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

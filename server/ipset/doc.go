// Package ipset holds the sets of trusted peers the server is given
// (--forwarded-allow-ips, --proxy-allow-from): parsed by the master to
// validate the flags, matched by the engine against each connection's peer.
package ipset

package harness

import (
	"crypto/tls"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
)

// tlsVars are the placeholders of a TLS instance: the files of the
// throw-away CA the harness makes in {rundir}/tls (see TLSFiles).
var tlsVars = map[string]string{
	"certfile": "TLS only: the server certificate (PEM) the harness's throw-away CA signed",
	"keyfile":  "TLS only: its private key (PKCS#8 PEM)",
	"cafile":   "TLS only: the CA certificate, for servers that verify client certificates",
}

func init() {
	for k, v := range tlsVars {
		Placeholders[k] = v
	}
}

// builtinTLS says how each built-in serves TLS, by name without
// DebianSuffix (Debian's builds take the same flags): either flags added to
// the command (args), or a rewrite of it (rewrite), or a config the prepare
// hook writes from {certfile} (inConfig); why, when it cannot.
var builtinTLS = map[string]struct {
	args     []string
	rewrite  func(cmd []string) []string
	inConfig bool
	why      string
}{
	"wsgikit":          {args: []string{"--certfile", "{certfile}", "--keyfile", "{keyfile}"}},
	"gunicorn-sync":    {args: gunicornTLS},
	"gunicorn-gthread": {args: gunicornTLS},
	"gunicorn-gevent":  {args: gunicornTLS},
	// --https-socket is --http-socket's TLS twin (one request per connection).
	"uwsgi":        {rewrite: uwsgiTLS},
	"uwsgi-http11": {why: "uWSGI has no TLS twin of --http11-socket (the keep-alive socket); the profile uwsgi has --https-socket"},
	// Granian's default minimum is TLS 1.3, which every client here speaks.
	"granian":  {args: []string{"--ssl-certificate", "{certfile}", "--ssl-keyfile", "{keyfile}"}},
	"cheroot":  {rewrite: cherootTLS},
	"gevent":   {args: []string{"--certfile", "{certfile}", "--keyfile", "{keyfile}"}},
	"mod_wsgi": {inConfig: true},
	"bjoern":   {why: "bjoern has no TLS"},
	"waitress": {why: "Waitress has no TLS (its documentation puts a proxy in front)"},
	"wsgiref":  {why: "wsgiref.simple_server has no TLS"},
}

var gunicornTLS = []string{"--certfile", "{certfile}", "--keyfile", "{keyfile}"}

// uwsgiTLS swaps --http-socket BIND for --https-socket BIND,CERT,KEY.
func uwsgiTLS(cmd []string) []string {
	out := slices.Clone(cmd)
	for i, a := range out {
		if a == "--http-socket" && i+1 < len(out) {
			out[i], out[i+1] = "--https-socket", out[i+1]+",{certfile},{keyfile}"
		}
	}
	return out
}

// cherootTLS runs Cheroot through its launcher: `python -m cheroot` has no
// TLS flags.
func cherootTLS(cmd []string) []string {
	return []string{cmd[0], "{launchers}/_launch_cheroot.py", "--host", "{host}", "--port", "{port}",
		"--threads", "{threads}", "--chdir", "{appdir}", "--certfile", "{certfile}", "--keyfile", "{keyfile}", "{app}"}
}

// withTLS fills in how a built-in serves TLS.
func withTLS(p *Profile) {
	t, ok := builtinTLS[strings.TrimSuffix(p.Name, DebianSuffix)]
	if !ok {
		return
	}
	p.TLSArgs, p.tlsRewrite, p.tlsInConfig, p.noTLS = t.args, t.rewrite, t.inConfig, t.why
}

// SupportsTLS reports whether the profile can start with Options.TLS, and
// why not.
func (p *Profile) SupportsTLS() (bool, string) {
	switch {
	case p.inner != nil:
		return false, "TLS behind nginx is not wired (nginx would terminate it)"
	case len(p.TLSArgs) > 0 || p.tlsRewrite != nil || p.tlsInConfig:
		return true, ""
	case p.noTLS != "":
		return false, p.noTLS
	}
	return false, "the profile has no tls_args (the flags that make the server listen with TLS, using {certfile} and {keyfile})"
}

// tlsCommand is the argv template of a TLS instance.
func (p *Profile) tlsCommand() []string {
	if p.tlsRewrite != nil {
		return p.tlsRewrite(p.Command)
	}
	return append(slices.Clone(p.Command), p.TLSArgs...)
}

// prepareTLS makes the instance's CA and certificates in {rundir}/tls and
// sets the TLS placeholders.
func prepareTLS(rundir string, vars map[string]string) (*TLSFiles, *tls.Config, error) {
	f, err := NewTLSFiles(filepath.Join(rundir, "tls"))
	if err != nil {
		return nil, nil, err
	}
	cfg, err := f.ClientConfig()
	if err != nil {
		return nil, nil, err
	}
	vars["certfile"], vars["keyfile"], vars["cafile"] = f.Cert, f.Key, f.CA
	return f, cfg, nil
}

// apacheTLS is the part of httpd.conf that makes the main server speak TLS
// ({apache_tls}; empty without TLS).
func apacheTLS(vars map[string]string) string {
	if vars["certfile"] == "" {
		return ""
	}
	return fmt.Sprintf("LoadModule ssl_module /usr/lib/apache2/modules/mod_ssl.so\nSSLEngine on\nSSLCertificateFile %q\nSSLCertificateKeyFile %q\n",
		vars["certfile"], vars["keyfile"])
}

// Scheme is "https" for an instance started with Options.TLS, else "http".
func (i *Instance) Scheme() string {
	if i.clientTLS != nil {
		return "https"
	}
	return "http"
}

// ClientTLS is a client configuration that trusts the instance's CA (and
// offers a client certificate), or nil without TLS. Each call returns a
// fresh copy the caller may change.
func (i *Instance) ClientTLS() *tls.Config {
	if i.clientTLS == nil {
		return nil
	}
	return i.clientTLS.Clone()
}

package harness

// WithArgs returns a copy of p whose command ends with args: extra server
// flags for one run (every built-in's command line takes flags after the
// app). Args are templates like the command's own ("{workers}" expands).
// Behind nginx, the flags go to the proxied server.
func (p *Profile) WithArgs(args ...string) *Profile {
	q := *p
	if p.inner != nil {
		q.inner = p.inner.WithArgs(args...)
		return &q
	}
	q.Command = append(append([]string(nil), p.Command...), args...)
	return &q
}

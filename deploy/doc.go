// Package deploy holds the recipes that run `wsgikit bench` agents on
// several load hosts with tools that already exist — pdsh over ssh
// (pdsh.sh) and a Kubernetes Indexed Job (kubernetes/) — and merge their
// parts with `wsgikit bench merge`. It has no code: its tests run the
// recipes as they are written (several agents on one machine, as
// processes and in network namespaces) and check the manifests against
// the Kubernetes API types.
package deploy

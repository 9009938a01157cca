// Package deploy holds what an operator runs Pantry with: the container
// image (Containerfile), a compose file for a local cloud, the systemd
// units, the Debian package (debian/) and the Kubernetes manifests (k8s/).
//
// It has no code of its own. Its tests build each artefact the way `make
// image` and `make package` do and check it with the tool that will read
// it: podman builds, inspects, exports and (where the machine lets it)
// runs the image; docker-compose validates the compose file;
// systemd-analyze verifies the units and rates their hardening; dpkg-deb
// and systemd-sysusers/tmpfiles take the package apart; the Kubernetes API
// types decode the manifests strictly. Every PANTRY_* variable and flag
// these files pass is checked against the real binary's --help.
package deploy

// Package identity is the agent's site identity: its private key and
// certificate on disk, enrollment with a relay, and renewal.
//
// Enrollment (`dray-agent enroll`): the agent makes an ECDSA P-256 key
// (written with mode 0600, never sent), and sends a certificate signing
// request with the operator's token to the relay's enrollment endpoint over
// HTTPS. The relay is trusted through the CA fingerprint the token pins,
// not through the system roots: the CA must be in the chain the relay
// presents, and the relay's certificate must chain to it and name the host.
// The certificate that comes back must be for the token's site and the
// agent's key; the agent then stores the CA (which it will trust for the
// uplink), the certificate and the key.
//
// Renewal: a running agent renews its certificate at two thirds of its
// lifetime, over mTLS with the current certificate, for a new key. Holder
// serves the current certificate to every TLS handshake
// (tls.Config.GetClientCertificate), so the next connection uses the new
// one without a restart; the relay closes a session whose certificate
// expires, which makes that next connection happen. The spool is not
// touched, so no event is lost.
//
// Files are replaced atomically (temporary file, fsync, rename). The key is
// renamed into place before the certificate; a crash between the two is
// rolled forward by Load.
package identity

// Package siteca is the relay's site certificate authority and site
// registry: who may connect, with which certificate, until when.
//
// # Identity
//
// A site is known to the relay only by its client certificate: the URI SAN
// urn:dray:site:<site> (internal/pki). This package is the only place that
// writes that SAN, and it takes the site from the enrollment token (or, on
// renewal, from the certificate being renewed), never from the certificate
// signing request: a CSR only proves possession of the key.
//
// # Tokens
//
// `dray-relay sites add <site>` makes a token:
//
//	dray1.<site>.<ca>.<secret>
//
// <ca> is the SHA-256 of the site CA certificate (base64url, 43 characters),
// which the agent pins when it talks to the relay for the first time;
// <secret> is 32 random bytes (base64url). The registry stores only the
// SHA-256 of the whole token, with its expiry (default 24 h). A token is
// single-use and bound to its site: the first successful enrollment spends
// it.
//
// # Registry
//
// The registry is a small JSON file (<data_dir>/sites.json), rewritten
// atomically (temporary file, fsync, rename, fsync of the directory) on
// every change, under one mutex. Per site it keeps the state (pending,
// active, revoked), the current token's hash and expiry, and the serial
// numbers and expiries of the certificates issued to it that have not
// expired yet. A connection is authorized when the site is active and its
// certificate's serial is one of those (Authorize): a revoked site gets
// 0x8A Banned, a certificate the registry does not know (superseded by a
// re-enrollment, issued by hand) 0x87 Not authorized.
//
// # Renewal
//
// Certificates are short-lived (default 30 days). An agent renews its own
// over mTLS, presenting the current certificate and a CSR for a new key;
// the relay refuses when the site is revoked, the certificate has expired
// or is unknown. Both the old and the new certificate stay valid until the
// old one expires, so a session on the old one is not cut by the renewal.
package siteca

// Package enroll is the relay's enrollment endpoint: HTTPS on its own
// listener, where an agent trades an enrollment token and a certificate
// signing request for its site certificate, and later renews that
// certificate over mTLS.
//
// Routes (JSON in and out; errors are {"error": "…", "code": "…"} with the
// codes of relay/siteca):
//
//	POST /v1/enroll   {"token", "site", "csr"}   no client certificate; the token
//	                                             names the site (site is the
//	                                             agent's own view, checked)
//	POST /v1/renew    {"csr"}                     the current site certificate as
//	                                             the TLS client certificate
//	GET  /healthz
//
// Both answer {"site", "certificate", "ca", "not_after"} (PEM). The server
// presents the relay's certificate followed by the site CA, whose
// fingerprint the token pins. The client certificate of a renewal is
// verified here, not in the handshake, so that an expired or foreign one
// gets an answer that says so. Every enrollment and renewal, refused or
// not, writes an audit line.
package enroll

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/draylink/dray/internal/pki"
	"github.com/draylink/dray/relay/siteca"
)

// Request is the body of POST /v1/enroll and POST /v1/renew (Token and
// Site only for enroll).
type Request struct {
	Token string `json:"token,omitempty"`
	Site  string `json:"site,omitempty"`
	// CSR is a PEM "CERTIFICATE REQUEST".
	CSR string `json:"csr"`
}

// Response answers a successful enrollment or renewal.
type Response struct {
	Site string `json:"site"`
	// Certificate and CA are PEM.
	Certificate string    `json:"certificate"`
	CA          string    `json:"ca"`
	NotAfter    time.Time `json:"not_after"`
}

// ErrorResponse is the body of every error answer.
type ErrorResponse struct {
	Error string `json:"error"`
	Code  string `json:"code"`
}

// maxBody caps request bodies.
const maxBody = 64 << 10

// Options configure New.
type Options struct {
	Registry *siteca.Registry
	// Certificate is the relay's server certificate, with the site CA in
	// its chain.
	Certificate tls.Certificate
	// Audit receives one line per enrollment and renewal.
	Audit  *slog.Logger
	Logger *slog.Logger
	// Now is the clock used to verify renewing certificates (default time.Now).
	Now func() time.Time
}

// Server is the enrollment endpoint.
type Server struct {
	opts Options
	log  *slog.Logger
	mux  *http.ServeMux
}

// New builds the endpoint.
func New(o Options) (*Server, error) {
	if o.Registry == nil {
		return nil, errors.New("enroll: a registry is required")
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Audit == nil {
		o.Audit = o.Logger
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	s := &Server{opts: o, log: o.Logger.With("component", "enroll"), mux: http.NewServeMux()}
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	s.mux.HandleFunc("POST /v1/enroll", s.enroll)
	s.mux.HandleFunc("POST /v1/renew", s.renew)
	return s, nil
}

// TLSConfig is the endpoint's server configuration: the relay's
// certificate, TLS 1.3, a client certificate requested (for renewals) but
// verified by the handler.
func (s *Server) TLSConfig() *tls.Config {
	return &tls.Config{
		Certificates: []tls.Certificate{s.opts.Certificate},
		ClientAuth:   tls.RequestClientCert,
		MinVersion:   tls.VersionTLS13,
	}
}

// Handler is the endpoint's plain HTTP handler (tests; Serve adds TLS).
func (s *Server) Handler() http.Handler { return s.mux }

// Serve serves HTTPS on ln until ctx ends, then shuts down (5 s grace).
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s.mux,
		TLSConfig:         s.TLSConfig(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      15 * time.Second,
		IdleTimeout:       30 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	done := make(chan error, 1)
	go func() { done <- srv.ServeTLS(ln, "", "") }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := srv.Shutdown(shut)
	if e := <-done; !errors.Is(e, http.ErrServerClosed) {
		err = errors.Join(err, e)
	}
	return err
}

func (s *Server) enroll(w http.ResponseWriter, r *http.Request) {
	var req Request
	if !decode(w, r, &req) {
		return
	}
	site := ""
	if t, err := siteca.ParseToken(req.Token); err == nil {
		site = t.Site
	}
	csr, err := parseCSR(req.CSR)
	var cert *x509.Certificate
	if err == nil {
		cert, err = s.opts.Registry.Enroll(req.Token, req.Site, csr)
	}
	s.answer(w, r, "enroll", site, req.Site, cert, err)
}

func (s *Server) renew(w http.ResponseWriter, r *http.Request) {
	var req Request
	if !decode(w, r, &req) {
		return
	}
	cur, site, err := s.clientCert(r)
	var cert *x509.Certificate
	if err == nil {
		var csr *x509.CertificateRequest
		if csr, err = parseCSR(req.CSR); err == nil {
			cert, err = s.opts.Registry.Renew(cur, csr)
		}
	}
	s.answer(w, r, "renew", site, "", cert, err)
}

// clientCert verifies the renewal's client certificate against the site CA.
func (s *Server) clientCert(r *http.Request) (*x509.Certificate, string, error) {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return nil, "", &siteca.Error{Code: siteca.CodeCertUnknown, Msg: "renewal needs the current site certificate as the TLS client certificate"}
	}
	cur := r.TLS.PeerCertificates[0]
	site, _ := pki.SiteFromCert(cur)
	inter := x509.NewCertPool()
	for _, c := range r.TLS.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	_, err := cur.Verify(x509.VerifyOptions{Roots: s.opts.Registry.CA().Pool(), Intermediates: inter,
		CurrentTime: s.opts.Now(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	if err != nil {
		var inv x509.CertificateInvalidError
		if errors.As(err, &inv) && inv.Reason == x509.Expired {
			return nil, site, &siteca.Error{Code: siteca.CodeCertExpired, Msg: fmt.Sprintf(
				"the certificate expired at %s: enroll again with a new token", cur.NotAfter.UTC().Format(time.RFC3339))}
		}
		return nil, site, &siteca.Error{Code: siteca.CodeCertUnknown, Msg: "the client certificate is not from this relay's site CA: " + err.Error()}
	}
	return cur, site, nil
}

func (s *Server) answer(w http.ResponseWriter, r *http.Request, action, site, claimed string, cert *x509.Certificate, err error) {
	if err != nil {
		status, code := http.StatusInternalServerError, "internal"
		var se *siteca.Error
		if errors.As(err, &se) {
			code = se.Code
			switch se.Code {
			case siteca.CodeBadRequest:
				status = http.StatusBadRequest
			case siteca.CodeTokenInvalid, siteca.CodeCertUnknown, siteca.CodeCertExpired:
				status = http.StatusUnauthorized
			default:
				status = http.StatusForbidden
			}
		} else {
			s.log.Error(action+" failed", "site", site, "err", err)
		}
		s.opts.Audit.Warn(action, "action", action, "site", site, "claimed_site", claimed, "remote", r.RemoteAddr,
			"outcome", "refused", "code", code, "why", err.Error())
		msg := err.Error()
		if se == nil {
			msg = "internal error"
		}
		writeJSON(w, status, ErrorResponse{Error: msg, Code: code})
		return
	}
	site, _ = pki.SiteFromCert(cert)
	s.opts.Audit.Info(action, "action", action, "site", site, "remote", r.RemoteAddr, "outcome", "issued",
		"serial", siteca.SerialHex(cert), "not_after", cert.NotAfter.UTC())
	writeJSON(w, http.StatusOK, Response{Site: site, Certificate: string(pki.CertPEM(cert)),
		CA: string(pki.CertPEM(s.opts.Registry.CA().Cert)), NotAfter: cert.NotAfter})
}

func parseCSR(p string) (*x509.CertificateRequest, error) {
	block, _ := pem.Decode([]byte(p))
	if block == nil || block.Type != "CERTIFICATE REQUEST" {
		return nil, &siteca.Error{Code: siteca.CodeBadRequest, Msg: "csr: want a PEM CERTIFICATE REQUEST"}
	}
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		return nil, &siteca.Error{Code: siteca.CodeBadRequest, Msg: "csr: " + err.Error()}
	}
	return csr, nil
}

func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeJSON(w, http.StatusBadRequest, ErrorResponse{Error: "bad request body: " + err.Error(), Code: siteca.CodeBadRequest})
		return false
	}
	return true
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

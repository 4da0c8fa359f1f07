package admin

import (
	"errors"
	"net/http"
	"time"

	"github.com/draylink/dray/relay/siteca"
)

// Sites is what the API needs of the site registry (the relay adds the
// live session state).
type Sites interface {
	List() []SiteStatus
	Add(site string, ttl time.Duration, by string) (siteca.Token, siteca.Site, error)
	Revoke(site, reason, by string) (siteca.Site, error)
}

// SiteStatus is one element of GET /v1/sites: the registry record (its
// token hash left out) and the live session.
type SiteStatus struct {
	siteca.Site
	Connected      bool      `json:"connected"`
	Remote         string    `json:"remote,omitempty"`
	ConnectedSince time.Time `json:"connected_since,omitzero"`
	// CertNotAfter is the expiry of the newest certificate issued.
	CertNotAfter time.Time `json:"cert_not_after,omitzero"`
}

// AddSiteRequest is the body of POST /v1/sites.
type AddSiteRequest struct {
	Site string `json:"site"`
	// TTL is the token's lifetime as a Go duration ("24h"; "" for the
	// relay's default).
	TTL string `json:"ttl,omitempty"`
}

// AddSiteResult answers POST /v1/sites: the token, shown this once.
type AddSiteResult struct {
	Site      string    `json:"site"`
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
}

// RevokeRequest is the body of POST /v1/sites/{site}/revoke.
type RevokeRequest struct {
	Reason string `json:"reason"`
}

func (s *Server) sites(w http.ResponseWriter) (Sites, bool) {
	if s.opts.Sites == nil {
		writeError(w, http.StatusNotFound, "enrollment is not configured on this relay (enrollment.listen)")
		return nil, false
	}
	return s.opts.Sites, true
}

func (s *Server) listSites(w http.ResponseWriter, _ *http.Request, _ Principal) {
	reg, ok := s.sites(w)
	if !ok {
		return
	}
	out := reg.List()
	for i := range out {
		if out[i].Token != nil {
			t := *out[i].Token
			t.SHA256 = "" // the hash stays in the registry
			out[i].Token = &t
		}
	}
	if out == nil {
		out = []SiteStatus{}
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) addSite(w http.ResponseWriter, r *http.Request, p Principal) {
	reg, ok := s.sites(w)
	if !ok {
		return
	}
	var req AddSiteRequest
	if !decodeBody(w, r, &req) {
		return
	}
	var ttl time.Duration
	if req.TTL != "" {
		d, err := time.ParseDuration(req.TTL)
		if err != nil {
			s.auditLine(r, p, ActionSiteAdd, "site", req.Site, "outcome", "refused", "err", "bad ttl")
			writeError(w, http.StatusBadRequest, "ttl: "+err.Error())
			return
		}
		ttl = d
	}
	tok, site, err := reg.Add(req.Site, ttl, p.Name)
	if err != nil {
		s.auditLine(r, p, ActionSiteAdd, "site", req.Site, "outcome", "refused", "err", err.Error())
		writeError(w, siteStatus(err), err.Error())
		return
	}
	s.auditLine(r, p, ActionSiteAdd, "site", site.Site, "outcome", "token_issued", "expires_at", site.Token.ExpiresAt)
	writeJSON(w, http.StatusCreated, AddSiteResult{Site: site.Site, Token: tok.String(), ExpiresAt: site.Token.ExpiresAt})
}

func (s *Server) revokeSite(w http.ResponseWriter, r *http.Request, p Principal) {
	reg, ok := s.sites(w)
	if !ok {
		return
	}
	var req RevokeRequest
	if !decodeBody(w, r, &req) {
		return
	}
	name := r.PathValue("site")
	site, err := reg.Revoke(name, req.Reason, p.Name)
	if err != nil {
		s.auditLine(r, p, ActionSiteRevoke, "site", name, "outcome", "refused", "err", err.Error())
		writeError(w, siteStatus(err), err.Error())
		return
	}
	s.auditLine(r, p, ActionSiteRevoke, "site", name, "outcome", "revoked", "reason", req.Reason)
	writeJSON(w, http.StatusOK, site)
}

func siteStatus(err error) int {
	var se *siteca.Error
	if !errors.As(err, &se) {
		return http.StatusInternalServerError
	}
	switch se.Code {
	case siteca.CodeUnknownSite:
		return http.StatusNotFound
	case siteca.CodeSiteExists:
		return http.StatusConflict
	}
	return http.StatusBadRequest
}

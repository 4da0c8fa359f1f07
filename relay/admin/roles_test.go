package admin

import (
	"context"
	"crypto/sha256"
	"errors"
	"log/slog"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/draylink/dray/relay/dispatch"
	"github.com/draylink/dray/relay/siteca"
)

type fakeSites struct{ revoked []string }

func (f *fakeSites) List() []SiteStatus {
	return []SiteStatus{{Site: siteca.Site{Site: "MEM1", State: siteca.StateActive, Token: &siteca.TokenRecord{SHA256: "secret-hash"}}}}
}

func (f *fakeSites) Add(site string, ttl time.Duration, by string) (siteca.Token, siteca.Site, error) {
	if site == "MEM1" {
		return siteca.Token{}, siteca.Site{}, &siteca.Error{Code: siteca.CodeSiteExists, Msg: "enrolled"}
	}
	return siteca.Token{Site: site, CAFingerprint: "fp", Secret: "s"},
		siteca.Site{Site: site, Token: &siteca.TokenRecord{ExpiresAt: time.Now().Add(ttl)}}, nil
}

func (f *fakeSites) Revoke(site, reason, by string) (siteca.Site, error) {
	f.revoked = append(f.revoked, site)
	return siteca.Site{Site: site, State: siteca.StateRevoked}, nil
}

// TestRoles: viewer reads, operator also redrives/discards/replays, admin
// also adds and revokes sites; refusals of state-changing calls are
// audited, and so are the allowed ones, with actor and role.
func TestRoles(t *testing.T) {
	e := newEnv(t)
	e.stop()
	dir := t.TempDir()
	af, err := OpenAuditLog(filepath.Join(dir, "audit.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer af.Close()
	e.audit = filepath.Join(dir, "audit.log")
	quiet := slog.New(slog.DiscardHandler)
	fs := &fakeSites{}
	adminSum := sha256.Sum256([]byte("admin-token-0123456789"))
	srv, err := New(Options{Sinks: map[string]Sink{"erp": e.sink}, DLQ: e.store, Sites: fs,
		Tokens: []Token{
			{Name: "val", Role: RoleViewer, Secret: "viewer-token-0123456789"},
			{Name: "otto", Role: RoleOperator, Secret: "operator-token-0123456789"},
			{Name: "ada", Role: RoleAdmin, SHA256: adminSum},
		}, Audit: AuditLogger(af, quiet), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	defer func() { cancel(); <-done }()
	base := "http://" + ln.Addr().String()
	client := func(tok string) *Client { return &Client{Base: base, Token: tok} }
	viewer, operator, adm := client("viewer-token-0123456789"), client("operator-token-0123456789"), client("admin-token-0123456789")
	status := func(err error) int {
		var ae *APIError
		if errors.As(err, &ae) {
			return ae.Status
		}
		if err != nil {
			t.Fatalf("unexpected %v", err)
		}
		return 200
	}
	e.put(5)
	e.put(6)
	cases := []struct {
		name string
		call func() error
		want int
	}{
		{"no token reads", func() error { _, err := client("").Sinks(ctx); return err }, 401},
		{"no token discards", func() error { _, err := client("").Discard(ctx, "erp", "5", "x"); return err }, 401},
		{"viewer reads sinks", func() error { _, err := viewer.Sinks(ctx); return err }, 200},
		{"viewer lists sites", func() error { _, err := viewer.Sites(ctx); return err }, 200},
		{"viewer discards", func() error { _, err := viewer.Discard(ctx, "erp", "5", "x"); return err }, 403},
		{"viewer redrives", func() error { _, err := viewer.Redrive(ctx, "erp", "5"); return err }, 403},
		{"viewer replays", func() error { _, err := viewer.StartReplay(ctx, "erp", replayReq()); return err }, 403},
		{"operator adds a site", func() error { _, err := operator.AddSite(ctx, "MEM9", ""); return err }, 403},
		{"operator revokes", func() error { _, err := operator.RevokeSite(ctx, "MEM1", "x"); return err }, 403},
		{"operator discards", func() error { _, err := operator.Discard(ctx, "erp", "5", "dup"); return err }, 200},
		{"admin discards", func() error { _, err := adm.Discard(ctx, "erp", "6", "dup"); return err }, 200},
		{"admin adds a site", func() error { _, err := adm.AddSite(ctx, "MEM9", "1h"); return err }, 200},
		{"admin adds an enrolled site", func() error { _, err := adm.AddSite(ctx, "MEM1", ""); return err }, 409},
		{"admin revokes", func() error { _, err := adm.RevokeSite(ctx, "MEM1", "stolen"); return err }, 200},
	}
	for _, c := range cases {
		if got := status(c.call()); got != c.want {
			t.Errorf("%s: HTTP %d; want %d", c.name, got, c.want)
		}
	}
	sites, err := viewer.Sites(ctx)
	if err != nil || len(sites) != 1 || sites[0].Token.SHA256 != "" {
		t.Errorf("sites %+v %v: the token hash must not leave the relay", sites, err)
	}
	if len(fs.revoked) != 1 {
		t.Errorf("revoked %v", fs.revoked)
	}
	type line struct{ action, actor, role, outcome string }
	var got []line
	for _, l := range e.auditLines() {
		s := func(k string) string { v, _ := l[k].(string); return v }
		got = append(got, line{s("action"), s("actor"), s("role"), s("outcome")})
	}
	want := []line{
		{"discard", "", "", "unauthenticated"},
		{"discard", "val", "viewer", "forbidden"},
		{"redrive", "val", "viewer", "forbidden"},
		{"replay", "val", "viewer", "forbidden"},
		{"site_add", "otto", "operator", "forbidden"},
		{"site_revoke", "otto", "operator", "forbidden"},
		{"discard", "otto", "operator", "discarded"},
		{"discard", "ada", "admin", "discarded"},
		{"site_add", "ada", "admin", "token_issued"},
		{"site_add", "ada", "admin", "refused"},
		{"site_revoke", "ada", "admin", "revoked"},
	}
	if len(got) != len(want) {
		t.Fatalf("audit lines %v; want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("audit line %d: %+v; want %+v", i, got[i], want[i])
		}
	}
	if _, err := New(Options{Tokens: []Token{{Name: "x", Role: "root", Secret: "0123456789abcdefgh"}}}); err == nil {
		t.Error("an unknown role was accepted")
	}
}

func replayReq() dispatch.ReplayRequest {
	return dispatch.ReplayRequest{Since: time.Now().Add(-time.Hour)}
}

package testenv_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/draylink/dray/agent/synthetic"
	"github.com/draylink/dray/canonical"
	"github.com/draylink/dray/internal/pki"
	"github.com/draylink/dray/internal/wire"
	"github.com/draylink/dray/relay/admin"
	"github.com/draylink/dray/testenv"
	"github.com/eclipse/paho.golang/packets"
)

// TestEnrollIntegration runs enrollment end to end with real relay and
// agent processes and a relay issuing 1-minute certificates:
//   - a fresh agent enrolls with a token and its events flow;
//   - the same token a second time, an expired token and a token for
//     another site are refused with clear errors;
//   - the agent renews its certificate by itself and keeps sending across
//     the expiry of the first one, without a restart, losing nothing;
//   - a revoked site is disconnected within seconds and refused (0x8A)
//     when it reconnects;
//   - another site's certificate cannot publish to this site's topic
//     (0x87) and nothing of it is stored;
//   - the admin API refuses a viewer's revoke and records what it allowed.
func TestEnrollIntegration(t *testing.T) {
	skipShort(t)
	env := testenv.New(t)
	r := env.NewEnrollRelay("relay", time.Minute)
	r.Start()

	// MEM1: enrolled, then runs across a renewal and the first
	// certificate's expiry (rate × count ≈ 75 s).
	const count = 7500
	a := env.NewEnrollingAgent("MEM1", r, synthetic.Config{Rate: 100, Count: count, BulkEvery: 5})
	withStatus(t, a)
	if out, err := a.Enroll("dray1.MEM1.bogus"); err == nil || !strings.Contains(out, "malformed") {
		t.Errorf("a malformed token: %v\n%s", err, out)
	}
	tok1 := r.AddSite("MEM1", 0)
	if !strings.HasPrefix(tok1, "dray1.MEM1.") {
		t.Fatalf("token %q", tok1)
	}
	if out, err := a.Enroll(tok1); err != nil {
		t.Fatalf("enroll MEM1: %v\n%s", err, out)
	}
	caFile, certFile, keyFile := a.IdentityFiles()
	if fi, err := os.Stat(keyFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("key file %s: %v %v; want mode 0600", keyFile, fi, err)
	}
	first := readCert(t, certFile)
	if site, err := pki.SiteFromCert(first); err != nil || site != "MEM1" {
		t.Fatalf("enrolled certificate names %q %v", site, err)
	}
	if life := time.Until(first.NotAfter); life > 70*time.Second || life < 40*time.Second {
		t.Errorf("certificate lifetime %v; want the relay's cert_ttl of 1m", life)
	}
	a.Start()

	// The same token again, from another machine claiming MEM1.
	again := env.NewEnrollingAgent("MEM1", r, synthetic.Config{Rate: 1, Count: 1})
	again.Name, again.Config.DataDir = "agent-MEM1-again", filepath.Join(env.Dir, "agent-MEM1-again")
	if out, err := again.Enroll(tok1); err == nil || !strings.Contains(out, "already used") {
		t.Errorf("second use of a token: %v\n%s", err, out)
	}
	// An expired token.
	tokX := r.AddSite("MEM3", time.Second)
	time.Sleep(1500 * time.Millisecond)
	x := env.NewEnrollingAgent("MEM3", r, synthetic.Config{Rate: 1, Count: 1})
	if out, err := x.Enroll(tokX); err == nil || !strings.Contains(out, "expired") {
		t.Errorf("expired token: %v\n%s", err, out)
	}
	// A token for another site.
	tok2 := r.AddSite("MEM2", 0)
	if out, err := again.Enroll(tok2); err == nil || !strings.Contains(out, "for site MEM2") {
		t.Errorf("token of another site: %v\n%s", err, out)
	}
	// It still works for its own site (refusals did not spend it).
	b := env.NewEnrollingAgent("MEM2", r, synthetic.Config{Rate: 50})
	withStatus(t, b)
	if out, err := b.Enroll(tok2); err != nil {
		t.Fatalf("enroll MEM2: %v\n%s", err, out)
	}
	b.Start()
	tok4 := r.AddSite("MEM4", 0)
	c := env.NewEnrollingAgent("MEM4", r, synthetic.Config{Rate: 1, Count: 1})
	if out, err := c.Enroll(tok4); err != nil {
		t.Fatalf("enroll MEM4: %v\n%s", err, out)
	}

	testenv.Eventually(t, 30*time.Second, 100*time.Millisecond, "MEM1 and MEM2 connected", func() bool {
		sites, err := r.AdminAs(testenv.ViewerToken).Sites(context.Background())
		if err != nil {
			return false
		}
		n := 0
		for _, s := range sites {
			if s.Connected && (s.Site.Site == "MEM1" || s.Site.Site == "MEM2") {
				n++
			}
		}
		return n == 2
	})

	// Cross-site publish with MEM4's certificate: 0x87, nothing stored.
	_, c4cert, c4key := c.IdentityFiles()
	foreignPublish(t, r, caFile, c4cert, c4key)

	// A viewer cannot revoke; an admin can, and the session goes at once.
	if _, err := r.AdminAs(testenv.ViewerToken).RevokeSite(context.Background(), "MEM2", "test"); !isStatus(err, 403) {
		t.Errorf("viewer revoke: %v; want HTTP 403", err)
	}
	if _, err := r.AdminAs("").Sites(context.Background()); !isStatus(err, 401) {
		t.Errorf("no token: %v; want HTTP 401", err)
	}
	revokedAt := time.Now()
	r.CLI("sites", "revoke", "MEM2", "--reason", "decommissioned")
	testenv.Eventually(t, 5*time.Second, 50*time.Millisecond, "MEM2's session closed", func() bool {
		return b.Proc.LogContains(`"reason_code":"0x98"`)
	})
	t.Logf("MEM2 disconnected %v after the revoke command returned", time.Since(revokedAt))
	testenv.Eventually(t, 20*time.Second, 100*time.Millisecond, "MEM2's reconnect refused with 0x8A", func() bool {
		return r.Proc.LogContains(`"reason_code":"0x8A"`) && strings.Contains(r.Proc.Log(), `"site":"MEM2"`)
	})
	time.Sleep(3 * time.Second)
	sites, err := r.AdminAs(testenv.ViewerToken).Sites(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range sites {
		if s.Site.Site == "MEM2" && (s.Connected || s.State != "revoked") {
			t.Errorf("MEM2 after revocation: %+v", s)
		}
	}

	// MEM1 renews by itself and drains everything across the expiry of
	// its first certificate.
	a.WaitDrained("synthetic", count, 3*time.Minute)
	if !a.Proc.LogContains("certificate renewed") {
		t.Errorf("MEM1 never renewed its certificate:\n%s", a.Proc.Log())
	}
	now := readCert(t, certFile)
	if now.SerialNumber.Cmp(first.SerialNumber) == 0 || !now.NotAfter.After(first.NotAfter) {
		t.Errorf("certificate on disk not renewed: %v until %v", now.SerialNumber, now.NotAfter)
	}
	if time.Now().Before(first.NotAfter) {
		t.Errorf("the run ended before the first certificate expired (%v)", first.NotAfter)
	}
	if !r.Proc.LogContains("certificate expired; reconnect with the renewed one") {
		t.Log("no session outlived its certificate (the agent reconnected on its own)")
	}
	a.Proc.Stop(30 * time.Second)
	b.Proc.Stop(30 * time.Second)
	r.Proc.Stop(30 * time.Second)

	var mem1 []testenv.LogLine
	for _, l := range r.Dump() {
		switch l.Site {
		case "MEM1":
			mem1 = append(mem1, l)
		case "MEM2":
			if t0, err := time.Parse("2006-01-02T15:04:05.000Z", l.Received); err == nil && t0.After(revokedAt.Add(3*time.Second)) {
				t.Errorf("a MEM2 event was stored %v after the revocation", t0.Sub(revokedAt))
			}
		default:
			t.Errorf("an event of site %s is in the log", l.Site)
		}
		if l.Event.GetSiteId() != l.Site {
			t.Errorf("event %s of site %s stored under %s", l.Event.GetId(), l.Event.GetSiteId(), l.Site)
		}
	}
	testenv.VerifySynthetic(t, mem1, "MEM1", count)

	// Audit: the token issues and the revocation, with actor and role;
	// the viewer's refused attempt.
	audit := auditLines(t, filepath.Join(r.Config.DataDir, "audit.log"))
	// No token secret is written to the audit log or the relay's log
	// (relay/siteca's tests check the registry).
	rawAudit, _ := os.ReadFile(filepath.Join(r.Config.DataDir, "audit.log"))
	for _, tok := range []string{tok1, tok2, tok4, tokX} {
		secret := tok[strings.LastIndex(tok, ".")+1:]
		if strings.Contains(string(rawAudit), secret) || r.Proc.LogContains(secret) {
			t.Errorf("the secret of token %s is in the audit or relay log", tok[:strings.LastIndex(tok, ".")])
		}
	}
	want := map[string]bool{"site_add/root/admin/token_issued": false, "site_revoke/root/admin/revoked": false,
		"site_revoke/val/viewer/forbidden": false, "enroll//refused": false, "enroll//issued": false}
	for _, l := range audit {
		k := l["action"] + "/" + l["actor"] + "/" + l["role"] + "/" + l["outcome"]
		if l["action"] == "enroll" {
			k = "enroll//" + l["outcome"]
		}
		if _, ok := want[k]; ok {
			want[k] = true
		}
	}
	for k, seen := range want {
		if !seen {
			t.Errorf("no audit line %s in %v", k, audit)
		}
	}
}

func readCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	c, err := pki.ParseCertPEM(b)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func isStatus(err error, status int) bool {
	var ae *admin.APIError
	return errors.As(err, &ae) && ae.Status == status
}

func auditLines(t *testing.T, path string) []map[string]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("audit line %q: %v", sc.Text(), err)
		}
		s := map[string]string{}
		for k, v := range m {
			if str, ok := v.(string); ok {
				s[k] = str
			}
		}
		out = append(out, s)
	}
	return out
}

// foreignPublish connects with site MEM4's enrolled certificate over
// TLS/TCP and publishes a batch of MEM1 events to MEM1's topic: PUBACK
// 0x87.
func foreignPublish(t *testing.T, r *testenv.Relay, caFile, certFile, keyFile string) {
	t.Helper()
	conf, err := pki.LoadClientTLS(certFile, keyFile, caFile, "localhost")
	if err != nil {
		t.Fatal(err)
	}
	d := tls.Dialer{Config: conf, NetDialer: &net.Dialer{Timeout: 5 * time.Second}}
	conn, err := d.DialContext(context.Background(), "tcp", r.Config.Listen.TCP)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(conn)
	send := func(p packets.Packet) {
		var buf bytes.Buffer
		if _, err := p.WriteTo(&buf); err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Write(buf.Bytes()); err != nil {
			t.Fatal(err)
		}
	}
	send(&packets.Connect{ProtocolName: "MQTT", ProtocolVersion: 5, ClientID: "MEM4", KeepAlive: 30, CleanStart: true,
		Properties: &packets.Properties{}})
	p, err := packets.ReadPacket(br)
	if err != nil || p.Type != packets.CONNACK || p.Content.(*packets.Connack).ReasonCode != 0 {
		t.Fatalf("MEM4 CONNACK: %v %v", p, err)
	}
	codec, err := wire.NewCodec(0, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer codec.Close()
	o := canonical.Origin{SiteID: "MEM1", Source: "urn:dray:MEM1:forged", SourceSystem: "forged"}
	ev, err := canonical.NewEvent(o, canonical.Record{Key: "forged/1", Version: "1"}, time.Now(), &canonical.InventoryMoved{
		Movement: &canonical.InventoryMovement{SourceKey: "1", MovementType: canonical.MovementType_MOVEMENT_TYPE_PICK,
			Item: &canonical.ItemRef{Sku: "X"}, From: &canonical.Location{SiteId: "MEM1", Code: "A"}, Quantity: canonical.Qty("1", "EA")}})
	if err != nil {
		t.Fatal(err)
	}
	eb, _ := canonical.MarshalBinary(ev)
	h := wire.Header{Epoch: "forged-epoch", Lane: canonical.LaneOperational, First: 1, Last: 1}
	payload := codec.Seal(&h, wire.AppendRecord(nil, eb))
	var props []packets.User
	for _, p := range h.Properties() {
		props = append(props, packets.User{Key: p.Key, Value: p.Value})
	}
	send(&packets.Publish{QoS: 1, PacketID: 1, Topic: wire.EventsTopic("MEM1"), Payload: payload,
		Properties: &packets.Properties{User: props, ContentType: wire.ContentType}})
	p, err = packets.ReadPacket(br)
	if err != nil || p.Type != packets.PUBACK {
		t.Fatalf("MEM4 publish to MEM1's topic: %v %v", p, err)
	}
	if rc := p.Content.(*packets.Puback).ReasonCode; rc != 0x87 {
		t.Fatalf("PUBACK 0x%02X; want 0x87 Not authorized", rc)
	}
}

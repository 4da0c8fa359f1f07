package wmssim

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/draylink/dray/canonical"
	"github.com/draylink/dray/canonical/localtime"
	"google.golang.org/protobuf/types/known/timestamppb"
)

var milestoneOf = map[string]canonical.Milestone{
	"X3": canonical.Milestone_MILESTONE_AT_PICKUP,
	"AF": canonical.Milestone_MILESTONE_DEPARTED_PICKUP,
	"SD": canonical.Milestone_MILESTONE_DELAYED,
	"X1": canonical.Milestone_MILESTONE_AT_DELIVERY,
	"D1": canonical.Milestone_MILESTONE_DELIVERED,
}

// milestoneRank orders a shipment's milestones.
var milestoneRank = map[string]int{"X3": 1, "AF": 2, "SD": 3, "X1": 4, "D1": 5}

var delayRemarks = []string{"SEVERE WEATHER HOLDING", "HEAVY RAIN REDUCED SPEED", "ICE ON HIGHWAY CHAINS REQUIRED", "FLOODING DETOUR"}

// milestone records a carrier status that happened now and schedules the
// next ones; the carrier reports it with its next 214 batch.
func (s *Sim) milestone(sh *shipment, code string) {
	r := s.rCarrier
	o := sh.o
	m := &milestone{sh: sh, code: code, reason: "NS", at: s.now.Truncate(time.Minute)}
	switch code {
	case "X3", "AF":
		m.city, m.region, m.zone, m.stopSeq = s.w.Site.City, s.w.Site.Region, s.loc, 1
	case "SD":
		m.city, m.region, m.stopSeq = o.shipTo.Waypoint[0], o.shipTo.Waypoint[1], 0
		m.zone = mustZone(o.shipTo.Waypoint[2])
		m.reason, m.remark = "AO", pick(r, delayRemarks)
	case "X1", "D1":
		m.city, m.region, m.stopSeq = o.shipTo.City, o.shipTo.Region, 2
		m.zone = mustZone(o.shipTo.Zone)
	}
	if code == "D1" {
		m.pod = pick(r, podNames)
		m.remark = "POD SIGNED " + m.pod
	}
	rt, amb := resolved(m.at, m.zone)
	det := &Detail{Owner: o.owner.ID, OrderNo: o.no, ShipmentID: sh.id, StatusCode: code, Milestone: canonical.EnumName(milestoneOf[code]),
		StopSeq: m.stopSeq, Ref: m.city + ", " + m.region}
	m.f = s.newFact("milestone", &canonical.ShipmentStatusChanged{ShipmentId: sh.id, Milestone: milestoneOf[code]}, m.at, m.zone, det)
	if code == "D1" {
		pd := &canonical.DeliveryConfirmed{Delivery: &canonical.DeliveryConfirmation{ShipmentId: sh.id, StopSeq: 2,
			DeliveredAt: timestamppb.New(rt)}}
		m.podF = s.newFact("pod", pd, m.at, m.zone, &Detail{Owner: o.owner.ID, OrderNo: o.no, ShipmentID: sh.id, SignedBy: m.pod, StopSeq: 2})
	}
	_ = amb
	m.reportAt = s.now
	if chance(r, s.cfg.Process.LateReport) {
		m.reportAt = s.now.Add(s.cfg.Intervals.X12214.D())
	}
	k := sh.carrier.SCAC + "/" + o.owner.ID
	s.out214[k] = append(s.out214[k], m)

	switch code {
	case "AF":
		transit := time.Duration(float64(o.shipTo.Transit) * (0.9 + 0.3*r.Float64()))
		var delay time.Duration
		if chance(r, s.cfg.Process.Delay) {
			delay = between(r, time.Hour, 6*time.Hour)
			s.after(between(r, time.Hour, max(transit*6/10, 61*time.Minute)), func() { s.milestone(sh, "SD") })
		}
		s.after(transit+delay, func() { s.milestone(sh, "X1") })
	case "X1":
		s.after(between(r, 15*time.Minute, 90*time.Minute), func() { s.milestone(sh, "D1") })
	}
}

func mustZone(name string) *time.Location {
	z, err := localtime.LoadZone(name)
	if err != nil {
		panic("wmssim: zone " + name + ": " + err.Error())
	}
	return z
}

type milestonePayload struct {
	ShipmentEventID int64  `json:"shipment_event_id"`
	ShipmentID      string `json:"shipment_id"`
	StatusCode      string `json:"status_code"`
	ReasonCode      string `json:"reason_code"`
	OccurredAt      string `json:"occurred_at"`
	TimeZone        string `json:"time_zone"`
	City            string `json:"city"`
	Region          string `json:"region"`
	Country         string `json:"country"`
	StopSeq         int    `json:"stop_seq"`
	PODName         string `json:"pod_name,omitempty"`
	Remark          string `json:"remark,omitempty"`
	RowVersion      int64  `json:"row_version"`
}

type deliveryPayload struct {
	DeliveryID  int64  `json:"delivery_id"`
	ShipmentID  string `json:"shipment_id"`
	StopSeq     int    `json:"stop_seq"`
	DeliveredAt string `json:"delivered_at"`
	TimeZone    string `json:"time_zone"`
	SignedBy    string `json:"signed_by"`
	RowVersion  int64  `json:"row_version"`
}

// flush214 sends each carrier's due status reports to each owner as one
// 214 interchange (one set per report), and imports them into the WMS.
func (s *Sim) flush214() {
	dir := s.cfg.Drops.dir214()
	for _, k := range sortedKeys(s.out214) {
		var due, later []*milestone
		for _, m := range s.out214[k] {
			if m.reportAt.After(s.now) {
				later = append(later, m)
			} else {
				due = append(due, m)
			}
		}
		if len(later) == 0 {
			delete(s.out214, k)
		} else {
			s.out214[k] = later
		}
		if len(due) == 0 {
			continue
		}
		slices.SortStableFunc(due, func(a, b *milestone) int {
			if c := a.at.Compare(b.at); c != 0 {
				return c
			}
			if c := strings.Compare(a.sh.id, b.sh.id); c != 0 {
				return c
			}
			return milestoneRank[a.code] - milestoneRank[b.code]
		})
		s.import214(due)
		if dir == "" {
			continue
		}
		scac, owner := due[0].sh.carrier.SCAC, due[0].sh.o.owner
		w := s.newX12("02", scac, "ZZ", owner.EDIID, "QM", s.now)
		var recs []rec
		for _, m := range due {
			recs = append(recs, s.write214Set(w, m)...)
		}
		recs = append(recs, s.badSets(w, "214", owner)...)
		data := w.finish()
		s.addFile(dir, fmt.Sprintf("x12_214_%s_%s.edi", scac, w.isa13), data, recs)
		s.maybeTruncated(dir, w, "214", owner)
	}
}

// import214 writes the reports into shipment_events, and a delivery into
// the order lines.
func (s *Sim) import214(ms []*milestone) {
	t := s.begin()
	for _, m := range ms {
		s.ids.sevent++
		id := s.ids.sevent
		ver := s.version()
		local := m.at.In(m.zone).Format("2006-01-02 15:04:05")
		utc, _ := time.Parse(time.RFC3339, m.f.t.Format(time.RFC3339))
		t.insert("shipment_events", []string{"shipment_event_id", "shipment_id", "status_code", "reason_code", "occurred_at_utc",
			"local_time", "time_zone", "city", "region", "country", "stop_seq", "pod_name", "remark", "row_version", "last_modified"},
			id, m.sh.id, m.code, m.reason, utc.Format("2006-01-02 15:04:05"), local, m.zone.String(), m.city, m.region, "US",
			int64(m.stopSeq), nullStr(m.pod), nullStr(m.remark), ver, t.tech)
		b, _ := json.Marshal(milestonePayload{ShipmentEventID: id, ShipmentID: m.sh.id, StatusCode: m.code, ReasonCode: m.reason,
			OccurredAt: m.f.t.In(m.zone).Format(time.RFC3339), TimeZone: m.zone.String(), City: m.city, Region: m.region,
			Country: "US", StopSeq: m.stopSeq, PODName: m.pod, Remark: m.remark, RowVersion: ver})
		ob := t.outbox("shipment", m.sh.id, "shipment.status_reported", b)
		t.via(m.f, s.tableVia("shipment_events", "shipment_events", id, ver, false))
		t.via(m.f, s.outboxVia(ob))
		if m.podF != nil {
			s.ids.delivery++
			did, dver := s.ids.delivery, s.version()
			t.insert("deliveries", []string{"delivery_id", "shipment_id", "shipment_event_id", "stop_seq", "delivered_at_utc", "local_time",
				"time_zone", "signed_by", "row_version", "last_modified"}, did, m.sh.id, id, int64(m.stopSeq), utc.Format("2006-01-02 15:04:05"),
				local, m.zone.String(), m.pod, dver, t.tech)
			b, _ := json.Marshal(deliveryPayload{DeliveryID: did, ShipmentID: m.sh.id, StopSeq: m.stopSeq, DeliveredAt: m.f.t.In(m.zone).Format(time.RFC3339),
				TimeZone: m.zone.String(), SignedBy: m.pod, RowVersion: dver})
			pob := t.outbox("shipment", m.sh.id, "shipment.delivered", b)
			t.via(m.podF, s.tableVia("deliveries", "deliveries", did, dver, false))
			t.via(m.podF, s.outboxVia(pob))
			if !m.sh.delivered {
				m.sh.delivered = true
				for _, l := range m.sh.o.lines {
					if l.qty.shipped > 0 {
						l.qty.delivered = l.qty.shipped
						s.updateLine(t, l, "delivered")
					}
				}
			}
		}
	}
	t.commit()
}

// snapshot writes each owner's 846 and schedules the next.
func (s *Sim) snapshot() {
	if dir := s.cfg.Drops.dir846(); dir != "" {
		for _, o := range s.w.Owners {
			s.ids.snapshot++
			reportNo := fmt.Sprintf("INV-%s-%s-%06d", s.cfg.Site.ID, o.ID, s.ids.snapshot)
			w := s.newX12("ZZ", s.w.Site.EDIID, "ZZ", o.EDIID, "IB", s.now)
			n, recs := s.write846(w, o, reportNo)
			at := s.now.Truncate(time.Minute)
			f := s.newFact("snapshot", &canonical.InventorySnapshot{SnapshotId: reportNo, OwnerId: o.ID, Part: 1, Parts: 1}, at, s.loc,
				&Detail{Owner: o.ID, SnapshotID: reportNo, Positions: n})
			recs[0].f = f
			recs = append(recs, s.badSets(w, "846", o)...)
			data := w.finish()
			s.addFile(dir, fmt.Sprintf("x12_846_%s_%s.edi", o.ID, w.isa13), data, recs)
			s.maybeTruncated(dir, w, "846", o)
		}
	}
	s.after(s.cfg.Intervals.Snapshot.D(), s.snapshot)
}

// itoa is strconv.FormatInt for ids.
func itoa(v int64) string { return strconv.FormatInt(v, 10) }

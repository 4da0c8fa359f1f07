package wmssim

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// x12w writes one X12 interchange (one functional group) the way the
// fixtures look: "*" elements, ">" components, "~" terminators, a newline
// after each segment, version 00401/004010.
type x12w struct {
	b           []byte
	isa13, gs06 string
	sender      string
	env         [5]string // sender qualifier, sender, receiver qualifier, receiver, functional id
	nset        int
	setSegs     int
	setOffset   int
	st02        string
	sets        []x12Set
}

// x12Set is what the writer knows about a set it wrote.
type x12Set struct {
	st02   string
	offset int // byte offset of ST
	segs   int // ST … SE
	seOff  int // byte offset of SE
}

// ref is the set's "ISA13=…;GS06=…;ST02=…".
func (w *x12w) ref(st02 string) string {
	return "ISA13=" + w.isa13 + ";GS06=" + w.gs06 + ";ST02=" + st02
}

func padX(v string, n int) string {
	if len(v) >= n {
		return v[:n]
	}
	return v + strings.Repeat(" ", n-len(v))
}

// nextControl returns the next interchange control number of a sender.
func (s *Sim) nextControl(sender string) int64 {
	n, ok := s.ids.isaBy[sender]
	if !ok {
		s.ids.isa += 1000
		n = s.ids.isa
	}
	n++
	s.ids.isaBy[sender] = n
	return n
}

// newX12 starts an interchange from sender to receiver created at t
// (local wall time of loc) with functional group fid.
func (s *Sim) newX12(senderQual, sender, receiverQual, receiver, fid string, t time.Time) *x12w {
	ctrl := s.nextControl(sender)
	lt := t.In(s.loc)
	w := &x12w{isa13: fmt.Sprintf("%09d", ctrl), gs06: strconv.FormatInt(ctrl, 10), sender: sender,
		env: [5]string{senderQual, sender, receiverQual, receiver, fid}}
	w.seg("ISA", "00", padX("", 10), "00", padX("", 10), senderQual, padX(sender, 15), receiverQual, padX(receiver, 15),
		lt.Format("060102"), lt.Format("1504"), "U", "00401", w.isa13, "0", "P", ">")
	w.seg("GS", fid, sender, receiver, lt.Format("20060102"), lt.Format("1504"), w.gs06, "X", "004010")
	return w
}

// seg writes a segment, leaving out trailing empty elements.
func (w *x12w) seg(id string, elems ...string) {
	for len(elems) > 0 && elems[len(elems)-1] == "" {
		elems = elems[:len(elems)-1]
	}
	w.b = append(w.b, id...)
	for _, e := range elems {
		w.b = append(w.b, '*')
		w.b = append(w.b, e...)
	}
	w.b = append(w.b, '~', '\n')
	if w.st02 != "" {
		w.setSegs++
	}
}

func (w *x12w) beginSet(id string) string {
	w.nset++
	w.st02 = fmt.Sprintf("%04d", w.nset)
	w.setOffset = len(w.b)
	w.setSegs = 0
	w.seg("ST", id, w.st02)
	return w.st02
}

// endSet writes the SE; skew is added to the segment count (a bad set).
func (w *x12w) endSet(skew int) {
	n := w.setSegs + 1
	seOff := len(w.b)
	st02 := w.st02
	w.st02 = ""
	w.seg("SE", strconv.Itoa(n+skew), st02)
	w.sets = append(w.sets, x12Set{st02: st02, offset: w.setOffset, segs: n, seOff: seOff})
}

func (w *x12w) finish() []byte {
	w.seg("GE", strconv.Itoa(w.nset), w.gs06)
	w.seg("IEA", "1", w.isa13)
	return w.b
}

// x12Via is the truth via of a set (suffix "" for the set's main event).
func (s *Sim) x12Via(w *x12w, st02, suffix string) Via {
	ref := w.ref(st02)
	src := s.cfg.Identity.EDIPrefix + url.PathEscape(w.sender)
	key := ref + suffix
	return Via{Src: "x12", Ref: ref, Source: src, RecordKey: key, EventID: s.eventID(src, key, "")}
}

func x12Date(t time.Time, loc *time.Location) (string, string) {
	lt := t.In(loc)
	return lt.Format("20060102"), lt.Format("1504")
}

// ---- 945 ----

// write945Set writes one shipment's 945 set and returns the truth recs.
func (s *Sim) write945Set(w *x12w, sh *shipment) []rec {
	o := sh.o
	st02 := w.beginSet("945")
	d, hm := x12Date(sh.shippedAt, s.loc)
	w.seg("W06", "F", o.no, d, sh.id, fmt.Sprintf("NW-%05d", o.id%100000), o.po)
	st := o.shipTo
	w.seg("N1", "ST", st.Name, "UL", st.GLN)
	w.seg("N3", st.Street)
	w.seg("N4", st.City, st.Region, st.Postal, st.Country)
	w.seg("N1", "SF", s.w.Site.Name, "UL", s.w.Site.GLN)
	w.seg("N4", s.w.Site.City, s.w.Site.Region, s.w.Site.Postal, s.w.Site.Country)
	w.seg("N1", "DE", o.owner.Name, "UL", o.owner.GLN)
	w.seg("N9", "BM", sh.bol)
	w.seg("N9", "CN", sh.pro)
	w.seg("G62", "11", d, "8", hm, "LT")
	w.seg("W27", "M", sh.carrier.SCAC, sh.carrier.Name, "PP", sh.carrier.Mode, sh.carrier.SCAC, sh.equip)
	var total int64
	lx := 0
	w12 := func(l *line, shipped int64, lot string) {
		code := map[string]string{"shipped": "CC", "short_shipped": "CP", "backordered": "BP"}[l.stat]
		w.seg("W12", code, fmtX12(l.qty.ordered), fmtX12(shipped), fmtX12(l.qty.ordered-l.qty.shipped), l.pack.UOM, "",
			"VN", l.item.SKU, lot, "", "", "", "", "", "", "", "UK", l.pack.GTIN)
		total += shipped
	}
	for _, h := range sh.hus {
		lx++
		w.seg("LX", strconv.Itoa(lx))
		w.seg("MAN", "GM", h.sscc)
		for _, c := range h.contents {
			w12(c.l, c.qty, c.lot)
			if c.lot != "" {
				w.seg("N9", "LT", c.lot)
			}
			w.seg("N9", "LI", lineNo(c.l))
		}
	}
	for _, l := range o.lines {
		if l.qty.shipped == 0 {
			lx++
			w.seg("LX", strconv.Itoa(lx))
			w12(l, 0, "")
			w.seg("N9", "LI", lineNo(l))
		}
	}
	w.seg("W03", fmtX12(total), fmt.Sprintf("%.0f", sh.weightKG*2.20462), "LB")
	w.endSet(0)
	recs := []rec{{f: sh.fact, via: s.x12Via(w, st02, "")}}
	for _, l := range o.lines {
		recs = append(recs, rec{f: l.final, via: s.x12Via(w, st02, ";W12="+lineNo(l))})
	}
	return recs
}

// flush945 writes each owner's shipped shipments as one 945 interchange.
func (s *Sim) flush945() {
	dir := s.cfg.Drops.dir945()
	for _, o := range s.w.Owners {
		shs := s.out945[o]
		if len(shs) == 0 {
			continue
		}
		delete(s.out945, o)
		if dir == "" {
			continue
		}
		w := s.newX12("ZZ", s.w.Site.EDIID, "ZZ", o.EDIID, "SW", s.now)
		var recs []rec
		for _, sh := range shs {
			recs = append(recs, s.write945Set(w, sh)...)
		}
		recs = append(recs, s.badSets(w, "945", o)...)
		data := w.finish()
		name := fmt.Sprintf("x12_945_%s_%s.edi", o.ID, w.isa13)
		s.addFile(dir, name, data, recs)
		s.maybeTruncated(dir, w, "945", o)
	}
}

// ---- 214 ----

// milestone is one carrier status report.
type milestone struct {
	sh       *shipment
	code     string // AT7-01: X3 AF SD X1 D1
	reason   string // AT7-02
	at       time.Time
	city     string
	region   string
	zone     *time.Location
	stopSeq  int
	remark   string
	pod      string
	reportAt time.Time
	f, podF  *fact
}

func (s *Sim) write214Set(w *x12w, m *milestone) []rec {
	sh := m.sh
	o := sh.o
	st02 := w.beginSet("214")
	w.seg("B10", sh.pro, sh.id, sh.carrier.SCAC)
	w.seg("L11", sh.bol, "BM")
	w.seg("L11", o.po, "PO")
	w.seg("N1", "SH", s.w.Site.Name, "UL", s.w.Site.GLN)
	w.seg("N4", s.w.Site.City, s.w.Site.Region, s.w.Site.Postal, s.w.Site.Country)
	w.seg("N1", "CN", o.shipTo.Name, "UL", o.shipTo.GLN)
	w.seg("N4", o.shipTo.City, o.shipTo.Region, o.shipTo.Postal, o.shipTo.Country)
	w.seg("LX", "1")
	d, hm := x12Date(m.at, m.zone)
	w.seg("AT7", m.code, m.reason, "", "", d, hm, "LT")
	w.seg("MS1", m.city, m.region, "US")
	w.seg("MS2", sh.carrier.SCAC, sh.equip, "TL")
	if m.remark != "" {
		w.seg("K1", m.remark)
	}
	if m.code == "AF" || m.code == "D1" {
		w.seg("AT8", "G", "L", fmt.Sprintf("%.0f", sh.weightKG*2.20462), strconv.Itoa(len(sh.hus)))
	}
	w.endSet(0)
	recs := []rec{{f: m.f, via: s.x12Via(w, st02, "")}}
	if m.podF != nil {
		recs = append(recs, rec{f: m.podF, via: s.x12Via(w, st02, ";pod")})
	}
	return recs
}

// ---- 846 ----

// write846 writes an owner's inventory snapshot: one LIN per item and lot
// with stock available at the site (on hand and not allocated).
func (s *Sim) write846(w *x12w, o *Owner, reportNo string) (int, []rec) {
	st02 := w.beginSet("846")
	d, hm := x12Date(s.now, s.loc)
	w.seg("BIA", "00", "MM", reportNo, d, hm)
	w.seg("N1", "WH", s.w.Site.Name, "91", s.cfg.Site.ID)
	w.seg("N1", "DE", o.Name, "UL", o.GLN)
	n := 0
	for _, it := range o.Items {
		type agg struct {
			lot         string
			onHand, avl int64
		}
		var lots []*agg
		byLot := map[string]*agg{}
		for _, p := range s.itemPos[it] {
			if p.status != "available" || p.book == 0 {
				continue
			}
			a := byLot[p.lot]
			if a == nil {
				a = &agg{lot: p.lot}
				byLot[p.lot] = a
				lots = append(lots, a)
			}
			a.onHand += p.book
			a.avl += p.book - p.alloc
		}
		slices.SortFunc(lots, func(a, b *agg) int { return strings.Compare(a.lot, b.lot) })
		for _, a := range lots {
			if a.onHand <= 0 {
				continue
			}
			base := &it.Packs[0]
			if a.lot != "" {
				w.seg("LIN", "", "VN", it.SKU, "UK", base.GTIN, "LT", a.lot)
			} else {
				w.seg("LIN", "", "VN", it.SKU, "UK", base.GTIN)
			}
			w.seg("QTY", "17", fmtX12(a.onHand), it.BaseUOM)
			w.seg("QTY", "33", fmtX12(max(a.avl, 0)), it.BaseUOM)
			n++
		}
	}
	w.seg("CTT", strconv.Itoa(n))
	w.endSet(0)
	return n, []rec{{via: s.x12Via(w, st02, "")}}
}

package x12map

import (
	"github.com/draylink/dray/canonical"
	"github.com/draylink/dray/plugins/filedrop/x12"
)

// ackEvent reports the 997 the site sends for ic as integration.acknowledged:
// sent by the site (the interchange's receiver) to its sender, with one
// TransactionAck per set. It is computed by x12.Acknowledge with Supported,
// the same call that writes the 997's bytes.
func (m *Mapper) ackEvent(ic *x12.Interchange) (*canonical.Event, []Reject) {
	a := x12.Acknowledge(ic, Supported)
	if a == nil {
		return nil, nil
	}
	data := &canonical.IntegrationAcknowledged{
		Kind:                     canonical.AckKind_ACK_KIND_X12_997,
		Outbound:                 true,
		SenderId:                 ic.ReceiverID,
		ReceiverId:               ic.SenderID,
		InterchangeControlNumber: ic.ControlNumber,
		Status:                   ackStatus(a.Status()),
	}
	if len(a.Groups) == 1 {
		data.GroupControlNumber = a.Groups[0].ControlNumber
		data.FunctionalId = a.Groups[0].FunctionalID
	}
	for _, g := range a.Groups {
		for _, s := range g.Sets {
			t := &canonical.TransactionAck{SetId: s.SetID, ControlNumber: s.ControlNumber, Status: ackStatus(s.Code)}
			for _, e := range s.Causes {
				ae := &canonical.AckError{Code: e.AK5(), Description: truncate(e.Reason+" ("+e.Code()+")", 200)}
				if e.SegmentID != "" && len(e.SegmentID) <= 3 {
					ae.SegmentId, ae.SegmentPosition, ae.ElementPosition = e.SegmentID, int32(e.Segment), int32(e.Element)
				}
				t.Errors = append(t.Errors, ae)
			}
			data.Transactions = append(data.Transactions, t)
		}
	}
	origin := canonical.Origin{SiteID: m.cfg.SiteID, Source: m.source(ic), SourceSystem: "edi.x12.997"}
	e, err := canonical.NewEvent(origin, canonical.Record{Key: "ISA13=" + ic.ControlNumber + ";997", Ref: "ISA13=" + ic.ControlNumber},
		m.now().In(m.site), data)
	if err != nil {
		return nil, []Reject{{Code: "x12map_invalid", Reason: "997 event: " + err.Error(), Ref: "ISA13=" + ic.ControlNumber, SetID: "997"}}
	}
	return e, nil
}

func ackStatus(code string) canonical.AckStatus {
	switch code {
	case x12.AckAccepted:
		return canonical.AckStatus_ACK_STATUS_ACCEPTED
	case x12.AckAcceptedWithError:
		return canonical.AckStatus_ACK_STATUS_ACCEPTED_WITH_ERRORS
	case x12.AckPartial:
		return canonical.AckStatus_ACK_STATUS_PARTIALLY_ACCEPTED
	}
	return canonical.AckStatus_ACK_STATUS_REJECTED
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

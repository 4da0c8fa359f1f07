package canonical_test

import (
	"time"

	. "github.com/draylink/dray/canonical"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// The sample events describe the fixtures' shipment: order SO-778812 of owner
// ACME, shipped from Memphis 3PL site MEM1 (America/Chicago) to ACME Retail DC
// 7 in Atlanta on shipment SHP25031407 with carrier XMPL.

var chicago = mustZone("America/Chicago")

func mustZone(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return loc
}

func local(s string) time.Time {
	t, err := time.ParseInLocation("2006-01-02 15:04:05", s, chicago)
	if err != nil {
		panic(err)
	}
	return t
}

func ts(s string) *timestamppb.Timestamp { return timestamppb.New(local(s)) }

var (
	wms  = Origin{SiteID: "MEM1", Source: "urn:dray:MEM1:wms-db", SourceSystem: "wms.db"}
	edi  = Origin{SiteID: "MEM1", Source: "urn:dray:MEM1:edi:XMPL", SourceSystem: "edi.x12.214"}
	e945 = Origin{SiteID: "MEM1", Source: "urn:dray:MEM1:edi:NORTHWIND3PL", SourceSystem: "edi.x12.945"}
)

func acmeOrder() *OrderRef {
	return &OrderRef{OwnerId: "ACME", OrderNo: "SO-778812", PoNumber: "PO-99120"}
}

func item(sku, gtin, lot, expiry string) *ItemRef {
	return &ItemRef{OwnerId: "ACME", Sku: sku, Gtin: gtin, Lot: lot, ExpiryDate: expiry}
}

func loc(code string, typ LocationType) *Location {
	return &Location{SiteId: "MEM1", Code: code, Type: typ}
}

func shipToParty() *Party {
	return &Party{Id: "ACME-DC7", Name: "ACME RETAIL DC 7", Gln: "0614141000203",
		Roles:   []PartyRole{PartyRole_PARTY_ROLE_SHIP_TO, PartyRole_PARTY_ROLE_CONSIGNEE},
		Address: &Address{Lines: []string{"2200 DISTRIBUTION PKWY"}, City: "ATLANTA", Region: "GA", PostalCode: "30336", Country: "US", Unlocode: "USATL"}}
}

func shipFromParty() *Party {
	return &Party{Id: "MEM1", Name: "NORTHWIND 3PL MEMPHIS", Gln: "0614141000104",
		Roles:   []PartyRole{PartyRole_PARTY_ROLE_SHIP_FROM, PartyRole_PARTY_ROLE_SHIPPER},
		Address: &Address{City: "MEMPHIS", Region: "TN", PostalCode: "38118", Country: "US", Unlocode: "USMEM"}}
}

func xmplCarrier() *Carrier { return &Carrier{Scac: "XMPL", Name: "XAMPLE FREIGHT LINES"} }

func orderLines() []*OrderLine {
	return []*OrderLine{
		{LineNo: "1", Item: item("AF-1001", "10614141001016", "", ""), Ordered: Qty("20", "XCS"), Status: OrderLineStatus_ORDER_LINE_STATUS_RECEIVED},
		{LineNo: "2", Item: item("AF-1002", "10614141001023", "", ""), Ordered: Qty("10", "XCS"), Status: OrderLineStatus_ORDER_LINE_STATUS_RECEIVED},
		{LineNo: "3", Item: item("AF-2050", "00614141020508", "", ""), Ordered: Qty("24", "EA"), Status: OrderLineStatus_ORDER_LINE_STATUS_RECEIVED,
			UnitPrice: &Money{Amount: "3.49", Currency: "USD"}},
	}
}

func acmeFullOrder() *Order {
	return &Order{OwnerId: "ACME", OrderNo: "SO-778812", OrderType: OrderType_ORDER_TYPE_OUTBOUND, PoNumber: "PO-99120",
		Parties: []*Party{shipToParty(), shipFromParty()}, OrderDate: "2025-03-13", RequestedShipDate: "2025-03-14", RequestedDeliveryDate: "2025-03-15",
		Carrier: xmplCarrier(), ServiceLevel: "TL", Lines: orderLines()}
}

func shipment() *Shipment {
	return &Shipment{
		ShipmentId: "SHP25031407", Bol: "06141410000123452", Pro: "7781204556", Carrier: xmplCarrier(),
		Mode: TransportMode_TRANSPORT_MODE_TRUCKLOAD, EquipmentId: "531204",
		Stops: []*Stop{
			{Seq: 1, Kind: StopKind_STOP_KIND_PICKUP, Party: shipFromParty(), TimeZone: "America/Chicago",
				Appointment: &TimeWindow{Start: ts("2025-03-14 14:00:00"), End: ts("2025-03-14 16:00:00")},
				Arrived:     ts("2025-03-14 14:05:00"), Departed: ts("2025-03-14 15:48:00")},
			{Seq: 2, Kind: StopKind_STOP_KIND_DELIVERY, Party: shipToParty(), TimeZone: "America/New_York"},
		},
		HandlingUnits: []*HandlingUnit{
			{Sscc: "006141410000045013", PackageType: "XPX", Contents: []*HandlingUnitContent{
				{Item: item("AF-1001", "10614141001016", "L2503A", "2026-03-31"), Quantity: Qty("20", "XCS")}}},
			{Sscc: "006141410000045020", PackageType: "XPX", Contents: []*HandlingUnitContent{
				{Item: item("AF-1002", "10614141001023", "L2502C", "2026-02-28"), Quantity: Qty("8", "XCS")},
				{Item: item("AF-2050", "00614141020508", "", ""), Quantity: Qty("24", "EA")}}},
		},
		Orders:            []*OrderRef{acmeOrder()},
		GrossWeight:       Qty("1385", "LBR"),
		HandlingUnitCount: 2,
	}
}

type sample struct {
	origin   Origin
	record   Record
	occurred time.Time
	data     Data
	opts     []EventOption
}

// samples returns one realistic event of every type.
func samples() []sample {
	corr := WithCorrelation("order:ACME:SO-778812")
	recorded := func(s string) EventOption { return WithRecordedTime(local(s)) }
	received := WithReceivedTime(time.Date(2025, 3, 14, 21, 0, 0, 0, time.UTC))
	return []sample{
		{wms, Record{Key: "order/ACME/SO-778812", Version: "1"}, local("2025-03-13 17:02:00"),
			&OrderReceived{Order: acmeFullOrder()}, []EventOption{corr, received}},
		{wms, Record{Key: "order/ACME/SO-778812", Version: "2"}, local("2025-03-14 08:15:00"),
			&OrderChanged{Order: acmeFullOrder(), ChangedFields: []string{"requestedDeliveryDate"}}, []EventOption{corr}},
		{wms, Record{Key: "order/ACME/SO-778813", Version: "3"}, local("2025-03-14 09:00:00"),
			&OrderCancelled{Order: &OrderRef{OwnerId: "ACME", OrderNo: "SO-778813"}, ReasonCode: "CUSTOMER", Reason: "customer cancelled"}, nil},
		{wms, Record{Key: "release/CMD-5512"}, local("2025-03-14 09:30:00"),
			&OrderReleased{Order: acmeOrder(), CommandId: "CMD-5512", WaveId: "W-0314-02"}, []EventOption{corr}},
		{wms, Record{Key: "order-status/ACME/SO-778812", Version: "picked"}, local("2025-03-14 14:06:52"),
			&OrderStatusChanged{Order: acmeOrder(), Status: OrderLineStatus_ORDER_LINE_STATUS_PICKED}, []EventOption{corr}},
		{e945, Record{Key: "ISA13=000004512;GS06=4512;ST02=0001;W12=2", Ref: "ISA13=000004512;GS06=4512;ST02=0001"}, local("2025-03-14 15:42:00"),
			&OrderLineStatusChanged{Order: acmeOrder(), LineNo: "2", Item: item("AF-1002", "10614141001023", "L2502C", ""),
				Status:     OrderLineStatus_ORDER_LINE_STATUS_SHORT_SHIPPED,
				Quantities: &OrderLineQuantities{Ordered: Qty("10", "XCS"), Shipped: Qty("8", "XCS"), ShortClosed: Qty("2", "XCS")},
				ReasonCode: "CP", ShipmentId: "SHP25031407", Ssccs: []string{"006141410000045020"}, StatusTime: ts("2025-03-14 15:42:00")},
			[]EventOption{corr}},
		{wms, Record{Key: "movement/884101", Version: "5510931"}, local("2025-03-14 06:12:40"),
			&InventoryMoved{Movement: &InventoryMovement{SourceKey: "884101", MovementType: MovementType_MOVEMENT_TYPE_RECEIPT,
				Item: item("AF-1002", "10614141001023", "L2502C", "2026-02-28"),
				From: loc("DOCK-IN-02", LocationType_LOCATION_TYPE_DOCK), To: loc("RECV-STAGE-01", LocationType_LOCATION_TYPE_STAGING),
				Quantity: Qty("288", "EA"), ReceivedQuantity: Qty("24", "XCS"), ToStatus: InventoryStatus_INVENTORY_STATUS_PENDING_PUTAWAY,
				Sscc: "006141410000043996", Reference: "ASN-5561", UserId: "rkhan"}},
			[]EventOption{recorded("2025-03-14 06:12:41")}},
		{wms, Record{Key: "movement/884105", Version: "5512210"}, local("2025-03-14 09:02:44"),
			&InventoryStatusChanged{SourceKey: "884105", Item: item("AF-1001", "10614141001016", "L2503A", "2026-03-31"),
				Location: loc("A-03-01-A", LocationType_LOCATION_TYPE_STORAGE), ToLocation: loc("QA-HOLD-01", LocationType_LOCATION_TYPE_HOLD),
				Quantity: Qty("5", "XCS"), FromStatus: InventoryStatus_INVENTORY_STATUS_AVAILABLE, ToStatus: InventoryStatus_INVENTORY_STATUS_ON_HOLD,
				ReasonCode: "QC_HOLD", Note: "Pallet re-wrapped, corner crushed"}, nil},
		{wms, Record{Key: "movement/884118", Version: "5516010"}, local("2025-03-14 16:05:00"),
			&InventoryCounted{SourceKey: "884118", Location: loc("R-40-02-C", LocationType_LOCATION_TYPE_STORAGE),
				Item: item("AF-1002", "10614141001023", "L2502C", "2026-02-28"), Status: InventoryStatus_INVENTORY_STATUS_AVAILABLE,
				Counted: Qty("13", "XCS"), Expected: Qty("14", "XCS"), CountId: "CC-0314-7", ReasonCode: "CC_ABC"}, nil},
		{wms, Record{Key: "snapshot/2025-03-14T23:00", Version: "1"}, local("2025-03-14 23:00:00"),
			&InventorySnapshot{SnapshotId: "MEM1-2025-03-14T23:00", OwnerId: "ACME", Part: 1, Parts: 1, Positions: []*InventoryPosition{
				{Location: loc("A-12-03-B", LocationType_LOCATION_TYPE_PICK_FACE), Item: item("AF-1002", "10614141001023", "L2502C", "2026-02-28"),
					Status: InventoryStatus_INVENTORY_STATUS_AVAILABLE, OnHand: Qty("0", "XCS"), Allocated: Qty("0", "XCS"), Available: Qty("0", "XCS")},
				{Location: loc("R-40-02-C", LocationType_LOCATION_TYPE_STORAGE), Item: item("AF-1002", "10614141001023", "L2502C", "2026-02-28"),
					Status: InventoryStatus_INVENTORY_STATUS_AVAILABLE, Sscc: "006141410000043996", OnHand: Qty("13", "XCS"), Available: Qty("13", "XCS")},
			}}, nil},
		{wms, Record{Key: "movement/884110", Version: "5515102"}, local("2025-03-14 14:20:15"),
			&HandlingUnitPacked{HandlingUnit: shipment().GetHandlingUnits()[0], Order: acmeOrder(), ShipmentId: "SHP25031407",
				Location: loc("STAGE-OUT-04", LocationType_LOCATION_TYPE_STAGING)}, []EventOption{corr}},
		{wms, Record{Key: "hu/006141410000043996/unpack", Version: "1"}, local("2025-03-14 06:33:51"),
			&HandlingUnitUnpacked{Sscc: "006141410000043996", ReasonCode: "PUTAWAY_SPLIT", Location: loc("RECV-STAGE-01", LocationType_LOCATION_TYPE_STAGING)}, nil},
		{wms, Record{Key: "load/006141410000045013", Version: "1"}, local("2025-03-14 15:30:00"),
			&HandlingUnitLoaded{Sscc: "006141410000045013", ShipmentId: "SHP25031407", EquipmentId: "531204",
				Door: loc("DOOR-07", LocationType_LOCATION_TYPE_DOCK)}, []EventOption{corr}},
		{wms, Record{Key: "receipt/ACME/ASN-5561", Version: "1"}, local("2025-03-13 10:00:00"),
			&ReceiptExpected{Receipt: &Receipt{OwnerId: "ACME", ReceiptNo: "ASN-5561", PoNumber: "PO-55102", AsnNo: "ASN-5561",
				Supplier: &Party{Id: "SUP-77", Name: "ACME FOODS INC", Gln: "0614141000012"}, Carrier: xmplCarrier(), ExpectedDate: "2025-03-14",
				Lines: []*ReceiptLine{{LineNo: "1", Item: item("AF-1002", "10614141001023", "L2502C", "2026-02-28"), Expected: Qty("24", "XCS")}}}}, nil},
		{wms, Record{Key: "receipt/ACME/ASN-5561", Version: "2"}, local("2025-03-14 06:40:00"),
			&ReceiptCompleted{CompletedAt: ts("2025-03-14 06:40:00"), Receipt: &Receipt{OwnerId: "ACME", ReceiptNo: "ASN-5561", AsnNo: "ASN-5561",
				Lines: []*ReceiptLine{{LineNo: "1", Item: item("AF-1002", "10614141001023", "L2502C", "2026-02-28"),
					Expected: Qty("24", "XCS"), Received: Qty("24", "XCS"), Damaged: Qty("0", "XCS"), Sscc: "006141410000043996"}}}}, nil},
		{wms, Record{Key: "tender/T-88231", Version: "1"}, local("2025-03-13 18:00:00"),
			&ShipmentTendered{Shipment: shipment(), TenderId: "T-88231", Rate: &Money{Amount: "1250.00", Currency: "USD"},
				RespondBy: ts("2025-03-14 08:00:00")}, []EventOption{corr}},
		{edi, Record{Key: "990/T-88231", Version: "1"}, local("2025-03-13 19:12:00"),
			&ShipmentTenderResponded{ShipmentId: "SHP25031407", TenderId: "T-88231", Carrier: xmplCarrier(), Response: TenderResponse_TENDER_RESPONSE_ACCEPTED}, nil},
		{e945, Record{Key: "ISA13=000004512;GS06=4512;ST02=0001", Ref: "ISA13=000004512;GS06=4512;ST02=0001"}, local("2025-03-14 15:42:00"),
			&ShipmentShipped{Shipment: shipment(), ShippedAt: ts("2025-03-14 15:42:00"), Lines: []*ShippedLine{
				{Order: acmeOrder(), LineNo: "1", Item: item("AF-1001", "10614141001016", "L2503A", ""), Ordered: Qty("20", "XCS"), Shipped: Qty("20", "XCS"),
					Status: OrderLineStatus_ORDER_LINE_STATUS_SHIPPED, Ssccs: []string{"006141410000045013"}},
				{Order: acmeOrder(), LineNo: "2", Item: item("AF-1002", "10614141001023", "L2502C", ""), Ordered: Qty("10", "XCS"), Shipped: Qty("8", "XCS"),
					Status: OrderLineStatus_ORDER_LINE_STATUS_SHORT_SHIPPED, Ssccs: []string{"006141410000045020"}},
				{Order: acmeOrder(), LineNo: "3", Item: item("AF-2050", "00614141020508", "", ""), Ordered: Qty("24", "EA"), Shipped: Qty("24", "EA"),
					Status: OrderLineStatus_ORDER_LINE_STATUS_SHIPPED, Ssccs: []string{"006141410000045020"}},
			}}, []EventOption{corr}},
		{edi, Record{Key: "ISA13=000007731;GS06=7731;ST02=0002", Ref: "ISA13=000007731;GS06=7731;ST02=0002"}, local("2025-03-14 15:48:00"),
			&ShipmentStatusChanged{ShipmentId: "SHP25031407", Milestone: Milestone_MILESTONE_DEPARTED_PICKUP,
				Status: ShipmentStatus_SHIPMENT_STATUS_IN_TRANSIT, StopSeq: 1, ReasonCode: "NS", SourceStatusCode: "AF",
				Location: &Address{City: "MEMPHIS", Region: "TN", Country: "US"}, Carrier: xmplCarrier(), EquipmentId: "531204",
				Bol: "06141410000123452", Pro: "7781204556"}, []EventOption{corr}},
		{edi, Record{Key: "ISA13=000007731;GS06=7731;ST02=0005", Ref: "ISA13=000007731;GS06=7731;ST02=0005"}, local("2025-03-15 08:25:00"),
			&DeliveryConfirmed{Delivery: &DeliveryConfirmation{ShipmentId: "SHP25031407", StopSeq: 2,
				DeliveredAt: timestamppb.New(time.Date(2025, 3, 15, 13, 25, 0, 0, time.UTC)), SignedBy: "M OKAFOR",
				OsdLines: []*OSDLine{{Sscc: "006141410000045020", Gtin: "10614141001023", Sku: "AF-1002",
					Expected: Qty("8", "XCS"), Received: Qty("8", "XCS"), Damaged: Qty("1", "XCS"), ReasonCode: "A9"}}}},
			[]EventOption{corr}},
		{Origin{SiteID: "MEM1", Source: "urn:dray:MEM1:edi:XMPL", SourceSystem: "edi.x12.210"},
			Record{Key: "ISA13=000007802;GS06=7802;ST02=0001"}, local("2025-03-17 10:00:00"),
			&FreightChargeInvoiced{InvoiceNo: "INV-531204", InvoiceDate: "2025-03-17", ShipmentId: "SHP25031407",
				Bol: "06141410000123452", Pro: "7781204556", Carrier: xmplCarrier(), Total: &Money{Amount: "1392.50", Currency: "USD"},
				Weight: Qty("1385", "LBR"), Lines: []*FreightChargeLine{
					{LineNo: "1", ChargeCode: ChargeCode_CHARGE_CODE_LINEHAUL, SourceChargeCode: "400", Amount: &Money{Amount: "1250.00", Currency: "USD"}},
					{LineNo: "2", ChargeCode: ChargeCode_CHARGE_CODE_FUEL_SURCHARGE, SourceChargeCode: "FUE", Amount: &Money{Amount: "187.50", Currency: "USD"}, Rate: "0.15"},
					{LineNo: "3", ChargeCode: ChargeCode_CHARGE_CODE_DISCOUNT, SourceChargeCode: "DSC", Amount: &Money{Amount: "-45.00", Currency: "USD"}},
				}}, nil},
		{wms, Record{Key: "tombstone/movement/884113", Version: "1"}, local("2025-03-14 14:33:47"),
			&EventRetracted{RetractedEventId: EventID("MEM1", "urn:dray:MEM1:wms-db", "movement/884113", "5515190"),
				Reason: "incorrect_data", RetractedSubject: "item/ACME/AF-2050"}, nil},
		{Origin{SiteID: "MEM1", Source: "urn:dray:MEM1:edi:XMPL", SourceSystem: "edi.x12.997"},
			Record{Key: "997/000007731"}, local("2025-03-15 03:31:05"),
			&IntegrationAcknowledged{Kind: AckKind_ACK_KIND_X12_997, Outbound: true, SenderId: "ACMEFOODS", ReceiverId: "XMPL",
				InterchangeControlNumber: "000007731", GroupControlNumber: "7731", FunctionalId: "QM", Status: AckStatus_ACK_STATUS_ACCEPTED,
				Transactions: []*TransactionAck{{SetId: "214", ControlNumber: "0001", Status: AckStatus_ACK_STATUS_ACCEPTED}}}, nil},
	}
}

// buildSamples makes the sample events; it panics on an invalid one.
func buildSamples() []*Event {
	var out []*Event
	for _, s := range samples() {
		e, err := NewEvent(s.origin, s.record, s.occurred, s.data, s.opts...)
		if err != nil {
			panic(err)
		}
		out = append(out, e)
	}
	return out
}

// Package ingest is the relay's MQTT v5 ingest endpoint: a small,
// purpose-built server for dray agents, not a general broker. It speaks
// MQTT v5 over QUIC (ALPN "mqtt", internal/mqttquic) and over TLS/TCP, with
// the same session code on both, and needs exactly: CONNECT with the
// certificate as identity, inbound QoS 1 PUBLISH of batches with pipelined,
// in-order PUBACKs released by a group commit, SUBSCRIBE to the site's own
// command topic, PING and DISCONNECT with reason codes.
//
// # Guarantees
//
// A PUBACK 0x00 means the batch is fsynced in the relay log
// (ARCHITECTURE.md, guarantee 2): it is only ever written for a Result of a
// Store.Append call that returned without error. Deduplication and ordering
// per (site, epoch, lane, stream) are the store's (guarantee 4); the
// endpoint hands it each connection's batches in arrival order and releases
// each connection's PUBACKs in the order its PUBLISHes arrived.
//
// # Structure
//
//   - listener.go: QUIC and TLS/TCP accept loops and the transport seam
//     (how each transport authenticates and closes).
//   - read.go: the fixed header, read before the body so that Maximum
//     Packet Size is enforced before anything is allocated.
//   - decode.go: a validating decoder from bytes to paho's packet types
//     (paho's Unpack validates nothing); paho's codec encodes what is sent.
//   - session.go: one connection: handshake, CONNECT, read loop, closing.
//     publish.go and subscribe.go handle those packets.
//   - writer.go: one writer goroutine per connection, the in-order PUBACK
//     queue and the outbox other goroutines hand packets to.
//   - committer.go: the group committer, one goroutine for all connections.
//   - ratelimit.go: a token bucket of events per site.
//   - reasons.go: reason codes and refusals.
//
// # Reason codes
//
// Every refusal is logged at warning level with audit=true, the site, remote
// address, transport, reason code and why; nothing of a refused PUBLISH is
// stored. Reason strings are sent to the client as well (on PUBACK and
// SUBACK only if it did not turn Request Problem Information off).
//
//	when                                              packet       code
//	MQTT 3.1.1 / 3.1 or another protocol in CONNECT   CONNACK      0x84 Unsupported Protocol Version
//	ClientID is not the certificate's site            CONNACK      0x85 Client Identifier not valid
//	CONNECT names an authentication method            CONNACK      0x8C Bad authentication method
//	will with retain / with QoS 2 / any other will    CONNACK      0x9A / 0x9B / 0x83 (wills are not supported)
//	malformed or oversize CONNECT                     CONNACK      0x81 / 0x82 / 0x95
//	relay shutting down during CONNECT                CONNACK      0x88 Server unavailable
//	first packet not CONNECT, no CONNECT in time,     (close)      -
//	  TLS or certificate failure
//	malformed packet (bad varint, truncated, QoS 3,   DISCONNECT   0x81 Malformed Packet
//	  packet id 0, wrong fixed flags, bad UTF-8,
//	  property id not valid for the packet, property
//	  lengths beyond the packet, trailing bytes)
//	second CONNECT, duplicated property, forbidden    DISCONNECT   0x82 Protocol Error
//	  value (Receive Maximum 0, ...), packet id in
//	  use, PUBACK/PUBREC/PUBREL/PUBCOMP/AUTH or a
//	  server-to-client packet, topic empty or with
//	  wildcards
//	packet larger than Maximum Packet Size            DISCONNECT   0x95 Packet too large
//	PUBLISH QoS 0 or 2                                DISCONNECT   0x9B QoS not supported
//	PUBLISH with retain                               DISCONNECT   0x9A Retain not supported
//	PUBLISH with a topic alias                        DISCONNECT   0x94 Topic Alias invalid
//	more unacknowledged PUBLISHes than Receive Max.   DISCONNECT   0x93 Receive Maximum exceeded
//	silent for 1.5 × keep alive                       DISCONNECT   0x8D Keep Alive timeout
//	same site connects again                          DISCONNECT   0x8E Session taken over (old session)
//	Server.Disconnect                                 DISCONNECT   caller's code
//	Run ends                                          DISCONNECT   0x8B Server shutting down
//	PUBLISH to another site's topic                   PUBACK       0x87 Not authorized
//	PUBLISH to any other topic                        PUBACK       0x90 Topic Name invalid
//	bad batch header or payload, UTF-8 payload        PUBACK       0x99 Payload format invalid
//	  format indicator, foreign content type, store
//	  rejects the content
//	store rejects an event naming another site        PUBACK       0x87 Not authorized
//	site rate limit exceeded; batch over the          PUBACK       0x97 Quota exceeded
//	  per-batch event or byte limit
//	store: gap in the stream                          PUBACK       0x83 + user property dray-expected
//	store: Append failed                              PUBACK       0x80 Unspecified error
//	store: Stored or Duplicate                        PUBACK       0x00
//	SUBSCRIBE to the own commands topic               SUBACK       0x01 (0x00 if QoS 0 was asked)
//	SUBSCRIBE to anything else                        SUBACK       0x87; 0x8F malformed filter,
//	                                                               0xA2 wildcard, 0x9E shared,
//	                                                               0xA1 subscription identifier
//	UNSUBSCRIBE                                       UNSUBACK     0x00, or 0x11 No subscription existed
//
// # Sessions
//
// The MQTT session is not a store: no state survives a connection,
// SessionPresent is always false and a non-zero Session Expiry Interval is
// answered with 0. User name and password are ignored (the certificate is
// the identity). A site that connects while it has a session takes it over.
package ingest

package ingest

import (
	"fmt"
	"unicode/utf8"
)

// MQTT v5 reason codes the endpoint sends. The spec uses one number space
// for CONNACK, PUBACK, SUBACK, UNSUBACK and DISCONNECT; which packet carries a
// code is decided by where the refusal happens (see refusal).
const (
	codeSuccess                 byte = 0x00 // PUBACK, UNSUBACK; SUBACK: granted QoS 0
	codeGrantedQoS1             byte = 0x01 // SUBACK
	codeNoSubscriptionExisted   byte = 0x11 // UNSUBACK
	codeUnspecifiedError        byte = 0x80
	codeMalformedPacket         byte = 0x81
	codeProtocolError           byte = 0x82
	codeImplementationSpecific  byte = 0x83
	codeUnsupportedProtocol     byte = 0x84 // CONNACK
	codeClientIDNotValid        byte = 0x85 // CONNACK
	codeNotAuthorized           byte = 0x87
	codeBanned                  byte = 0x8A // CONNACK
	codeServerUnavailable       byte = 0x88 // CONNACK
	codeBadAuthMethod           byte = 0x8C // CONNACK
	codeServerShuttingDown      byte = 0x8B // DISCONNECT
	codeKeepAliveTimeout        byte = 0x8D // DISCONNECT
	codeSessionTakenOver        byte = 0x8E // DISCONNECT
	codeTopicFilterInvalid      byte = 0x8F // SUBACK
	codeTopicNameInvalid        byte = 0x90
	codeReceiveMaximumExceeded  byte = 0x93 // DISCONNECT
	codeTopicAliasInvalid       byte = 0x94 // DISCONNECT
	codePacketTooLarge          byte = 0x95
	codeQuotaExceeded           byte = 0x97
	codeAdministrativeAction    byte = 0x98 // DISCONNECT
	codePayloadFormatInvalid    byte = 0x99
	codeRetainNotSupported      byte = 0x9A
	codeQoSNotSupported         byte = 0x9B
	codeSharedSubsNotSupported  byte = 0x9E // SUBACK
	codeSubIDsNotSupported      byte = 0xA1 // SUBACK
	codeWildcardSubsUnsupported byte = 0xA2 // SUBACK
	codeMaximumConnectTime      byte = 0xA0 // DISCONNECT
)

var reasonNames = map[byte]string{
	codeSuccess:                 "success",
	codeGrantedQoS1:             "granted QoS 1",
	codeNoSubscriptionExisted:   "no subscription existed",
	codeUnspecifiedError:        "unspecified error",
	codeMalformedPacket:         "malformed packet",
	codeProtocolError:           "protocol error",
	codeImplementationSpecific:  "implementation specific error",
	codeUnsupportedProtocol:     "unsupported protocol version",
	codeClientIDNotValid:        "client identifier not valid",
	codeNotAuthorized:           "not authorized",
	codeBanned:                  "banned",
	codeMaximumConnectTime:      "maximum connect time",
	codeServerUnavailable:       "server unavailable",
	codeBadAuthMethod:           "bad authentication method",
	codeServerShuttingDown:      "server shutting down",
	codeKeepAliveTimeout:        "keep alive timeout",
	codeSessionTakenOver:        "session taken over",
	codeTopicFilterInvalid:      "topic filter invalid",
	codeTopicNameInvalid:        "topic name invalid",
	codeReceiveMaximumExceeded:  "receive maximum exceeded",
	codeTopicAliasInvalid:       "topic alias invalid",
	codePacketTooLarge:          "packet too large",
	codeQuotaExceeded:           "quota exceeded",
	codeAdministrativeAction:    "administrative action",
	codePayloadFormatInvalid:    "payload format invalid",
	codeRetainNotSupported:      "retain not supported",
	codeQoSNotSupported:         "QoS not supported",
	codeSharedSubsNotSupported:  "shared subscriptions not supported",
	codeSubIDsNotSupported:      "subscription identifiers not supported",
	codeWildcardSubsUnsupported: "wildcard subscriptions not supported",
}

// Reason codes for Config.Authorize (AuthError) and Server.Disconnect.
const (
	ReasonNotAuthorized        = codeNotAuthorized        // 0x87
	ReasonBanned               = codeBanned               // 0x8A
	ReasonAdministrativeAction = codeAdministrativeAction // 0x98
	ReasonMaximumConnectTime   = codeMaximumConnectTime   // 0xA0
)

// AuthError is a refusal by Config.Authorize: CONNACK with Code (0x87 Not
// authorized or 0x8A Banned) and Reason as reason string.
type AuthError struct {
	Code   byte
	Reason string
}

func (e *AuthError) Error() string {
	return fmt.Sprintf("%s (0x%02X): %s", ReasonName(e.Code), e.Code, e.Reason)
}

// ReasonName is the MQTT v5 name of a reason code ("not authorized").
func ReasonName(code byte) string {
	if n, ok := reasonNames[code]; ok {
		return n
	}
	return fmt.Sprintf("reason 0x%02X", code)
}

// refusal is a violation that ends the session: before CONNACK it is answered
// with a CONNACK carrying code, after it with a DISCONNECT. why is a short
// human explanation that goes to the audit log and, as a reason string, to
// the client.
type refusal struct {
	code byte
	why  string
}

func (r *refusal) Error() string {
	return fmt.Sprintf("%s (0x%02X): %s", ReasonName(r.code), r.code, r.why)
}

func refuse(code byte, format string, args ...any) *refusal {
	return &refusal{code: code, why: clipReason(fmt.Sprintf(format, args...))}
}

// maxReason bounds a reason string: explanations quote client input (a
// topic, a client identifier) that may be 64 KiB long, and paho's encoder
// cuts strings at 65,535 bytes without regard for UTF-8.
const maxReason = 512

// clipReason shortens s to at most maxReason bytes, at a rune boundary.
func clipReason(s string) string {
	if len(s) <= maxReason {
		return s
	}
	cut := maxReason - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func malformed(format string, args ...any) *refusal {
	return refuse(codeMalformedPacket, format, args...)
}

func protocolError(format string, args ...any) *refusal {
	return refuse(codeProtocolError, format, args...)
}

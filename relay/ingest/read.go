package ingest

import (
	"bufio"
	"errors"
	"io"

	"github.com/eclipse/paho.golang/packets"
)

// rawPacket is one MQTT control packet as read off the wire: the fixed
// header's type and flags and the rest of the packet.
type rawPacket struct {
	typ, flags byte
	body       []byte
}

// size is the packet's total size on the wire, as Maximum Packet Size counts it.
func (p rawPacket) size() int { return 1 + vbiLen(len(p.body)) + len(p.body) }

// maxRemainingLength is the largest value a four-byte Variable Byte Integer holds.
const maxRemainingLength = 268_435_455

// firstChunk is the most readPacket allocates for a body before the bytes
// arrive; a larger body grows as it is read. A peer that declares 16 MiB and
// sends 8 bytes costs 64 KiB, not 16 MiB (packets.ReadPacket allocates the
// declared size at once).
const firstChunk = 64 << 10

// packetReader reads control packets and refuses a packet larger than max
// (the whole packet, as the spec's Maximum Packet Size counts it) from its
// fixed header alone, before reading or allocating its body.
type packetReader struct {
	r   *bufio.Reader
	max int
}

// errRead wraps a transport error (EOF, deadline, reset): the session ends
// without a DISCONNECT of its own, or with 0x8D on a keep-alive timeout.
type errRead struct{ err error }

func (e *errRead) Error() string { return "read: " + e.err.Error() }
func (e *errRead) Unwrap() error { return e.err }

// next reads one packet. Errors are *errRead for transport failures and
// *refusal for packets that violate the protocol or the size limit.
func (pr *packetReader) next() (rawPacket, error) {
	b0, err := pr.r.ReadByte()
	if err != nil {
		return rawPacket{}, &errRead{err}
	}
	p := rawPacket{typ: b0 >> 4, flags: b0 & 0x0F}
	if err := checkFixedFlags(p.typ, p.flags); err != nil {
		return rawPacket{}, err
	}
	n, k := 0, 0
	for shift := 0; ; shift += 7 {
		b, err := pr.r.ReadByte()
		if err != nil {
			return rawPacket{}, &errRead{truncated(err)}
		}
		k++
		n |= int(b&0x7F) << shift
		if b&0x80 == 0 {
			if k > 1 && b == 0 {
				return rawPacket{}, malformed("remaining length is not minimally encoded")
			}
			break
		}
		if k == 4 {
			return rawPacket{}, malformed("remaining length longer than four bytes")
		}
	}
	if total := 1 + k + n; total > pr.max {
		return rawPacket{}, refuse(codePacketTooLarge, "packet of %d bytes exceeds the maximum packet size %d", total, pr.max)
	}
	p.body, err = readBody(pr.r, n)
	if err != nil {
		return rawPacket{}, &errRead{truncated(err)}
	}
	return p, nil
}

// truncated turns an EOF inside a packet into ErrUnexpectedEOF.
func truncated(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// readBody reads n bytes, growing the buffer as bytes arrive rather than
// trusting n up front.
func readBody(r io.Reader, n int) ([]byte, error) {
	if n <= firstChunk {
		b := make([]byte, n)
		_, err := io.ReadFull(r, b)
		return b, err
	}
	b := make([]byte, 0, firstChunk)
	for len(b) < n {
		if len(b) == cap(b) {
			nb := make([]byte, len(b), min(2*cap(b), n))
			copy(nb, b)
			b = nb
		}
		m, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+m]
		if err != nil && len(b) < n {
			return nil, err
		}
	}
	return b, nil
}

// checkFixedFlags enforces the fixed header's flag bits (spec 2.1.3): every
// packet but PUBLISH has fixed flags; a PUBLISH may not have QoS 3. The
// reserved packet type 0 is malformed.
func checkFixedFlags(typ, flags byte) error {
	switch typ {
	case 0:
		return malformed("reserved packet type 0")
	case packets.PUBLISH:
		if flags&0x06 == 0x06 {
			return malformed("PUBLISH with QoS 3")
		}
		return nil
	case packets.PUBREL, packets.SUBSCRIBE, packets.UNSUBSCRIBE:
		if flags != 0x02 {
			return malformed("%s fixed header flags 0x%X, want 0x2", packetName(typ), flags)
		}
	default:
		if flags != 0 {
			return malformed("%s fixed header flags 0x%X, want 0", packetName(typ), flags)
		}
	}
	return nil
}

func vbiLen(n int) int {
	switch {
	case n < 128:
		return 1
	case n < 16_384:
		return 2
	case n < 2_097_152:
		return 3
	}
	return 4
}

var packetNames = [...]string{"RESERVED", "CONNECT", "CONNACK", "PUBLISH", "PUBACK", "PUBREC", "PUBREL",
	"PUBCOMP", "SUBSCRIBE", "SUBACK", "UNSUBSCRIBE", "UNSUBACK", "PINGREQ", "PINGRESP", "DISCONNECT", "AUTH"}

func packetName(typ byte) string { return packetNames[typ&0x0F] }

package siteca

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"

	"github.com/draylink/dray/canonical"
)

// TokenPrefix starts every enrollment token (its format version).
const TokenPrefix = "dray1."

// Token is an enrollment token, parsed.
type Token struct {
	Site string
	// CAFingerprint is the SHA-256 of the site CA certificate, base64url.
	CAFingerprint string
	// Secret is the random part, base64url.
	Secret string
}

// String is the token as the operator hands it to the agent.
func (t Token) String() string {
	return TokenPrefix + t.Site + "." + t.CAFingerprint + "." + t.Secret
}

// Hash is the hex SHA-256 of the whole token: all the registry keeps.
func (t Token) Hash() string { return HashToken(t.String()) }

// HashToken is the hex SHA-256 of a token string.
func HashToken(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// newToken makes a token for site pinning the CA fingerprint.
func newToken(site, fingerprint string) (Token, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return Token{}, err
	}
	return Token{Site: site, CAFingerprint: fingerprint, Secret: base64.RawURLEncoding.EncodeToString(b[:])}, nil
}

// ParseToken reads a token. Site ids may contain dots, so the fingerprint
// and the secret (base64url, without dots) are taken from the right.
func ParseToken(s string) (Token, error) {
	s = strings.TrimSpace(s)
	rest, ok := strings.CutPrefix(s, TokenPrefix)
	if !ok {
		return Token{}, errors.New("not a dray enrollment token (want dray1.<site>.<ca>.<secret>)")
	}
	i := strings.LastIndexByte(rest, '.')
	if i < 0 {
		return Token{}, errors.New("malformed enrollment token")
	}
	secret := rest[i+1:]
	rest = rest[:i]
	j := strings.LastIndexByte(rest, '.')
	if j < 0 {
		return Token{}, errors.New("malformed enrollment token")
	}
	t := Token{Site: rest[:j], CAFingerprint: rest[j+1:], Secret: secret}
	if !canonical.ValidSiteID(t.Site) {
		return Token{}, errors.New("malformed enrollment token: bad site id")
	}
	if b, err := base64.RawURLEncoding.DecodeString(t.CAFingerprint); err != nil || len(b) != sha256.Size {
		return Token{}, errors.New("malformed enrollment token: bad CA fingerprint")
	}
	if b, err := base64.RawURLEncoding.DecodeString(t.Secret); err != nil || len(b) != 32 {
		return Token{}, errors.New("malformed enrollment token: bad secret")
	}
	return t, nil
}

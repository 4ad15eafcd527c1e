// Package header checks HTTP header names and values before they go on an
// upgrade request, for the WebSocket sink and the query client alike:
// values net/http would refuse at every dial, or that would split the
// request, are refused when the client is built.
package header

// IsToken reports whether s is a token of RFC 7230, section 3.2.6, the
// grammar of header names: one or more letters, digits and !#$%&'*+-.^_`|~.
func IsToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '!' || c == '#' || c == '$' || c == '%' || c == '&' || c == '\'' || c == '*' ||
			c == '+' || c == '-' || c == '.' || c == '^' || c == '_' || c == '`' || c == '|' || c == '~':
		default:
			return false
		}
	}
	return true
}

// IsValue reports whether s can be a header value as net/http sends it: no
// control character but horizontal tab, so no CR or LF.
func IsValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

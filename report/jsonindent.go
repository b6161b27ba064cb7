package report

import "bytes"

// indentJSON appends src, JSON as json.Marshal writes it (no space
// outside strings), to dst indented byte for byte as
// json.Indent(dst, src, "", "  ") would (jsonindent_test.go holds the two
// to each other). encoding/json's indenter runs its whole scanner over
// every byte: 60% of writing a 10,000-entry campaign's summary.json.
func indentJSON(dst, src []byte) []byte {
	depth := 0
	opened := false // a { or [ was just written: a newline is owed, unless it closes at once
	for i := 0; i < len(src); {
		c := src[i]
		if opened {
			opened = false
			if c == '}' || c == ']' {
				depth--
				dst = append(dst, c)
				i++
				continue
			}
			dst = indentLine(dst, depth)
		}
		switch c {
		case '"':
			j := stringEnd(src, i)
			dst = append(dst, src[i:j]...)
			i = j
			continue
		case '{', '[':
			dst = append(dst, c)
			depth++
			opened = true
		case '}', ']':
			depth--
			dst = append(indentLine(dst, depth), c)
		case ',':
			dst = indentLine(append(dst, c), depth)
		case ':':
			dst = append(dst, ':', ' ')
		default: // a number, true, false or null
			j := i + 1
			for j < len(src) && !jsonStructural(src[j]) {
				j++
			}
			dst = append(dst, src[i:j]...)
			i = j
			continue
		}
		i++
	}
	return dst
}

// stringEnd is the index just past the string that starts at src[i], a
// quote.
func stringEnd(src []byte, i int) int {
	for k := i + 1; ; {
		q := bytes.IndexByte(src[k:], '"')
		if q < 0 {
			return len(src)
		}
		k += q
		// The quote closes the string unless an odd number of
		// backslashes escapes it.
		n := 0
		for n < k-i-1 && src[k-1-n] == '\\' {
			n++
		}
		k++
		if n%2 == 0 {
			return k
		}
	}
}

func indentLine(dst []byte, depth int) []byte {
	dst = append(dst, '\n')
	for range depth {
		dst = append(dst, ' ', ' ')
	}
	return dst
}

func jsonStructural(c byte) bool {
	switch c {
	case '"', ',', ':', '{', '}', '[', ']':
		return true
	}
	return false
}

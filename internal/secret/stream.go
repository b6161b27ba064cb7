package secret

// Stream masks output that arrives in chunks (a script's output as vpt
// reads it). Write, then Close at the end of the output, return the
// masked output piece by piece; the pieces joined are what Bytes returns
// for the whole output. Found is told the absolute offset and length of
// every match, so a copy of the output elsewhere (a file) can be masked in
// place.
//
// To find a secret that straddles two chunks, Write holds back a tail of
// the output that may be the beginning of a secret, at most the longest
// secret's length (its length minus one for a beginning, or a whole secret
// whose last byte is a word byte until the next byte shows whether a word
// goes on). Flush hands the held bytes over without waiting, for output
// that pauses (a prompt without a newline): a whole secret among them is
// masked as if the output ended there; a mere beginning is shown as it is,
// and when the rest of the secret follows, that rest is masked and Found
// still reports the whole match.
//
// A Stream is not safe for concurrent use. The slices it returns are valid
// until its next call (Write may return a part of p itself).
type Stream struct {
	m     *Masker
	found func(off int64, n int)
	buf   []byte // the output from offset base on, as written
	out   []byte // buf with the matches masked
	base  int64
	prev  int // the byte before buf[0]; -1 at the start of the output
	next  int // every position before buf[next] is decided
	sent  int // out[:sent] has been returned
}

// Stream returns a stream that masks m's secrets; found (may be nil) is
// called for each match, in order of offset.
func (m *Masker) Stream(found func(off int64, n int)) *Stream {
	if found == nil {
		found = func(int64, int) {}
	}
	return &Stream{m: m, found: found, prev: -1}
}

// Write takes the next chunk of output and returns what can be shown now,
// masked.
func (s *Stream) Write(p []byte) []byte {
	s.trim()
	if len(s.buf) == 0 {
		if b, ok := s.clear(p); ok {
			return b
		}
	}
	s.buf = append(s.buf, p...)
	s.out = append(s.out, p...)
	return s.emit(s.decide(false))
}

// clear is Write's common case: nothing held, and no secret in p. It
// returns the part of p that can be shown, without copying it.
func (s *Stream) clear(p []byte) ([]byte, bool) {
	start, n, wait := s.m.finder(p, s.prev, false).next(0)
	if n > 0 || start >= 0 {
		return nil, false
	}
	hold := len(p)
	if wait >= 0 {
		hold = wait
	}
	if hold > 0 {
		s.prev = int(p[hold-1])
	}
	s.base += int64(hold)
	s.buf = append(s.buf, p[hold:]...)
	s.out = append(s.out, p[hold:]...)
	return p[:hold], true
}

// Flush returns the held bytes without waiting for what follows them.
func (s *Stream) Flush() []byte {
	s.trim()
	if s.sent == len(s.buf) {
		return nil
	}
	held := append([]byte(nil), s.out[s.sent:]...)
	f := s.m.finder(s.buf, s.prev, true)
	for i := s.next; ; {
		start, n, _ := f.next(i)
		if n == 0 {
			break
		}
		for k := max(start, s.sent); k < start+n; k++ {
			held[k-s.sent] = Mask
		}
		i = start + n
	}
	s.sent = len(s.buf)
	return held
}

// Close ends the output and returns the rest of it, masked.
func (s *Stream) Close() []byte {
	s.trim()
	return s.emit(s.decide(true))
}

// Held is the number of bytes written but not yet returned.
func (s *Stream) Held() int { return len(s.buf) - s.sent }

// decide masks and reports every match it can decide, and returns the
// position from which the outcome depends on bytes not written yet.
func (s *Stream) decide(final bool) int {
	if s.m.Len() == 0 {
		s.next = len(s.buf)
		return s.next
	}
	f := s.m.finder(s.buf, s.prev, final)
	for {
		start, n, wait := f.next(s.next)
		switch {
		case n > 0:
			fill(s.out[start : start+n])
			s.found(s.base+int64(start), n)
			s.next = start + n
		case wait >= 0:
			s.next = wait
			return wait
		default:
			s.next = len(s.buf)
			return s.next
		}
	}
}

func (s *Stream) emit(upto int) []byte {
	if upto <= s.sent {
		return nil
	}
	b := s.out[s.sent:upto]
	s.sent = upto
	return b
}

// trim forgets what is both decided and returned; the slice the last call
// returned is overwritten from here on.
func (s *Stream) trim() {
	cut := min(s.next, s.sent)
	if cut == 0 {
		return
	}
	s.prev = int(s.buf[cut-1])
	n := copy(s.buf, s.buf[cut:])
	copy(s.out, s.out[cut:])
	s.buf, s.out = s.buf[:n], s.out[:n]
	s.base += int64(cut)
	s.next -= cut
	s.sent -= cut
}

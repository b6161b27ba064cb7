package agent

import (
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"strings"

	"github.com/vpt-dev/vpt/campaign"
)

// Routing: every selector has its River queue, and an agent works the
// queues its devices answer to, each with as many workers as it has such
// devices; so an idle device pulls the next entry meant for it and a fast
// host does more. A device answers to the queue of any device (auto), its
// model's, each of its tags', and its own (agent/device).
const (
	queueAuto   = "vpt-auto"
	queueReaper = "vpt-reaper"
)

// queueFor is the queue of a canonical selector. River's queue names are
// lowercase letters and digits separated by single '-' or '_', at most 64
// characters; a readable part comes first, and a hash of the selector makes
// names that read alike differ.
func queueFor(sel campaign.Selector) string {
	switch sel.Kind {
	case campaign.SelectModel:
		return hashedQueue("vpt-model-", sel.Value, sel.String())
	case campaign.SelectTag:
		return hashedQueue("vpt-tag-", sel.Value, sel.String())
	case campaign.SelectDevice:
		return hashedQueue("vpt-device-", sel.Agent+"-"+sel.Value, sel.String())
	}
	return queueAuto
}

var notNameChars = regexp.MustCompile(`[^a-z0-9]+`)

func hashedQueue(prefix, readable, key string) string {
	part := strings.Trim(notNameChars.ReplaceAllString(strings.ToLower(readable), "-"), "-")
	if len(part) > 40 {
		part = strings.TrimRight(part[:40], "-")
	}
	sum := sha256.Sum256([]byte(key))
	name := prefix
	if part != "" {
		name += part + "-"
	}
	return name + hex.EncodeToString(sum[:4])
}

var notWordChars = regexp.MustCompile(`\W`)

// executionTag is the campaign execution id as a River tag (word
// characters, at least 3).
func executionTag(id string) string {
	t := notWordChars.ReplaceAllString(id, "_")
	for len(t) < 3 {
		t += "_"
	}
	return t
}

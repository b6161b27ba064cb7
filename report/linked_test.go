package report

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
)

// A linked report names every file of the run folder through link, and is
// otherwise the report itself.
func TestRenderRunLinked(t *testing.T) {
	var plain, linked bytes.Buffer
	if err := RenderRun(&plain, fixture(), fixtureLog, true); err != nil {
		t.Fatal(err)
	}
	link := func(rel string) string { return "https://bucket.example/run/" + rel + "?sig=1" }
	if err := RenderRunLinked(&linked, fixture(), fixtureLog, true, link); err != nil {
		t.Fatal(err)
	}
	attrs := regexp.MustCompile(`(?:src|href|data-shot)="([^"]*)"`)
	n := 0
	for _, m := range attrs.FindAllStringSubmatch(linked.String(), -1) {
		if !strings.HasPrefix(m[1], "#") {
			n++
			if !strings.HasPrefix(m[1], "https://bucket.example/run/") {
				t.Errorf("a link left relative: %s", m[1])
			}
		}
	}
	if n < 15 {
		t.Fatalf("%d links", n)
	}
	for _, rel := range []string{`"path":"https://bucket.example/run/screenshots/001-initial.png?sig=1"`, `>video.mp4</a>`} {
		if !strings.Contains(linked.String(), rel) {
			t.Errorf("lacks %s", rel)
		}
	}
	back := regexp.MustCompile(`https://bucket\.example/run/([^?"]*)\?sig=1`).ReplaceAllString(linked.String(), "$1")
	if back != plain.String() {
		t.Fatal("the linked report differs from the report by more than its links")
	}
}

// A run of a campaign links its campaign's report in the results folder;
// a copy kept apart (uploaded) names the campaign without a link that
// would lead nowhere there.
func TestCampaignLinkOnlyInTheResultsFolder(t *testing.T) {
	r := fixture()
	r.Details.CampaignID, r.Details.Attempt = "campaign_exec_1_abcdef12", 2
	var plain, linked bytes.Buffer
	if err := RenderRun(&plain, r, fixtureLog, true); err != nil {
		t.Fatal(err)
	}
	if err := RenderRunLinked(&linked, r, fixtureLog, true, func(rel string) string { return "https://b.example/" + rel }); err != nil {
		t.Fatal(err)
	}
	want := `<a id="campaign-link" href="../../campaigns/campaign_exec_1_abcdef12/index.html">campaign_exec_1_abcdef12</a>`
	if !strings.Contains(plain.String(), want) {
		t.Fatal("the report does not link its campaign")
	}
	if strings.Contains(linked.String(), "campaign-link") || !strings.Contains(linked.String(), "campaign_exec_1_abcdef12 · attempt 2") {
		t.Fatal("the uploaded report links out of its folder, or does not name its campaign")
	}
}

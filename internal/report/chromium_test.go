package report

import (
	"context"
	"encoding/json"
	"html"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/abs-nas/abs/artifacts/store/file"
)

// probe is put first in the head of a copy of a page: it records script errors, failed resource
// loads and console.error calls, and once the page has loaded the images that did not decode, in a
// <pre id="abs-probe"> that --dump-dom prints.
const probe = `<script>
window.__abs = [];
addEventListener('error', e => { __abs.push('error: ' + (e.message || (e.target && (e.target.src || e.target.href)) || 'unknown')); }, true);
const ce = console.error; console.error = (...a) => { __abs.push('console.error: ' + a.join(' ')); ce(...a); };
addEventListener('load', () => {
  for (const i of document.images) if (!i.complete || i.naturalWidth === 0) __abs.push('broken image: ' + i.getAttribute('src'));
  const p = document.createElement('pre'); p.id = 'abs-probe'; p.textContent = JSON.stringify(__abs); document.body.appendChild(p);
});
</script>`

var probeOut = regexp.MustCompile(`<pre id="abs-probe">([^<]*)</pre>`)

// chromium returns the path of Debian's chromium. Without it the test skips loudly, or fails when
// the CI variable is set (.ci/run installs it through go tool task chromium).
func chromium(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("chromium missing and CI is set (go tool task chromium installs it): %v", err)
		}
		t.Skipf("SKIPPED: chromium missing (%v); go tool task chromium installs it", err)
	}
	return p
}

// problems loads a copy of the page at path with the probe in headless Chromium, from disk, and
// returns what the probe recorded.
func problems(t *testing.T, bin, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	page, ok := strings.CutPrefix(string(b), "<!DOCTYPE html>")
	i := strings.Index(page, "<head>")
	if !ok || i < 0 {
		t.Fatalf("%s: no <!DOCTYPE html> and <head> to put the probe in", path)
	}
	probed := filepath.Join(filepath.Dir(path), "probe-"+filepath.Base(path))
	if err := os.WriteFile(probed, []byte("<!DOCTYPE html>"+page[:i+6]+probe+page[i+6:]), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
		"--user-data-dir="+t.TempDir(), "--virtual-time-budget=10000", "--dump-dom", "file://"+probed)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium: %v\n%s", err, stderr.String())
	}
	m := probeOut.FindSubmatch(out)
	if m == nil {
		t.Fatalf("chromium printed no probe result for %s (the load event never came?):\n%s\n%s", path, out, stderr.String())
	}
	var got []string
	if err := json.Unmarshal([]byte(html.UnescapeString(string(m[1]))), &got); err != nil {
		t.Fatalf("probe result %q: %v", m[1], err)
	}
	return got
}

// TestChromium opens the tiny run's report from disk in headless Chromium and fails on an image
// that does not load or a console error. A page with a missing image and a console error checks
// first that the probe sees both.
func TestChromium(t *testing.T) {
	bin := chromium(t)
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.html")
	if err := os.WriteFile(bad, []byte(`<!DOCTYPE html><html><head></head><body><img src="missing.png"><script>console.error("boom")</script></body></html>`), 0o644); err != nil {
		t.Fatal(err)
	}
	got := strings.Join(problems(t, bin, bad), "\n")
	for _, want := range []string{"broken image: missing.png", "console.error: boom"} {
		if !strings.Contains(got, want) {
			t.Fatalf("probe of a broken page reported %q, want %q among them", got, want)
		}
	}
	out, err := file.New(filepath.Join(dir, "report"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Write(context.Background(), tinyRun(t, true), out, ""); err != nil {
		t.Fatal(err)
	}
	if p := problems(t, bin, filepath.Join(dir, "report", Page)); len(p) > 0 {
		t.Errorf("the report has problems in Chromium:\n%s", strings.Join(p, "\n"))
	}
}

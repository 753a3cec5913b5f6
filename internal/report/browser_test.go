package report

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestBrowser opens the fixture's report.html in headless Chromium through scripts/report-check.sh
// (no console error, no network request, every section and plot in the DOM) and leaves the
// screenshot in out/report-check/fixture/report.png. It skips when chromium, chromedriver or node
// is not installed: run scripts/report-check.sh by hand, which installs the Debian packages.
func TestBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("headless browser check: skipped in -short")
	}
	for _, tool := range []string{"chromium", "chromedriver", "node"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed, so the headless-browser check of report.html is skipped; "+
				"scripts/report-check.sh installs chromium and chromium-driver (apt-get) and runs it", tool)
		}
	}
	dir := fixtureRun(t)
	html := filepath.Join(t.TempDir(), "report.html")
	if _, err := runReport(t, dir, Outputs{HTML: html}); err != nil {
		t.Fatal(err)
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(root, "out", "report-check", "fixture")
	start := time.Now()
	cmd := exec.Command("bash", filepath.Join(root, "scripts", "report-check.sh"), html, out)
	b, err := cmd.CombinedOutput()
	t.Logf("scripts/report-check.sh (%.1fs):\n%s", time.Since(start).Seconds(), b)
	if err != nil {
		t.Fatalf("report check failed: %v", err)
	}
	if !strings.Contains(string(b), "report-check: ok") {
		t.Errorf("no ok line")
	}
	if st, err := os.Stat(filepath.Join(out, "report.png")); err != nil || st.Size() == 0 {
		t.Errorf("no screenshot: %v", err)
	}
}

package table

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mbd-dev/mbd/internal/schema"
	"github.com/mbd-dev/mbd/internal/table/tabletest"
)

// TestKilledWriterLeavesNoFile kills (SIGKILL) a process in the middle of writing a table and checks
// that nothing appears under the final name.
func TestKilledWriterLeavesNoFile(t *testing.T) {
	if dir := os.Getenv("MBD_KILLED_WRITER_DIR"); dir != "" {
		killedWriter(dir)
		return
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestKilledWriterLeavesNoFile$")
	cmd.Env = append(os.Environ(), "MBD_KILLED_WRITER_DIR="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	for sc.Scan() && !strings.Contains(sc.Text(), "row groups flushed") {
	}
	cmd.Process.Kill()
	cmd.Wait()

	if _, err := os.Stat(filepath.Join(dir, "g.parquet")); !os.IsNotExist(err) {
		t.Fatalf("final file exists after the writer was killed: %v", err)
	}
	tmps, _ := filepath.Glob(filepath.Join(dir, ".g.parquet.tmp-*"))
	if len(tmps) != 1 {
		t.Fatalf("want the killed writer's one temporary file, found %v", tmps)
	}
	if st, _ := os.Stat(tmps[0]); st.Size() == 0 {
		t.Fatal("the writer was killed before it wrote anything; the test proves nothing")
	}
}

func killedWriter(dir string) {
	w, err := Create[schema.Generation](filepath.Join(dir, "g.parquet"), nil)
	if err != nil {
		panic(err)
	}
	rows := tabletest.Rows[schema.Generation](MaxRowGroupRows, 1)
	for i := 0; ; i++ {
		if err := w.Write(rows...); err != nil {
			panic(err)
		}
		if i == 2 {
			os.Stdout.WriteString("row groups flushed\n")
		}
	}
}

package openaicompat

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeFineTuning speaks the OpenAI files and fine-tuning wire format: an upload, a job that goes
// queued → running → final over successive polls.
type fakeFineTuning struct {
	mu       sync.Mutex
	lines    []map[string]any
	jobBody  map[string]any
	polls    int
	final    string // succeeded or failed
	failures int    // 500s before the upload succeeds
}

func (f *fakeFineTuning) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	job := func(status string) string {
		model, errObj := "null", "null"
		if status == "succeeded" {
			model = `"ft:gpt-4o-mini:mbd::abc123"`
		}
		if status == "failed" {
			errObj = `{"code":"invalid_training_file","message":"too few examples","param":"training_file"}`
		}
		return fmt.Sprintf(`{"id":"ftjob-1","object":"fine_tuning.job","model":"gpt-4o-mini","status":%q,"fine_tuned_model":%s,"error":%s,"training_file":"file-1","created_at":1,"hyperparameters":{"n_epochs":2},"organization_id":"o","result_files":[],"seed":7}`, status, model, errObj)
	}
	switch {
	case r.Method == "POST" && r.URL.Path == "/v1/files":
		if f.failures > 0 {
			f.failures--
			w.WriteHeader(500)
			io.WriteString(w, `{"error":{"message":"try again"}}`)
			return
		}
		if err := r.ParseMultipartForm(1 << 20); err != nil || r.FormValue("purpose") != "fine-tune" {
			w.WriteHeader(400)
			fmt.Fprintf(w, `{"error":{"message":"bad upload: %v purpose=%q"}}`, err, r.FormValue("purpose"))
			return
		}
		file, _, err := r.FormFile("file")
		if err != nil {
			w.WriteHeader(400)
			return
		}
		sc := bufio.NewScanner(file)
		for sc.Scan() {
			var m map[string]any
			json.Unmarshal(sc.Bytes(), &m)
			f.lines = append(f.lines, m)
		}
		io.WriteString(w, `{"id":"file-1","object":"file","bytes":10,"created_at":1,"filename":"mbd-finetune.jsonl","purpose":"fine-tune","status":"processed"}`)
	case r.Method == "POST" && r.URL.Path == "/v1/fine_tuning/jobs":
		json.NewDecoder(r.Body).Decode(&f.jobBody)
		io.WriteString(w, job("validating_files"))
	case r.Method == "GET" && r.URL.Path == "/v1/fine_tuning/jobs/ftjob-1":
		f.polls++
		status := []string{"queued", "running", f.final}[min(f.polls-1, 2)]
		io.WriteString(w, job(status))
	default:
		w.WriteHeader(404)
		io.WriteString(w, `{"error":{"message":"not found"}}`)
	}
}

func TestFineTune(t *testing.T) {
	for _, final := range []string{"succeeded", "failed"} {
		t.Run(final, func(t *testing.T) {
			fake := &fakeFineTuning{final: final, failures: 1}
			srv := httptest.NewServer(fake)
			defer srv.Close()
			c, err := New(Config{BaseURL: srv.URL + "/v1", Model: "gpt-4o-mini", Chat: true, SystemPrompt: "You are helpful.", APIKeyEnv: "MBD_TEST_NO_KEY", MaxRetryDelay: 10 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			var statuses []string
			model, err := c.FineTune(context.Background(),
				[]FineTuneExample{{"Say hi", "Ahoy!"}, {"Name a fish", "A cod, matey."}},
				FineTuneOptions{Suffix: "mbd", Seed: 7, Epochs: 2, PollInterval: time.Millisecond},
				func(s string) { statuses = append(statuses, s) })
			if final == "failed" {
				if err == nil || !strings.Contains(err.Error(), "ftjob-1 failed: too few examples") {
					t.Fatalf("failed job: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if model != "ft:gpt-4o-mini:mbd::abc123" {
				t.Errorf("model %q", model)
			}
			if len(fake.lines) != 2 {
				t.Fatalf("uploaded %d lines", len(fake.lines))
			}
			msgs, _ := json.Marshal(fake.lines[0]["messages"])
			if string(msgs) != `[{"content":"You are helpful.","role":"system"},{"content":"Say hi","role":"user"},{"content":"Ahoy!","role":"assistant"}]` {
				t.Errorf("training line %s", msgs)
			}
			b, _ := json.Marshal(fake.jobBody)
			for _, want := range []string{`"model":"gpt-4o-mini"`, `"training_file":"file-1"`, `"suffix":"mbd"`, `"seed":7`, `"n_epochs":2`} {
				if !strings.Contains(string(b), want) {
					t.Errorf("job request %s lacks %s", b, want)
				}
			}
			if strings.Join(statuses, ",") != "job ftjob-1: validating_files,job ftjob-1: queued,job ftjob-1: running,job ftjob-1: succeeded" {
				t.Errorf("statuses %v", statuses)
			}
		})
	}
}

package step

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// Progress reports how far a long piece of work is: as "N/M" in the file named by
// $ARGO_PROGRESS_FILE (Argo's progress protocol) and as a bar on a terminal. The zero value is not
// usable; call NewProgress.
type Progress struct {
	label   string
	total   int
	done    int
	file    string    // $ARGO_PROGRESS_FILE or ""
	bar     io.Writer // the terminal, or nil
	last    time.Time
	minStep time.Duration
}

// NewProgress starts reporting total units of work labelled label.
func NewProgress(label string, total int) *Progress {
	p := &Progress{label: label, total: total, file: os.Getenv("ARGO_PROGRESS_FILE"), minStep: 200 * time.Millisecond}
	if isTerminal(os.Stderr) {
		p.bar = os.Stderr
	}
	p.report(true)
	return p
}

// Add records n more units done.
func (p *Progress) Add(n int) {
	p.done += n
	p.report(p.done >= p.total)
}

// Done records that all the work is done and ends the bar's line.
func (p *Progress) Done() {
	p.done = p.total
	p.report(true)
	if p.bar != nil {
		fmt.Fprintln(p.bar)
	}
}

func (p *Progress) report(force bool) {
	now := time.Now()
	if !force && now.Sub(p.last) < p.minStep {
		return
	}
	p.last = now
	if p.file != "" {
		// Argo reads the last line; rewriting the file keeps it one line long.
		_ = os.WriteFile(p.file, []byte(fmt.Sprintf("%d/%d\n", p.done, p.total)), 0o644)
	}
	if p.bar != nil {
		const width = 30
		filled := 0
		if p.total > 0 {
			filled = width * p.done / p.total
		}
		fmt.Fprintf(p.bar, "\r%s [%s%s] %d/%d", p.label, strings.Repeat("=", filled), strings.Repeat(" ", width-filled), p.done, p.total)
	}
}

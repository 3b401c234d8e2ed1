package pipeline

import (
	"fmt"
	"math"
	"strconv"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	"github.com/argoproj/argo-workflows/v3/util/expr/argoexpr"
	"github.com/argoproj/argo-workflows/v3/util/expr/env"
)

// The phases of a container attempt, as Argo names them: Failed when the container ran and exited
// non-zero, Error when it could not run or its outputs could not be collected (on a cluster: an
// evicted or deleted pod, a failed init or wait container).
const (
	phaseRunning     = "Running" // a run (Record.Phase) that has not ended
	phaseSucceeded   = "Succeeded"
	phaseFailed      = "Failed"
	phaseError       = "Error"
	phaseInterrupted = "Interrupted" // the executor was stopped (abs run got SIGINT or SIGTERM)
)

// attempt is the outcome of one run of a container.
type attempt struct {
	phase             string
	exitCode          string // as Argo reports it: the decimal exit status, "-1" when there is none
	message           string
	started, finished time.Time
}

// retry is a template's retryStrategy as Argo v3.7.18's controller applies it
// (workflow/controller/operator.go, processNodeRetries). The zero value never retries.
type retry struct {
	limit       int              // retries after the first attempt
	policy      wfv1.RetryPolicy // the actual policy (RetryStrategy.RetryPolicyActual); "" never retries
	expression  string           // must also be true for a retry; empty means true
	duration    time.Duration    // wait before the first retry; each later wait is duration·factor^retries
	factor      int64            // 0 keeps every wait at duration
	cap         time.Duration    // upper bound of one wait; 0 for none
	maxDuration time.Duration    // no retry starts later than this after the first attempt started; 0 for none
}

// retryOf reads t's retryStrategy. What Argo accepts and the local executor does not implement is an
// error: OnTransientError (its test matches cluster error messages) and a missing limit (Argo then
// retries without end).
func retryOf(t *wfv1.Template) (retry, error) {
	rs := t.RetryStrategy
	if rs == nil {
		return retry{}, nil
	}
	bad := func(format string, args ...any) (retry, error) {
		return retry{}, fmt.Errorf("template %q: retryStrategy.%s", t.Name, fmt.Sprintf(format, args...))
	}
	r := retry{policy: rs.RetryPolicyActual(), expression: rs.Expression}
	switch r.policy {
	case wfv1.RetryPolicyAlways, wfv1.RetryPolicyOnFailure, wfv1.RetryPolicyOnError:
	default:
		return bad("retryPolicy %q is not supported locally (use Always, OnFailure or OnError, with an expression to narrow it)", r.policy)
	}
	if rs.Limit == nil {
		return bad("limit is missing: Argo would retry without end; set one")
	}
	n, err := strconv.Atoi(rs.Limit.String())
	if err != nil || n < 0 {
		return bad("limit %q: want a non-negative integer", rs.Limit.String())
	}
	r.limit = n
	if b := rs.Backoff; b != nil {
		if b.Duration == "" {
			return bad("backoff.duration is missing (Argo requires it with a backoff)")
		}
		if r.duration, err = wfv1.ParseStringToDuration(b.Duration); err != nil {
			return bad("backoff.duration: %v", err)
		}
		if b.Factor != nil {
			// Argo reads the factor as an integer (intstr.Int32): "1.5" is an error there too.
			if r.factor, err = strconv.ParseInt(b.Factor.String(), 10, 32); err != nil {
				return bad("backoff.factor %q: want an integer", b.Factor.String())
			}
		}
		if b.Cap != "" {
			if r.cap, err = wfv1.ParseStringToDuration(b.Cap); err != nil {
				return bad("backoff.cap: %v", err)
			}
		}
		if b.MaxDuration != "" {
			if r.maxDuration, err = wfv1.ParseStringToDuration(b.MaxDuration); err != nil {
				return bad("backoff.maxDuration: %v", err)
			}
		}
	}
	return r, nil
}

// next decides whether the node whose attempts so far are tried (the last one failed) is tried
// again at time now, in Argo's order: the backoff's max duration, the policy, the limit, then the
// expression. It returns how long to wait first, or ok false and why the node fails.
func (r retry) next(tried []attempt, now time.Time) (wait time.Duration, ok bool, why string, err error) {
	if r.policy == "" {
		return 0, false, "no retryStrategy", nil
	}
	first, last := tried[0], tried[len(tried)-1]
	var deadline time.Time
	if r.maxDuration > 0 {
		deadline = first.started.Add(r.maxDuration)
		if now.After(deadline) {
			return 0, false, "Max duration limit exceeded", nil
		}
	}
	wait = r.duration
	if r.factor > 0 {
		f := math.Pow(float64(r.factor), float64(len(tried)-1))
		if f > float64(math.MaxInt64)/float64(max(r.duration, 1)) {
			wait = time.Duration(math.MaxInt64)
		} else {
			wait = r.duration * time.Duration(f)
		}
	}
	if r.cap > 0 && wait > r.cap {
		wait = r.cap
	}
	until := last.finished.Add(wait)
	if !deadline.IsZero() && until.After(deadline) {
		return 0, false, "Backoff would exceed max duration limit", nil
	}
	onFailed := r.policy == wfv1.RetryPolicyAlways || r.policy == wfv1.RetryPolicyOnFailure
	onError := r.policy == wfv1.RetryPolicyAlways || r.policy == wfv1.RetryPolicyOnError
	if last.phase == phaseFailed && !onFailed || last.phase == phaseError && !onError {
		return 0, false, fmt.Sprintf("retryPolicy %s does not retry a node that ended %s", r.policy, last.phase), nil
	}
	if len(tried) > r.limit {
		return 0, false, "No more retries left", nil
	}
	if r.expression != "" {
		ok, err := argoexpr.EvalBool(r.expression, env.GetFuncMap(retryScope(tried)))
		if err != nil {
			return 0, false, "", fmt.Errorf("retryStrategy.expression: %w", err)
		}
		if !ok {
			return 0, false, "retryStrategy.expression evaluated to false", nil
		}
	}
	return max(until.Sub(now), 0), true, "", nil
}

// retryScope holds the variables a retryStrategy expression sees (Argo's
// buildRetryStrategyLocalScope): retries, and lastRetry's exitCode, status, duration and message.
func retryScope(tried []attempt) map[string]any {
	last := tried[len(tried)-1]
	return map[string]any{
		"retries":            strconv.Itoa(len(tried) - 1),
		"lastRetry.exitCode": last.exitCode,
		"lastRetry.status":   last.phase,
		"lastRetry.duration": fmt.Sprint(last.finished.Sub(last.started).Seconds()),
		"lastRetry.message":  last.message,
	}
}

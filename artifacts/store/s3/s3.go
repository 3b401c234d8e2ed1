// Package s3 is the s3:// backend of store.Store, over any service that speaks the Amazon S3 API
// (MinIO, Ceph, AWS S3). It uses plain S3 requests only, with path-style addressing
// (http://endpoint/bucket/key), through github.com/minio/minio-go/v7.
//
// The URL s3://bucket/prefix names the objects of bucket whose names start with "prefix/"; the key
// "a/b" in that store is the object "prefix/a/b".
//
// # Configuration
//
// ConfigFromEnv reads the service's address and credentials from the environment:
//
//	ABS_S3_ENDPOINT        host:port of the S3 service, e.g. minio.abs.svc:9000 (required)
//	ABS_S3_REGION          region to sign requests for (default us-east-1)
//	ABS_S3_INSECURE=1      speak plain HTTP instead of HTTPS
//	AWS_ACCESS_KEY_ID      access key (required)
//	AWS_SECRET_ACCESS_KEY  secret key (required)
//	AWS_SESSION_TOKEN      session token of temporary credentials (optional)
//
// and the bounds of every request (Go durations such as 5s or 2m; Timeouts has the defaults):
//
//	ABS_S3_CONNECT_TIMEOUT  opening a TCP connection
//	ABS_S3_TLS_TIMEOUT      the TLS handshake
//	ABS_S3_HEADER_TIMEOUT   waiting for the response headers once the request is sent
//	ABS_S3_IDLE_TIMEOUT     keeping an idle connection open for reuse
//	ABS_S3_REQUEST_TIMEOUT  one whole request, its body and the response body included
//
// MinIO's MINIO_ROOT_USER and MINIO_ROOT_PASSWORD are deliberately not read: give the pipeline its
// own access key, mapped to the AWS_* names.
//
// # Failures
//
// Every request that fails with a transient error (Transient) is retried under Config.Retry with
// exponential backoff. Put sends an object of up to Config.PartSize bytes in one PUT request and a
// larger one as a multipart upload, one part of PartSize bytes in memory at a time, each part
// retried on its own; S3 makes the object visible only when the upload completes, so a failed Put
// leaves no partial object. A failed multipart upload is aborted; if the service is unreachable
// even for that, its parts stay stored (invisible) until a bucket lifecycle rule
// (AbortIncompleteMultipartUpload) removes them. A Get whose body breaks mid-stream returns the
// error to the reader; it is not resumed.
package s3

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/s3utils"

	"github.com/abs-nas/abs/artifacts/store"
)

const (
	// MinPartSize is the smallest part S3 accepts in a multipart upload (all but the last part).
	MinPartSize = 5 << 20
	// DefaultPartSize is the part size when Config.PartSize is zero.
	DefaultPartSize = 8 << 20
	// maxParts is the most parts S3 accepts in one multipart upload.
	maxParts = 10000
	// abortTimeout bounds the abort of a failed multipart upload, which runs even when the Put's
	// context is done.
	abortTimeout = 30 * time.Second
)

// Config says how to reach an S3 service. ConfigFromEnv fills it from the environment.
type Config struct {
	Endpoint     string // host:port
	Region       string // empty means us-east-1
	Insecure     bool   // plain HTTP instead of HTTPS
	AccessKey    string
	SecretKey    string
	SessionToken string // empty for long-lived credentials

	Timeouts Timeouts    // zero fields take DefaultTimeouts' values
	Retry    RetryPolicy // zero means DefaultRetry
	PartSize int64       // bytes per multipart part, at least MinPartSize; zero means DefaultPartSize

	// Transport carries the HTTP requests; nil means a clone of http.DefaultTransport. Tests set it
	// to inject faults.
	Transport http.RoundTripper
}

// Timeouts bound the requests to the S3 service, so that a service that accepts connections and
// never answers fails a request instead of hanging it. A zero field takes DefaultTimeouts' value.
type Timeouts struct {
	Connect time.Duration // opening a TCP connection
	TLS     time.Duration // the TLS handshake
	Header  time.Duration // the response headers, from the end of sending the request
	Idle    time.Duration // an idle connection kept for reuse
	Request time.Duration // one whole request, bodies included
}

// DefaultTimeouts fail a request to a silent service after 5 s (the response headers); with
// DefaultRetry's 6 tries and 6.2 s of sleeps between them a store call gives up after about 40 s.
// A whole request may take 5 minutes (a multipart part of 8 MiB at 30 kB/s).
var DefaultTimeouts = Timeouts{Connect: 5 * time.Second, TLS: 5 * time.Second, Header: 5 * time.Second,
	Idle: 90 * time.Second, Request: 5 * time.Minute}

func (t Timeouts) withDefaults() Timeouts {
	d := DefaultTimeouts
	for _, f := range []struct{ v, def *time.Duration }{{&t.Connect, &d.Connect}, {&t.TLS, &d.TLS}, {&t.Header, &d.Header}, {&t.Idle, &d.Idle}, {&t.Request, &d.Request}} {
		if *f.v <= 0 {
			*f.v = *f.def
		}
	}
	return t
}

// ConfigFromEnv reads the Config described in the package comment from the environment.
func ConfigFromEnv() (Config, error) {
	c := Config{
		Endpoint:     os.Getenv("ABS_S3_ENDPOINT"),
		Region:       os.Getenv("ABS_S3_REGION"),
		AccessKey:    os.Getenv("AWS_ACCESS_KEY_ID"),
		SecretKey:    os.Getenv("AWS_SECRET_ACCESS_KEY"),
		SessionToken: os.Getenv("AWS_SESSION_TOKEN"),
	}
	switch v := os.Getenv("ABS_S3_INSECURE"); v {
	case "", "0", "false":
	case "1", "true":
		c.Insecure = true
	default:
		return Config{}, fmt.Errorf("s3 config: ABS_S3_INSECURE=%q, want 1 or 0", v)
	}
	for _, v := range []struct {
		name string
		d    *time.Duration
	}{{"ABS_S3_CONNECT_TIMEOUT", &c.Timeouts.Connect}, {"ABS_S3_TLS_TIMEOUT", &c.Timeouts.TLS}, {"ABS_S3_HEADER_TIMEOUT", &c.Timeouts.Header},
		{"ABS_S3_IDLE_TIMEOUT", &c.Timeouts.Idle}, {"ABS_S3_REQUEST_TIMEOUT", &c.Timeouts.Request}} {
		s := os.Getenv(v.name)
		if s == "" {
			continue
		}
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			return Config{}, fmt.Errorf("s3 config: %s=%q, want a positive duration such as 5s or 2m", v.name, s)
		}
		*v.d = d
	}
	if c.Endpoint == "" {
		return Config{}, errors.New("s3 config: ABS_S3_ENDPOINT is not set (want host:port of the S3 service)")
	}
	if c.AccessKey == "" || c.SecretKey == "" {
		return Config{}, errors.New("s3 config: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must both be set")
	}
	return c, nil
}

// Store is a store.Store over the objects of one bucket under one prefix. Create it with New.
type Store struct {
	core     minio.Core
	bucket   string
	prefix   string // "" or ends with "/"
	retry    RetryPolicy
	partSize int64
}

var _ store.Store = (*Store)(nil)

// New returns the store of the objects in bucket under prefix (a slash-separated path, may be
// empty). It sends no request: a missing bucket shows up on first use.
func New(cfg Config, bucket, prefix string) (*Store, error) {
	if err := s3utils.CheckValidBucketNameStrict(bucket); err != nil {
		return nil, fmt.Errorf("s3 store: bucket %q: %w", bucket, err)
	}
	prefix = strings.TrimSuffix(prefix, "/")
	if prefix != "" {
		if err := store.CheckKey(prefix); err != nil {
			return nil, fmt.Errorf("s3 store: prefix: %w", err)
		}
		prefix += "/"
	}
	if cfg.Endpoint == "" {
		return nil, errors.New("s3 store: empty endpoint")
	}
	partSize := cfg.PartSize
	if partSize == 0 {
		partSize = DefaultPartSize
	}
	if partSize < MinPartSize {
		return nil, fmt.Errorf("s3 store: part size %d, want at least %d (the S3 minimum)", partSize, MinPartSize)
	}
	region := cfg.Region
	if region == "" {
		region = "us-east-1"
	}
	to := cfg.Timeouts.withDefaults()
	transport := cfg.Transport
	if transport == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.DialContext = (&net.Dialer{Timeout: to.Connect, KeepAlive: 30 * time.Second}).DialContext
		t.TLSHandshakeTimeout = to.TLS
		t.ResponseHeaderTimeout = to.Header
		t.IdleConnTimeout = to.Idle
		transport = t
	}
	transport = deadline{transport, to.Request}
	client, err := minio.New(cfg.Endpoint, &minio.Options{
		Creds:        credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, cfg.SessionToken),
		Secure:       !cfg.Insecure,
		Region:       region,
		BucketLookup: minio.BucketLookupPath,
		Transport:    transport,
		MaxRetries:   1, // our RetryPolicy is the only retry loop, so its bound holds
	})
	if err != nil {
		return nil, fmt.Errorf("s3 store: endpoint %q: %w", cfg.Endpoint, err)
	}
	return &Store{
		core:     minio.Core{Client: client},
		bucket:   bucket,
		prefix:   prefix,
		retry:    cfg.Retry,
		partSize: partSize,
	}, nil
}

// URL returns the s3:// URL of key, e.g. "s3://bucket/prefix/key".
func (s *Store) URL(key string) string {
	u := url.URL{Scheme: "s3", Host: s.bucket, Path: "/" + s.prefix + key}
	return u.String()
}

func (s *Store) object(key string) string { return s.prefix + key }

// notExist turns S3's "no such key" into an error matching fs.ErrNotExist.
func notExist(err error) error {
	var resp minio.ErrorResponse
	if errors.As(err, &resp) && (resp.Code == "NoSuchKey" ||
		(resp.StatusCode == http.StatusNotFound && resp.Code != "NoSuchBucket")) {
		return fmt.Errorf("%w (%v)", fs.ErrNotExist, err)
	}
	return err
}

// Put writes r to the object at key; see the package comment for how it fails.
func (s *Store) Put(ctx context.Context, key string, r io.Reader) error {
	if err := store.CheckKey(key); err != nil {
		return fmt.Errorf("put: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("put %s: %w", s.URL(key), err)
	}
	data, full, err := readPart(ctx, r, nil, int(s.partSize))
	if err != nil {
		return fmt.Errorf("put %s: read: %w", s.URL(key), err)
	}
	if !full {
		if err := s.putSingle(ctx, key, data); err != nil {
			return fmt.Errorf("put %s: %w", s.URL(key), err)
		}
		return nil
	}
	if err := s.putMultipart(ctx, key, r, data); err != nil {
		return fmt.Errorf("put %s: %w", s.URL(key), err)
	}
	return nil
}

// Create writes r to the object at key unless one exists, with a conditional PUT (If-None-Match: *,
// which S3 answers 412 Precondition Failed for an existing key). The object is sent in one request,
// so it must fit in a part. If a try's answer is lost and the retry finds the object, Create
// reports it as existing.
func (s *Store) Create(ctx context.Context, key string, r io.Reader) error {
	if err := store.CheckKey(key); err != nil {
		return fmt.Errorf("create: %w", err)
	}
	data, full, err := readPart(ctx, r, nil, int(s.partSize))
	if err != nil {
		return fmt.Errorf("create %s: read: %w", s.URL(key), err)
	}
	if full {
		return fmt.Errorf("create %s: object larger than %d bytes", s.URL(key), s.partSize)
	}
	opts := minio.PutObjectOptions{}
	opts.SetMatchETagExcept("*")
	sum := md5Base64(data)
	err = s.retry.do(ctx, func() error {
		_, err := s.core.PutObject(ctx, s.bucket, s.object(key), bytes.NewReader(data), int64(len(data)), sum, "", opts)
		return err
	})
	var resp minio.ErrorResponse
	if errors.As(err, &resp) && (resp.StatusCode == http.StatusPreconditionFailed || resp.Code == "PreconditionFailed") {
		return fmt.Errorf("create %s: %w (%v)", s.URL(key), fs.ErrExist, err)
	}
	if err != nil {
		return fmt.Errorf("create %s: %w", s.URL(key), err)
	}
	return nil
}

// readPart reads up to size bytes from r into buf, reusing its storage and growing it as data
// arrives (so a small object costs no full part of memory). full reports whether size bytes were
// read, so more may follow; a short read at EOF is not an error. It checks ctx between reads, so a
// canceled Put stops reading.
func readPart(ctx context.Context, r io.Reader, buf []byte, size int) (data []byte, full bool, err error) {
	buf = buf[:0]
	for len(buf) < size {
		if err := ctx.Err(); err != nil {
			return buf, false, err
		}
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, min(max(cap(buf), 64<<10), size-len(buf)))
		}
		m, err := r.Read(buf[len(buf):min(cap(buf), size)])
		buf = buf[:len(buf)+m]
		if err == io.EOF {
			return buf, false, nil
		}
		if err != nil {
			return buf, false, err
		}
	}
	return buf, true, nil
}

func md5Base64(b []byte) string {
	sum := md5.Sum(b)
	return base64.StdEncoding.EncodeToString(sum[:])
}

func (s *Store) putSingle(ctx context.Context, key string, data []byte) error {
	sum := md5Base64(data)
	return s.retry.do(ctx, func() error {
		_, err := s.core.PutObject(ctx, s.bucket, s.object(key), bytes.NewReader(data), int64(len(data)), sum, "", minio.PutObjectOptions{})
		return err
	})
}

// putMultipart uploads buf (full) and the rest of r as a multipart upload, aborting it on failure.
func (s *Store) putMultipart(ctx context.Context, key string, r io.Reader, buf []byte) (err error) {
	obj := s.object(key)
	var id string
	err = s.retry.do(ctx, func() error {
		var err error
		id, err = s.core.NewMultipartUpload(ctx, s.bucket, obj, minio.PutObjectOptions{})
		return err
	})
	if err != nil {
		return fmt.Errorf("start multipart upload: %w", err)
	}
	defer func() {
		if err == nil {
			return
		}
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), abortTimeout)
		defer cancel()
		aerr := s.retry.do(actx, func() error {
			return s.core.AbortMultipartUpload(actx, s.bucket, obj, id)
		})
		if aerr != nil {
			err = fmt.Errorf("%w (abort multipart upload %s: %v)", err, id, aerr)
		}
	}()
	var parts []minio.CompletePart
	data, more := buf, true
	for num := 1; ; num++ {
		if num > maxParts {
			return fmt.Errorf("object exceeds %d parts of %d bytes", maxParts, len(buf))
		}
		sum := md5Base64(data)
		var part minio.ObjectPart
		err := s.retry.do(ctx, func() error {
			var err error
			part, err = s.core.PutObjectPart(ctx, s.bucket, obj, id, num, bytes.NewReader(data), int64(len(data)),
				minio.PutObjectPartOptions{Md5Base64: sum})
			return err
		})
		if err != nil {
			return fmt.Errorf("upload part %d: %w", num, err)
		}
		parts = append(parts, minio.CompletePart{PartNumber: num, ETag: part.ETag})
		if !more {
			break
		}
		data, more, err = readPart(ctx, r, buf, len(buf))
		if err != nil {
			return fmt.Errorf("read: %w", err)
		}
		if len(data) == 0 {
			break
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	err = s.retry.do(ctx, func() error {
		_, err := s.core.CompleteMultipartUpload(ctx, s.bucket, obj, id, parts, minio.PutObjectOptions{})
		return err
	})
	if err != nil {
		return fmt.Errorf("complete multipart upload: %w", err)
	}
	return nil
}

// Get opens the object at key. Only the request that opens it is retried.
func (s *Store) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	if err := store.CheckKey(key); err != nil {
		return nil, fmt.Errorf("get: %w", err)
	}
	var rc io.ReadCloser
	err := s.retry.do(ctx, func() error {
		var err error
		rc, _, _, err = s.core.GetObject(ctx, s.bucket, s.object(key), minio.GetObjectOptions{})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", s.URL(key), notExist(err))
	}
	return rc, nil
}

// Stat describes the object at key.
func (s *Store) Stat(ctx context.Context, key string) (store.Info, error) {
	if err := store.CheckKey(key); err != nil {
		return store.Info{}, fmt.Errorf("stat: %w", err)
	}
	var oi minio.ObjectInfo
	err := s.retry.do(ctx, func() error {
		var err error
		oi, err = s.core.StatObject(ctx, s.bucket, s.object(key), minio.StatObjectOptions{})
		return err
	})
	if err != nil {
		return store.Info{}, fmt.Errorf("stat %s: %w", s.URL(key), notExist(err))
	}
	return store.Info{Key: key, Size: oi.Size, ModTime: oi.LastModified}, nil
}

// List returns the objects whose keys start with prefix, sorted by key. A listing that breaks on a
// transient error resumes after the last key it received.
func (s *Store) List(ctx context.Context, prefix string) ([]store.Info, error) {
	if err := store.CheckPrefix(prefix); err != nil {
		return nil, fmt.Errorf("list: %w", err)
	}
	var infos []store.Info
	after := ""
	err := s.retry.do(ctx, func() error {
		lctx, cancel := context.WithCancel(ctx)
		defer cancel() // stops minio-go's listing goroutine if we return early
		for oi := range s.core.Client.ListObjects(lctx, s.bucket, minio.ListObjectsOptions{
			Prefix:     s.object(prefix),
			Recursive:  true,
			StartAfter: after,
		}) {
			if oi.Err != nil {
				return oi.Err
			}
			key := strings.TrimPrefix(oi.Key, s.prefix)
			if strings.HasSuffix(key, "/") {
				continue // a "directory marker" some tools create; not an object of ours
			}
			infos = append(infos, store.Info{Key: key, Size: oi.Size, ModTime: oi.LastModified})
			after = oi.Key
		}
		return ctx.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", s.URL(prefix), err)
	}
	sort.Slice(infos, func(i, j int) bool { return infos[i].Key < infos[j].Key })
	return infos, nil
}

// Delete removes the object at key; a missing object is not an error.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := store.CheckKey(key); err != nil {
		return fmt.Errorf("delete: %w", err)
	}
	err := s.retry.do(ctx, func() error {
		return s.core.RemoveObject(ctx, s.bucket, s.object(key), minio.RemoveObjectOptions{})
	})
	if err != nil && !errors.Is(notExist(err), fs.ErrNotExist) {
		return fmt.Errorf("delete %s: %w", s.URL(key), err)
	}
	return nil
}

// deadline bounds each request it carries, the reading of the response body included, to d.
type deadline struct {
	rt http.RoundTripper
	d  time.Duration
}

func (t deadline) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithTimeout(req.Context(), t.d)
	resp, err := t.rt.RoundTrip(req.WithContext(ctx))
	if err != nil {
		cancel()
		return nil, err
	}
	resp.Body = cancelBody{resp.Body, cancel}
	return resp, nil
}

// cancelBody releases a request's deadline when its body is closed.
type cancelBody struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b cancelBody) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

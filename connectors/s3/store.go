package s3

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// metaSetStart is the object metadata key (x-amz-meta-sluice-set-start)
// holding the first offset of the set of objects the object belongs to:
// the objects of one Kafka partition that were opened and closed
// together. A task that starts resumes at the set start of the newest
// object.
const metaSetStart = "sluice-set-start"

// store is the S3 side of a task: uploads and the listing that recovers
// the position.
type store struct {
	cfg    *Config
	client *s3.Client
}

// backoff doubles the configured delay at each attempt, up to 100 times
// it, with jitter.
type backoff struct{ base time.Duration }

func (b backoff) BackoffDelay(attempt int, err error) (time.Duration, error) {
	d := b.base
	for i := 1; i < attempt && d < 100*b.base; i++ {
		d *= 2
	}
	d = min(d, 100*b.base)
	if d <= 0 {
		return 0, nil
	}
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1)), nil
}

func newStore(ctx context.Context, cfg *Config) (*store, error) {
	opts := []func(*awsconfig.LoadOptions) error{
		awsconfig.WithRegion(cfg.Region),
		awsconfig.WithRetryer(func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxAttempts = cfg.Retries + 1
				o.Backoff = backoff{base: cfg.RetryBackoff}
			})
		}),
	}
	if cfg.AccessKeyID != "" {
		opts = append(opts, awsconfig.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(cfg.AccessKeyID, cfg.SecretKey, "")))
	}
	ac, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("loading the AWS SDK configuration: %w", err)
	}
	client := s3.NewFromConfig(ac, func(o *s3.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
		o.UsePathStyle = cfg.PathStyle
		// S3-compatible servers do not all take the newer default
		// checksums; send them only where an operation requires them.
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
	})
	return &store{cfg: cfg, client: client}, nil
}

// explain turns an S3 failure into a message naming the bucket, the
// endpoint and the S3 error code.
func (s *store) explain(what string, err error) error {
	ep := s.cfg.Endpoint
	if ep == "" {
		ep = "AWS S3 in " + s.cfg.Region
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		hint := ""
		switch ae.ErrorCode() {
		case "NoSuchBucket", "NotFound":
			hint = "; create the bucket or fix s3.bucket.name"
		case "InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "Forbidden":
			hint = "; check aws.access.key.id and aws.secret.access.key (or the default credential chain) and the bucket's policy"
		case "PermanentRedirect", "AuthorizationHeaderMalformed":
			hint = "; s3.region does not match the bucket's region"
		}
		return fmt.Errorf("%s in bucket %q at %s: S3 error %s: %s%s", what, s.cfg.Bucket, ep, ae.ErrorCode(), ae.ErrorMessage(), hint)
	}
	return fmt.Errorf("%s in bucket %q at %s: %w", what, s.cfg.Bucket, ep, err)
}

// check verifies that the bucket exists and the credentials may use it.
func (s *store) check(ctx context.Context) error {
	_, err := s.client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(s.cfg.Bucket), MaxKeys: aws.Int32(1)})
	if err != nil {
		return s.explain("listing objects", err)
	}
	return nil
}

// retriable reports whether an S3 failure may pass: a server error, a
// throttle, a timeout or a broken connection, rather than a refusal.
func retriable(err error) bool {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "NoSuchBucket", "InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "InvalidBucketName", "PermanentRedirect", "AuthorizationHeaderMalformed":
			return false
		}
	}
	return true
}

// upload is an object being written: its key, the multipart upload once
// the object outgrew one part, and the parts sent so far.
type upload struct {
	key      string
	setStart int64
	id       *string
	parts    []types.CompletedPart
	// restSent: finish sent the last part (a retry of the completion
	// does not send it again).
	restSent bool
}

// sendPart uploads the bytes of buf as the next part of u (starting the
// multipart upload on the first call). Once it returns, nothing reads buf
// any more.
func (s *store) sendPart(ctx context.Context, u *upload, buf *chunkBuf) error {
	if u.id == nil {
		out, err := s.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
			Bucket: aws.String(s.cfg.Bucket), Key: aws.String(u.key),
			Metadata: map[string]string{metaSetStart: strconv.FormatInt(u.setStart, 10)},
		})
		if err != nil {
			return s.explain("starting the multipart upload of "+u.key, err)
		}
		u.id = out.UploadId
	}
	n := int32(len(u.parts) + 1)
	body := buf.reader()
	out, err := s.client.UploadPart(ctx, &s3.UploadPartInput{
		Bucket: aws.String(s.cfg.Bucket), Key: aws.String(u.key), UploadId: u.id,
		PartNumber: aws.Int32(n), Body: body, ContentLength: aws.Int64(int64(buf.Len())),
	})
	body.fence()
	if err != nil {
		return s.explain(fmt.Sprintf("uploading part %d of %s", n, u.key), err)
	}
	u.parts = append(u.parts, types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(n)})
	return nil
}

// finish makes the object visible: one PutObject when it never outgrew a
// part, else its last part (rest, sent once: a retry does not send it
// twice) and CompleteMultipartUpload. Once it returns, nothing reads rest
// any more.
func (s *store) finish(ctx context.Context, u *upload, rest *chunkBuf) error {
	if u.id == nil {
		body := rest.reader()
		_, err := s.client.PutObject(ctx, &s3.PutObjectInput{
			Bucket: aws.String(s.cfg.Bucket), Key: aws.String(u.key),
			Body: body, ContentLength: aws.Int64(int64(rest.Len())),
			Metadata: map[string]string{metaSetStart: strconv.FormatInt(u.setStart, 10)},
		})
		body.fence()
		if err != nil {
			return s.explain("uploading "+u.key, err)
		}
		return nil
	}
	if rest.Len() > 0 && !u.restSent {
		if err := s.sendPart(ctx, u, rest); err != nil {
			return err
		}
		u.restSent = true
	}
	_, err := s.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket: aws.String(s.cfg.Bucket), Key: aws.String(u.key), UploadId: u.id,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: u.parts},
	})
	if err != nil {
		return s.explain("completing the multipart upload of "+u.key, err)
	}
	return nil
}

// abort drops a multipart upload that will not be completed.
func (s *store) abort(ctx context.Context, u *upload) {
	if u.id == nil {
		return
	}
	_, _ = s.client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{
		Bucket: aws.String(s.cfg.Bucket), Key: aws.String(u.key), UploadId: u.id,
	})
	u.id = nil
}

// topicPrefix is the prefix of every object of topic.
func (s *store) topicPrefix(topic string) string {
	if s.cfg.TopicsDir == "" {
		return topic + "/"
	}
	return s.cfg.TopicsDir + "/" + topic + "/"
}

// objectKey is Confluent's object name.
func (s *store) objectKey(topic string, partition int32, encoded string, start int64, kind objectKind) string {
	return fmt.Sprintf("%s%s/%s+%d+%010d.%s%s", s.topicPrefix(topic), encoded, topic, partition, start, kind.infix(), s.cfg.extension())
}

// parseStart returns the start offset in an object name written for
// topic and partition, and whether the name is one.
func (s *store) parseStart(key, topic string, partition int32) (int64, bool) {
	base := key[strings.LastIndexByte(key, '/')+1:]
	prefix := topic + "+" + strconv.Itoa(int(partition)) + "+"
	suffix := "." + s.cfg.extension()
	if !strings.HasPrefix(base, prefix) || !strings.HasSuffix(base, suffix) {
		return 0, false
	}
	n, err := strconv.ParseInt(base[len(prefix):len(base)-len(suffix)], 10, 64)
	if err != nil || n < 0 {
		return 0, false
	}
	return n, true
}

// resumeOffset returns the offset from which the partition's records are
// not known to be in S3: the set start of its newest object, or -1 when it
// has none. Every record before it is in an object whose set was closed
// and completely uploaded before that set began; the set itself is
// written again (the same names and bytes) from its start.
func (s *store) resumeOffset(ctx context.Context, topic string, partition int32) (int64, error) {
	prefix := s.topicPrefix(topic)
	if s.cfg.Partitioner == PartitionerDefault {
		prefix += "partition=" + strconv.Itoa(int(partition)) + "/"
	}
	newest, newestKey := int64(-1), ""
	p := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{Bucket: aws.String(s.cfg.Bucket), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return 0, s.explain("listing "+prefix, err)
		}
		for _, o := range page.Contents {
			if n, ok := s.parseStart(aws.ToString(o.Key), topic, partition); ok && n > newest {
				newest, newestKey = n, aws.ToString(o.Key)
			}
		}
	}
	if newest < 0 {
		return -1, nil
	}
	head, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(s.cfg.Bucket), Key: aws.String(newestKey)})
	if err != nil {
		return 0, s.explain("reading the metadata of "+newestKey, err)
	}
	if v, ok := head.Metadata[metaSetStart]; ok {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil && n <= newest {
			return n, nil
		}
	}
	// Written by another tool (Confluent's sink): which set the object
	// belongs to is unknown, so nothing is skipped and the consumer's
	// committed offset alone says where to resume.
	return -1, nil
}

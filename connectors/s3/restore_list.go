package s3

import (
	"context"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// archived is one values object of the archive, as its name describes it.
type archived struct {
	key       string
	topic     string
	partition int32
	start     int64
	// path is the partition path, between <topics.dir>/<topic>/ and the
	// name (no slashes at either end; empty when the object lies directly
	// under the topic's directory).
	path string
	// ext is the extension after the start offset (json, json.gz, avro,
	// snappy.parquet, ...), without the kind (keys., headers., ...).
	ext string
	// side holds, by kind, the objects beside this values object that
	// hold its records' keys, headers and timestamps ("": none listed, or
	// not asked for).
	side [numKinds]string
}

// parseObjectName reads an object name written by the S3 sink,
// <topics.dir>/<topic>/<partition path>/<topic>+<kafka partition>+<start
// offset>.<extension>, for topic. kind is what the object holds: values,
// or keys (.keys.<extension>), headers or timestamps beside them. ok is
// false for any other name.
func parseObjectName(topicsDir, topic, key string) (o archived, kind objectKind, ok bool) {
	prefix := topic + "/"
	if topicsDir != "" {
		prefix = topicsDir + "/" + prefix
	}
	if !strings.HasPrefix(key, prefix) {
		return archived{}, kindValues, false
	}
	rest := key[len(prefix):]
	path, base := "", rest
	if i := strings.LastIndexByte(rest, '/'); i >= 0 {
		path, base = rest[:i], rest[i+1:]
	}
	name, ok := strings.CutPrefix(base, topic+"+")
	if !ok {
		return archived{}, kindValues, false
	}
	part, name, ok := strings.Cut(name, "+")
	if !ok {
		return archived{}, kindValues, false
	}
	p, err := strconv.ParseInt(part, 10, 32)
	if err != nil || p < 0 || part != strconv.FormatInt(p, 10) {
		return archived{}, kindValues, false
	}
	digits, ext, ok := strings.Cut(name, ".")
	if !ok || len(digits) < 10 || ext == "" {
		return archived{}, kindValues, false
	}
	start, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || start < 0 {
		return archived{}, kindValues, false
	}
	for k := kindKeys; k < numKinds; k++ {
		if rest, ok := strings.CutPrefix(ext, k.infix()); ok && rest != "" {
			ext, kind = rest, k
			break
		}
	}
	return archived{key: key, topic: topic, partition: int32(p), start: start, path: strings.Trim(path, "/"), ext: ext}, kind, true
}

// formatOf returns the format of an object's extension ("" for none the
// restore reads).
func formatOf(ext string) string {
	switch {
	case ext == "json" || ext == "json.gz":
		return FormatJSON
	case ext == "avro":
		return FormatAvro
	case ext == "parquet" || strings.HasSuffix(ext, ".parquet"):
		return FormatParquet
	}
	return ""
}

// pathMatches reports whether path starts with the segments of prefix.
func pathMatches(path string, prefix []string) bool {
	if len(prefix) == 0 {
		return true
	}
	segs := strings.Split(path, "/")
	if len(segs) < len(prefix) {
		return false
	}
	return slices.Equal(segs[:len(prefix)], prefix)
}

// archive is the values objects of the archive by topic partition, each
// partition's in restore order: by start offset, then by name (the
// objects of one set that the sink split over partition paths).
type archive map[topicPartition][]archived

// listArchive lists the objects of topic that cfg restores (its format,
// under its path prefix), pairing each values object with the objects
// beside it holding its keys (when cfg.S3.StoreKeys), headers (when
// cfg.S3.StoreHeaders) and timestamps (when cfg.KeepTimestamps). only,
// when not nil, keeps the partitions it holds.
func listArchive(ctx context.Context, st *store, cfg *RestoreConfig, topic string, only map[topicPartition]bool, out archive) error {
	prefix := st.topicPrefix(topic)
	// side[kind]: values object name without extension -> object of kind
	var side [numKinds]map[string]string
	for k := range side {
		side[k] = map[string]string{}
	}
	p := s3.NewListObjectsV2Paginator(st.client, &s3.ListObjectsV2Input{Bucket: aws.String(st.cfg.Bucket), Prefix: aws.String(prefix)})
	var found []archived
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return st.explain("listing "+prefix, err)
		}
		for _, obj := range page.Contents {
			o, kind, ok := parseObjectName(st.cfg.TopicsDir, topic, aws.ToString(obj.Key))
			if !ok || formatOf(o.ext) != st.cfg.Format || !pathMatches(o.path, cfg.PathPrefix) {
				continue
			}
			tp := topicPartition{topic: topic, partition: o.partition}
			if only != nil && !only[tp] {
				continue
			}
			if kind != kindValues {
				side[kind][strings.TrimSuffix(o.key, "."+kind.infix()+o.ext)] = o.key
				continue
			}
			found = append(found, o)
		}
	}
	for _, o := range found {
		for k := kindKeys; k < numKinds; k++ {
			if cfg.reads(k) {
				o.side[k] = side[k][strings.TrimSuffix(o.key, "."+o.ext)]
			}
		}
		tp := topicPartition{topic: topic, partition: o.partition}
		out[tp] = append(out[tp], o)
	}
	for tp, objs := range out {
		if tp.topic == topic {
			slices.SortFunc(objs, compareArchived)
		}
	}
	return nil
}

func compareArchived(a, b archived) int {
	if a.start != b.start {
		if a.start < b.start {
			return -1
		}
		return 1
	}
	return strings.Compare(a.key, b.key)
}

package runtime

import (
	"fmt"
	"testing"
	"time"
)

// TestSinkTopicsRegexMatchesWholeNames: topics.regex takes the topics
// whose whole name matches, as Kafka Connect's (Pattern.matches): "in"
// does not take "in_archive" or "join", which franz-go's own regex
// subscription (any part of the name) would.
func TestSinkTopicsRegexMatchesWholeNames(t *testing.T) {
	sinkMem.Lock()
	sinkMem.records = map[int64]int{}
	sinkMem.Unlock()
	w := startWorker(t, nil)
	for topic, base := range map[string]int{"in": 0, "in_archive": 100, "join": 200} {
		var values []string
		for i := range 10 {
			values = append(values, fmt.Sprintf(`{"seq":%d}`, base+i))
		}
		produceValues(t, w.bootstrap, topic, values)
	}
	w.do(t, "POST", "/connectors", map[string]any{"name": "mem", "config": map[string]string{
		"connector.class": "memsink", "topics.regex": "in", "value.converter": "JsonConverter", "key.converter": "ByteArrayConverter",
		"value.converter.schemas.enable": "false"}}, 201, nil)
	waitFor(t, "the sink to commit the records of in", func() bool { return sinkOffsets(t, w, "mem") >= 10 })
	// Long enough for records of other topics to arrive, were they taken.
	time.Sleep(2 * time.Second)
	if n := sinkOffsets(t, w, "mem"); n != 10 {
		t.Errorf("committed offsets add up to %d, want 10 (topic in only)", n)
	}
	sinkMem.Lock()
	defer sinkMem.Unlock()
	for seq, n := range sinkMem.records {
		if seq >= 10 || n != 1 {
			t.Errorf("seq %d seen %d times; want seq 0-9 (topic in) once each", seq, n)
		}
	}
	if len(sinkMem.records) != 10 {
		t.Errorf("%d records, want 10", len(sinkMem.records))
	}
}

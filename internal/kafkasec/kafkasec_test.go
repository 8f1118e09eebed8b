package kafkasec

import (
	"strings"
	"testing"
)

func TestParseJAAS(t *testing.T) {
	m, opts, err := parseJAAS(`org.apache.kafka.common.security.scram.ScramLoginModule required
		username="al ice" password="p\"a;ss" tokenauth=true;`)
	if err != nil {
		t.Fatal(err)
	}
	if m != "org.apache.kafka.common.security.scram.ScramLoginModule" || opts["username"] != "al ice" || opts["password"] != `p"a;ss` || opts["tokenauth"] != "true" {
		t.Fatalf("%s %v", m, opts)
	}
}


func TestJAASErrorsHideValues(t *testing.T) {
	for _, in := range []string{
		`org.apache.kafka.common.security.plain.PlainLoginModule required username="a" password="s3cr3t`,
		`org.apache.kafka.common.security.plain.PlainLoginModule required username="a" password="s3cr3t"`,
		`org.apache.kafka.common.security.plain.PlainLoginModule s3cr3t;`,
	} {
		_, _, err := parseJAAS(in)
		if err == nil {
			t.Errorf("parseJAAS(%q) accepted", in)
			continue
		}
		if strings.Contains(err.Error(), "s3cr3t") {
			t.Errorf("error shows the value: %v", err)
		}
	}
}

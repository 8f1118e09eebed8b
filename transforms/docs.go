package transforms

import (
	"fmt"
	"strings"
)

const docsIntro = `Single message transforms change records between a connector and Kafka: on their way from a
source connector, or from Kafka to a sink connector. Predicates choose the records a transform applies
to. Both are configured in a connector's config with Kafka Connect's properties:

    transforms=unwrap,route
    transforms.unwrap.type=io.debezium.transforms.ExtractNewRecordState
    transforms.unwrap.add.fields=op,source.ts_ms
    transforms.route.type=RegexRouter
    transforms.route.regex=dbserver1\.public\.(.*)
    transforms.route.replacement=$1
    transforms.route.predicate=isOrders
    transforms.route.negate=false
    predicates=isOrders
    predicates.isOrders.type=TopicNameMatches
    predicates.isOrders.pattern=.*orders

` + "`type`" + ` takes the class name Kafka Connect or Debezium uses, or the short name. Transforms run in the
order transforms lists them. Regular expressions use Go's RE2 syntax (no backreferences or
lookaround); replacements use $1 and ${name} as Java's do. Date formats are java.text.SimpleDateFormat
patterns, in UTC. Without a schema (schemas.enable=false), struct values are maps. Transforms that
change a schema build the new schema once per input schema and keep the last 16.

An option that is invalid fails the connector config with a 400 naming the property
(transforms.<name>.<option>); a record a transform cannot handle fails the task, or goes where
errors.tolerance sends it, with its topic, partition and offset.`

// Markdown returns the reference page of the plugins of reg, generated
// from their config definitions.
func Markdown(reg *Registry) string {
	var b strings.Builder
	b.WriteString("# Transforms and predicates\n\n" + docsIntro + "\n\n")
	b.WriteString("<!-- Generated from the config definitions by `go test ./transforms -run TestDocs -update`; do not edit. -->\n\n")
	for _, preds := range []bool{false, true} {
		if preds {
			b.WriteString("## Predicates\n\n")
		} else {
			b.WriteString("## Transforms\n\n")
		}
		for _, p := range reg.Plugins() {
			if (p.NewPredicate != nil) != preds {
				continue
			}
			fmt.Fprintf(&b, "### %s\n\n`%s`", p.Name, p.Class)
			for _, a := range p.Aliases {
				fmt.Fprintf(&b, ", `%s`", a)
			}
			b.WriteString("\n\n" + p.Doc + "\n\n")
			var md string
			if p.NewTransform != nil {
				md = p.NewTransform().Config().Markdown("x", "")
			} else {
				md = p.NewPredicate().Config().Markdown("x", "")
			}
			// Keep the property table only: drop the title and the
			// generated-by comment of Def.Markdown.
			if i := strings.Index(md, "| property"); i >= 0 {
				b.WriteString(md[i:])
				if !strings.HasSuffix(md, "\n\n") {
					b.WriteString("\n")
				}
			} else {
				b.WriteString("No options.\n\n")
			}
		}
	}
	return strings.TrimRight(b.String(), "\n") + "\n"
}

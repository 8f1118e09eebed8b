package mysql

import (
	"database/sql"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/connectors/cdc"
	"github.com/sluice-cdc/sluice/connectors/codec/avro"
)

// TestSchemaChangeShape builds a schema change record without a server
// and checks its key, its columns as information_schema rows describe
// them, and that the value goes through Avro and back unchanged.
func TestSchemaChangeShape(t *testing.T) {
	cfg, err := ParseConfig(map[string]string{Hostname: "h", User: "u", TopicPrefix: "srv", "connector.class": MariaDBClass})
	if err != nil {
		t.Fatal(err)
	}
	b := newBuilder(cfg)
	b.Now = func() time.Time { return time.UnixMilli(1700000000000) }
	sc := newSchemaChanges(cfg, b)
	desc := connectors.NewStructValue(changeTableSchema)
	desc.Values[0] = "utf8mb4"
	desc.Values[1] = []any{"id"}
	desc.Values[2] = []any{
		describeColumn("id", "bigint", "bigint(20) unsigned zerofill", false, 1, "", sql.NullString{}, "auto_increment", false),
		describeColumn("price", "decimal", "decimal(10,2)", true, 2, "", sql.NullString{String: "1.50", Valid: true}, "", false),
		describeColumn("name", "varchar", "varchar(40)", true, 3, "utf8mb4", sql.NullString{String: "'it''s'", Valid: true}, "", false),
		describeColumn("kind", "enum", "enum('a','b''c')", true, 4, "utf8mb4", sql.NullString{String: "NULL", Valid: true}, "", false),
		describeColumn("doc", "longtext", "longtext", true, 5, "utf8mb4", sql.NullString{}, "", true),
		describeColumn("twice", "int", "int(11)", true, 6, "", sql.NullString{}, "VIRTUAL GENERATED", false),
		describeColumn("at", "datetime", "datetime", true, 7, "", sql.NullString{String: "CURRENT_TIMESTAMP", Valid: true}, "DEFAULT_GENERATED", false),
	}
	p := &srcPosition{ts: cdc.TimeBoxes(time.UnixMilli(1699999999000)), serverID: int64(1), file: "binlog.000001", pos: int64(4), gtid: "0-1-1", thread: int64(7)}
	recs := sc.records([]string{"shop"}, map[string][]any{"shop": {tableChange(changeAlter, tableRef{"shop", "items"}, desc)}}, "ALTER TABLE items ...", p)
	if len(recs) != 1 || recs[0].Topic != "srv" || recs[0].SourceOffset != nil {
		t.Fatalf("records %+v", recs)
	}
	r := recs[0]
	if got := payload(t, r.KeySchema, r.Key); got != `{"databaseName":"shop"}` || r.KeySchema.Name != "io.debezium.connector.mariadb.SchemaChangeKey" {
		t.Errorf("key %s %s", r.KeySchema.Name, got)
	}
	got := payload(t, r.ValueSchema, r.Value)
	want := `{"source":{"version":"0.1.0","connector":"mariadb","name":"srv","ts_ms":1699999999000,"snapshot":"false","db":"shop","sequence":null,"ts_us":1699999999000000,"ts_ns":1699999999000000000,` +
		`"table":"items","server_id":1,"gtid":"0-1-1","file":"binlog.000001","pos":4,"row":0,"thread":7,"query":null},"ts_ms":1700000000000,` +
		`"databaseName":"shop","schemaName":null,"ddl":"ALTER TABLE items ...","tableChanges":[{"type":"ALTER","id":"\"shop\".\"items\"","table":{` +
		`"defaultCharsetName":"utf8mb4","primaryKeyColumnNames":["id"],"columns":[` +
		`{"name":"id","jdbcType":-5,"nativeType":null,"typeName":"BIGINT UNSIGNED","typeExpression":"BIGINT UNSIGNED","charsetName":null,"length":20,"scale":null,"position":1,"optional":false,"autoIncremented":true,"generated":false,"comment":null,"defaultValueExpression":null,"enumValues":null},` +
		`{"name":"price","jdbcType":3,"nativeType":null,"typeName":"DECIMAL","typeExpression":"DECIMAL","charsetName":null,"length":10,"scale":2,"position":2,"optional":true,"autoIncremented":false,"generated":false,"comment":null,"defaultValueExpression":"1.50","enumValues":null},` +
		`{"name":"name","jdbcType":12,"nativeType":null,"typeName":"VARCHAR","typeExpression":"VARCHAR","charsetName":"utf8mb4","length":40,"scale":null,"position":3,"optional":true,"autoIncremented":false,"generated":false,"comment":null,"defaultValueExpression":"it's","enumValues":null},` +
		`{"name":"kind","jdbcType":1,"nativeType":null,"typeName":"ENUM","typeExpression":"ENUM","charsetName":"utf8mb4","length":null,"scale":null,"position":4,"optional":true,"autoIncremented":false,"generated":false,"comment":null,"defaultValueExpression":null,"enumValues":["a","b'c"]},` +
		`{"name":"doc","jdbcType":1111,"nativeType":null,"typeName":"JSON","typeExpression":"JSON","charsetName":null,"length":null,"scale":null,"position":5,"optional":true,"autoIncremented":false,"generated":false,"comment":null,"defaultValueExpression":null,"enumValues":null},` +
		`{"name":"twice","jdbcType":4,"nativeType":null,"typeName":"INT","typeExpression":"INT","charsetName":null,"length":11,"scale":null,"position":6,"optional":true,"autoIncremented":false,"generated":true,"comment":null,"defaultValueExpression":null,"enumValues":null},` +
		`{"name":"at","jdbcType":93,"nativeType":null,"typeName":"DATETIME","typeExpression":"DATETIME","charsetName":null,"length":null,"scale":null,"position":7,"optional":true,"autoIncremented":false,"generated":false,"comment":null,"defaultValueExpression":"CURRENT_TIMESTAMP","enumValues":null}` +
		`],"comment":null}}]}`
	if got != want {
		t.Errorf("value\n%s\nwant\n%s", got, want)
	}
	as, err := avro.New(avro.DefaultOptions()).Schema(r.ValueSchema)
	if err != nil {
		t.Fatalf("Avro schema: %v", err)
	}
	data, err := as.Append(nil, r.Value)
	if err != nil {
		t.Fatalf("Avro encoding: %v", err)
	}
	back, err := as.Decode(data)
	if err != nil {
		t.Fatalf("Avro decoding: %v", err)
	}
	if again := payload(t, r.ValueSchema, back); again != got {
		t.Errorf("through Avro:\n%s\nwant\n%s", again, got)
	}
}

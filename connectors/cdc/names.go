package cdc

// Semantic schema names Debezium gives column values (the schema's name;
// the JDBC sink picks its column types by them). Kafka Connect's own
// logical names (Decimal, Date, Time, Timestamp) are in package connectors.
const (
	DateName                 = "io.debezium.time.Date"
	TimeName                 = "io.debezium.time.Time"
	MicroTimeName            = "io.debezium.time.MicroTime"
	NanoTimeName             = "io.debezium.time.NanoTime"
	TimestampName            = "io.debezium.time.Timestamp"
	MicroTimestampName       = "io.debezium.time.MicroTimestamp"
	NanoTimestampName        = "io.debezium.time.NanoTimestamp"
	IsoDateName              = "io.debezium.time.IsoDate"
	IsoTimeName              = "io.debezium.time.IsoTime"
	IsoTimestampName         = "io.debezium.time.IsoTimestamp"
	ZonedTimestampName       = "io.debezium.time.ZonedTimestamp"
	ZonedTimeName            = "io.debezium.time.ZonedTime"
	MicroDurationName        = "io.debezium.time.MicroDuration"
	IntervalName             = "io.debezium.time.Interval"
	YearName                 = "io.debezium.time.Year"
	VariableScaleDecimalName = "io.debezium.data.VariableScaleDecimal"
	JSONName                 = "io.debezium.data.Json"
	XMLName                  = "io.debezium.data.Xml"
	UUIDName                 = "io.debezium.data.Uuid"
	EnumName                 = "io.debezium.data.Enum"
	EnumSetName              = "io.debezium.data.EnumSet"
	BitsName                 = "io.debezium.data.Bits"
	LtreeName                = "io.debezium.data.Ltree"
	TsVectorName             = "io.debezium.data.Tsvector"

	// GeometryPrefix starts the name of every geometry schema.
	GeometryPrefix = "io.debezium.data.geometry."
	PointName      = GeometryPrefix + "Point"
	GeometryName   = GeometryPrefix + "Geometry"
	CircleName     = GeometryPrefix + "Circle"
	LineName       = GeometryPrefix + "Line"

	// Structured* are the structs of components time.precision.mode
	// structured gives.
	StructuredDateName           = "io.debezium.time.StructuredDate"
	StructuredTimeName           = "io.debezium.time.StructuredTime"
	StructuredTimestampName      = "io.debezium.time.StructuredTimestamp"
	StructuredZonedTimeName      = "io.debezium.time.StructuredZonedTime"
	StructuredZonedTimestampName = "io.debezium.time.StructuredZonedTimestamp"
	StructuredDurationName       = "io.debezium.time.StructuredDuration"

	// DecimalPrecisionParam is the schema parameter Debezium adds to
	// Decimal schemas with the column's precision.
	DecimalPrecisionParam = "connect.decimal.precision"
	// EnumAllowedParam is the parameter of Enum and EnumSet schemas that
	// lists the allowed values, comma-separated.
	EnumAllowedParam = "allowed"

	// Parameters a source adds to a column's schema with
	// column.propagate.source.type: the database's type name, length
	// and scale.
	SourceColumnTypeParam   = "__debezium.source.column.type"
	SourceColumnLengthParam = "__debezium.source.column.length"
	SourceColumnScaleParam  = "__debezium.source.column.scale"

	// UnavailableValuePlaceholder is Debezium's
	// unavailable.value.placeholder default: the value a source gives a
	// column whose value the log does not carry (PostgreSQL's unchanged
	// TOASTed values), which the JDBC sink leaves out of an update.
	UnavailableValuePlaceholder = "__debezium_unavailable_value"
)

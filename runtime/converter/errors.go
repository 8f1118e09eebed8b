package converter

import "github.com/sluice-cdc/sluice/connectors/codec"

// DataError says which field of a value does not fit its schema; it is
// codec.DataError, shared by every codec.
type DataError = codec.DataError

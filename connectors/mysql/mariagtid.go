package mysql

import (
	"encoding/binary"
	"fmt"

	"github.com/go-mysql-org/go-mysql/replication"
)

// mariaGTID returns the GTID of a MariaDB GTID event from its raw bytes
// and header, not from the decoded MariadbGTIDEvent.GTID: go-mysql's
// syncer goroutine keeps a pointer to that struct in its own GTID set
// when its domain-server pair is new to the set, and moves it forward in
// place at the pair's next GTID event — while the event waits in the
// syncer's cache or is being read here. Read from the struct, the first
// transaction of a new server or domain could take a later transaction's
// GTID, and a resume from that offset would skip the transactions in
// between. RawData is the event's own copy of the packet.
func mariaGTID(ev *replication.BinlogEvent) (string, error) {
	const body = replication.EventHeaderSize
	if len(ev.RawData) < body+12 {
		return "", fmt.Errorf("MariaDB GTID event of %d bytes at %d: too short", len(ev.RawData), ev.Header.LogPos)
	}
	seq := binary.LittleEndian.Uint64(ev.RawData[body:])
	domain := binary.LittleEndian.Uint32(ev.RawData[body+8:])
	return fmt.Sprintf("%d-%d-%d", domain, ev.Header.ServerID, seq), nil
}

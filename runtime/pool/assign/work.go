package assign

import (
	"cmp"

	"github.com/sluice-cdc/sluice/runtime/api"
)

// connectorTask is the task index that stands for the Connector object, as
// in the Connect protocol.
const connectorTask = -1

// work is one unit of assignment: a connector (task == connectorTask) or
// one of its tasks.
type work struct {
	conn string
	task int
}

func (w work) isTask() bool { return w.task != connectorTask }

func compareTask(a, b api.TaskID) int {
	return cmp.Or(cmp.Compare(a.Connector, b.Connector), cmp.Compare(a.Task, b.Task))
}
